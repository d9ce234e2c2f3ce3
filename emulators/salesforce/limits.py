"""The org's daily API allocation: a rolling 24 h window on the emulator clock, reported in the
``Sforce-Limit-Info`` header of every REST response and by ``/limits``. When it is used up,
calls get 403 ``REQUEST_LIMIT_EXCEEDED`` (and are not counted) until old calls leave the window.
Calls refused with 401 or 403, OAuth token calls, ``GET /services/data/`` and injected faults
don't count."""

from __future__ import annotations

import collections
import datetime as dt
from typing import Any, Callable


class ApiUsage:
    def __init__(self, limit: int, now: Callable[[], dt.datetime]) -> None:
        self.limit = limit
        self._now = now
        self._calls: collections.deque[dt.datetime] = collections.deque()

    def _trim(self) -> None:
        horizon = self._now() - dt.timedelta(hours=24)
        while self._calls and self._calls[0] <= horizon:
            self._calls.popleft()

    @property
    def used(self) -> int:
        self._trim()
        return len(self._calls)

    def try_count(self) -> bool:
        """Count one call; False (not counted) when the allocation is used up."""
        if self.used >= self.limit:
            return False
        self._calls.append(self._now())
        return True

    def header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={len(self._calls)}/{self.limit}"}

    def limits_body(self) -> dict[str, Any]:
        used = self.used
        return {
            "DailyApiRequests": {"Max": self.limit, "Remaining": max(0, self.limit - used)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            "SingleEmail": {"Max": 5000, "Remaining": 5000},
        }
