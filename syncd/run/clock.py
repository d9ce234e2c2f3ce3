"""Read windows in the source system's time, never this host's.

The window opens at the source's "now": this host's clock plus the skew the source's answers
showed (``Date`` headers; the last run's skew, kept in state, until this run's first answer).
The sources read with no upper bound (``lastmodifieddate >= start``), so a host behind the source
misses nothing; and the cursor moves to the source's time when the window opened, computed from
the skew measured during this run, so a host ahead of the source never moves it past edits the
next window must read. A skew over ``SKEW_WARNING_SECONDS`` is logged (``clock.skew``) and kept in
state, where ``syncd status`` shows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import structlog

from syncd.core.window import Window, advance, read_window

log = structlog.get_logger("syncd.run")

SKEW_WARNING_SECONDS = 30.0


def whole_seconds(window: Window) -> Window:
    """SOQL datetime literals carry whole seconds (format_soql drops the fraction): query and
    advance the cursor to exactly what was asked, so nothing falls into the dropped fraction."""
    return Window(window.start, window.end.replace(microsecond=0))


def skew_cursor(system: str) -> str:
    """The state row holding a source's last measured skew."""
    return f"clock.{system}.skew_seconds"


def parse_skew(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class SourceTime:
    """One run's window, opened and closed in the source's time."""

    def __init__(self, system: str, measured: Callable[[], float | None], stored: str | None,
                 host_now: dt.datetime) -> None:
        self.system = system
        self.measured = measured                 # the skew the source's latest answer showed
        self.assumed = measured()                # known before this run: from an earlier cycle
        if self.assumed is None:
            self.assumed = parse_skew(stored)    # or from the last run, kept in state
        self.host_open = host_now

    def window(self, cursor: str | None, lookback: dt.timedelta) -> Window:
        return read_window(cursor, self.host_open + dt.timedelta(seconds=self.assumed or 0.0), lookback)

    def cursor(self, cursor: str | None, window: Window, close: Callable[[Window], Window]) -> str:
        """Where the cursor goes once the window is confirmed: the source's time at opening, as this
        run's answers measured it (never backwards)."""
        skew = self.measured()
        if skew is None:
            return advance(cursor, window)
        opened = close(Window(window.start, self.host_open + dt.timedelta(seconds=skew)))
        return advance(cursor, opened)

    def kept(self) -> dict[str, str]:
        """The skew to keep in state for the next run, and a warning when it is large."""
        skew = self.measured()
        if skew is None:
            return {}
        if abs(skew) > SKEW_WARNING_SECONDS:
            log.warning("clock.skew", system=self.system, skew_seconds=round(skew, 1),
                        action="read windows follow the server's clock; set this host's time right (NTP)")
        return {skew_cursor(self.system): f"{skew:.1f}"}
