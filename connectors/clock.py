"""The remote systems' clocks, as their answers tell them.

Every HTTP answer carries a ``Date`` header (RFC 9110: the origin's clock, whole seconds). The
read windows end at the server's time, never this host's: a host running minutes behind would
otherwise miss the last edits, and one running ahead would move the cursor past edits that
then fall outside the look-back for good. ``ServerClock`` keeps the offset seen in the latest
answer: ``skew`` = server time - host time, in seconds. The header's whole seconds are cut, not
rounded, so the estimate is at most one second behind the server: the safe side for a cursor.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from email.utils import parsedate_to_datetime


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ServerClock:
    def __init__(self, host_clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._host_clock = host_clock
        self._skew: float | None = None
        self._lock = threading.Lock()

    def observe(self, date_header: str | None) -> None:
        """Note the server's time from an answer's ``Date`` header (ignored when absent or malformed)."""
        if not date_header:
            return
        try:
            server = parsedate_to_datetime(str(date_header))
        except (TypeError, ValueError, IndexError):
            return
        if server.tzinfo is None:
            server = server.replace(tzinfo=dt.timezone.utc)
        with self._lock:
            self._skew = (server - self._host_clock()).total_seconds()

    @property
    def skew(self) -> float | None:
        """Server time minus host time, in seconds, from the latest answer; None before any."""
        with self._lock:
            return self._skew
