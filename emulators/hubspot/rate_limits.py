"""HubSpot's rate limits for a private app: a rolling burst window per token (429
``TEN_SECONDLY_ROLLING``), a daily limit per portal (429 ``DAILY``) and search's own per-second
limit (429 ``SECONDLY``).

Normal responses carry the ``X-HubSpot-RateLimit-*`` headers, search responses carry none; no
``Retry-After``. Whether search requests also draw on the burst window is not documented
(API-NOTES: [UNCONFIRMED]); ``search_in_burst`` makes them count there too, the conservative
reading the benchmark uses.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import deque
from typing import Any

from werkzeug.wrappers import Response

from emulators.hubspot.errors import json_response

SETTINGS = ("rate_limits", "burst_limit", "burst_window_seconds", "daily_limit", "search_limit_per_second",
            "search_in_burst")


class RateLimiter:
    def __init__(self, *, enabled: bool, burst_limit: int, burst_window_seconds: float, daily_limit: int,
                 search_limit_per_second: int, search_in_burst: bool, portal_id: int, app_id: int) -> None:
        self.rate_limits = enabled
        self.burst_limit = burst_limit
        self.burst_window_seconds = burst_window_seconds
        self.daily_limit = daily_limit
        self.search_limit_per_second = search_limit_per_second
        self.search_in_burst = search_in_burst
        self.portal_id, self.app_id = portal_id, app_id
        self.reset()

    def reset(self) -> None:
        self._burst: dict[str, deque[float]] = {}
        self._search_hits: deque[float] = deque()
        self._daily_used = 0
        self._daily_day: dt.date | None = None

    def settings(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SETTINGS}

    def configure(self, values: dict[str, Any]) -> None:
        for key in SETTINGS:
            if key in values:
                setattr(self, key, type(getattr(self, key))(values[key]))

    def body(self, policy: str) -> dict[str, Any]:
        messages = {"TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
                    "DAILY": "You have reached your daily limit.",
                    "SECONDLY": "You have reached your secondly limit."}
        groups = {"TEN_SECONDLY_ROLLING": f"publicapi:private-app-ten-secondly-rolling:{self.app_id}:{self.portal_id}",
                  "DAILY": f"publicapi:private-app-daily:{self.portal_id}",
                  "SECONDLY": f"publicapi:crm-search-secondly:{self.portal_id}"}
        return {"status": "error", "message": messages[policy], "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()), "policyName": policy, "groupName": groups[policy],
                "requestId": uuid.uuid4().hex}

    def headers(self, token: str) -> dict[str, str]:
        window = self._burst.get(token, deque())
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self._daily_used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.burst_window_seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.burst_limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.burst_limit - len(window))),
            "X-HubSpot-RateLimit-Secondly": str(max(1, int(self.burst_limit / max(self.burst_window_seconds, 1)))),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, int(
                (self.burst_limit - len(window)) / max(self.burst_window_seconds, 1)))),
        }

    def check(self, token: str, is_search: bool, today: dt.date) -> Response | None:
        """Count this request; return a 429 response if it is over a limit."""
        if not self.rate_limits:
            return None
        mono = time.monotonic()
        if self._daily_day != today:
            self._daily_day, self._daily_used = today, 0
        if self._daily_used >= self.daily_limit:
            headers = {} if is_search else self.headers(token)
            return json_response(429, self.body("DAILY"), headers)
        window = self._burst.setdefault(token, deque())
        while window and mono - window[0] >= self.burst_window_seconds:
            window.popleft()
        if is_search:
            while self._search_hits and mono - self._search_hits[0] >= 1.0:
                self._search_hits.popleft()
            if len(self._search_hits) >= self.search_limit_per_second:
                return json_response(429, self.body("SECONDLY"))
            if self.search_in_burst and len(window) >= self.burst_limit:
                return json_response(429, self.body("TEN_SECONDLY_ROLLING"))
            self._search_hits.append(mono)
            if self.search_in_burst:
                window.append(mono)
        else:
            if len(window) >= self.burst_limit:
                return json_response(429, self.body("TEN_SECONDLY_ROLLING"), self.headers(token))
            window.append(mono)
        self._daily_used += 1
        return None
