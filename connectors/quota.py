"""The daily API allocation, and the share of it syncd leaves to the org's other integrations.

Salesforce reports its rolling 24-hour allocation on every REST answer (``Sforce-Limit-Info:
api-usage=used/total``); HubSpot its daily one on answers other than search
(``X-HubSpot-RateLimit-Daily`` and ``-Daily-Remaining``). Each client feeds what it sees to its
``QuotaReserve``; once what is left falls to the reserve (default 20 % of the allocation), every
further call is refused before it is sent with ``QuotaExhausted`` (code ``QUOTA_RESERVE``) naming
the figures. The run ends there (exit 5), what was committed stays, and a later cycle resumes
once the window has freed calls. The calls already in flight (a few) may still land in the reserve.
"""

from __future__ import annotations

import math
import threading

from syncd.core.errors import QuotaExhausted

RESERVE_CODE = "QUOTA_RESERVE"


class QuotaReserve:
    def __init__(self, system: str, percent: float, setting: str) -> None:
        self.system = system
        self.percent = percent
        self.setting = setting            # the config key, named in the error
        self.used: int | None = None
        self.total: int | None = None
        self._lock = threading.Lock()

    def observe(self, used: int, total: int) -> None:
        with self._lock:
            self.used, self.total = used, total

    @property
    def reserve(self) -> int | None:
        return None if self.total is None else math.ceil(self.total * self.percent / 100)

    @property
    def left(self) -> int | None:
        """Calls syncd may still make before the reserve; None until an answer said."""
        with self._lock:
            if self.used is None or self.total is None:
                return None
            return max(0, self.total - self.used - math.ceil(self.total * self.percent / 100))

    def check(self, what: str) -> None:
        """Raise QuotaExhausted instead of sending a call that would eat into the reserve."""
        left = self.left
        if left is None or left > 0 or not self.percent:
            return       # with no reserve, the remote system itself says when the allocation is spent
        raise QuotaExhausted(self.system, f"{what}: {self.used:,} of {self.total:,} daily API calls are used; "
                                          f"the last {self.reserve:,} ({self.percent:g} %) are kept for the other "
                                          f"integrations ({self.setting}). The run stops here; a later cycle "
                                          "resumes once the daily window frees calls", code=RESERVE_CODE)


class DailyRemaining:
    """The daily calls left, from answers that may arrive out of order.

    Overlapping calls are answered in any order, so the last answer to arrive is not always the
    freshest figure. The figure comes from the latest call *sent* whose answer carried one, less the
    calls sent after it that were answered without one (HubSpot's searches carry no daily figures but
    count against the allowance)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent = 0
        self._base_seq = 0
        self._base: int | None = None
        self._after: set[int] = set()

    def sent(self) -> int:
        """Number the call about to be sent; hand the number to ``answered``."""
        with self._lock:
            self._sent += 1
            return self._sent

    def answered(self, seq: int, remaining: int | None) -> tuple[int | None, bool]:
        """The figure now, and whether this answer's own figure is the freshest one seen."""
        with self._lock:
            fresh = remaining is not None and seq > self._base_seq
            if fresh:
                self._base_seq, self._base = seq, remaining
                self._after = {later for later in self._after if later > seq}
            elif remaining is None and self._base is not None and seq > self._base_seq:
                self._after.add(seq)
            return self.current, fresh

    @property
    def current(self) -> int | None:
        return None if self._base is None else max(0, self._base - len(self._after))
