"""The incremental read window, as pure functions.

Semantics (tested in tests/test_cursor.py and tests/test_server_clock.py):
- The sources read ``modified >= start`` with no upper bound: reading with ">=" re-reads the
  boundary instead of dropping records that share the cursor's timestamp; re-reads are free
  because an unchanged payload is never written again.
- start = cursor - lookback: HubSpot search shows a change only some moments after it happens,
  so each run looks back over the previous window's tail. None on the first run: read everything.
- end = the source's time when the run opened the window (``syncd.run.clock``: this host's clock
  plus the skew the source's ``Date`` headers show), never the host's own: what changes while the
  run reads is read again by the next run, whose window starts before it.
- The cursor becomes ``end`` only after every write the window produced was confirmed, and it
  never moves backwards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CONTACTS_CURSOR = "hubspot.contacts.lastmodifieddate"


@dataclass(frozen=True)
class Window:
    start: dt.datetime | None
    end: dt.datetime


def parse_cursor(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def format_cursor(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def read_window(cursor: str | None, now: dt.datetime, lookback: dt.timedelta) -> Window:
    previous = parse_cursor(cursor)
    start = None if previous is None else previous - lookback
    end = now if previous is None else max(now, previous)   # never behind the stored cursor
    return Window(start, end)


def advance(cursor: str | None, window: Window) -> str:
    """The cursor after a fully confirmed window; never moves backwards."""
    previous = parse_cursor(cursor)
    return format_cursor(window.end if previous is None else max(previous, window.end))


def to_epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)
