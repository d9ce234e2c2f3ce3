"""Time in the HubSpot emulator: epoch milliseconds, and HubSpot's ``2024-01-31T10:00:00.000Z`` text."""

from __future__ import annotations

import datetime as dt
import re

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_MS_RE = re.compile(r"^-?\d+$")

def iso_ms(ms: int) -> str:
    """Epoch milliseconds → ``2024-01-31T10:00:00.000Z``."""
    d = EPOCH + dt.timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def to_ms(when: dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_time_ms(raw: str) -> int | None:
    """Epoch milliseconds or ISO 8601 (date, or date-time with ``Z``/offset) → epoch ms."""
    s = raw.strip()
    if not s:
        return None
    if _EPOCH_MS_RE.match(s):
        return int(s)
    try:
        if len(s) == 10:
            d = dt.datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        else:
            d = dt.datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
            if d.tzinfo is None:
                d = d.replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    return to_ms(d)


