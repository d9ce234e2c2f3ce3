"""One HubSpot account through hubspot-api-client: every call goes through here.

A call takes a slot from the account's limiter (search calls also from search's own), is
counted, and its answer is parsed here: we ask the SDK for raw responses
(``_preload_content=False``) because turning thousands of contacts into its models costs more
than the HTTP call, and in that mode the SDK skips its status check. A failure becomes syncd's
taxonomy through the error table, and the retry policy decides what is tried again; an answer
that is not a JSON object is an ``UnexpectedResponse``, never a traceback.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException

from connectors.clock import ServerClock
from connectors.errors import HUBSPOT, UNEXPECTED, remote_error, transport_error
from connectors.http import NO_TRANSPORT_RETRY
from connectors.limits import UNLIMITED, Limits
from connectors.quota import DailyRemaining, QuotaReserve
from connectors.retry import RetryPolicy

_SDK_ERRORS = (ContactsApiException, PropertiesApiException)


def _retry_after(headers: Any) -> float | None:
    value = (headers or {}).get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _scopes_named(body: dict[str, Any]) -> list[str]:
    """The scopes a 403 MISSING_SCOPES body names (``errors[].context.requiredGranularScopes``)."""
    named: list[str] = []
    for error in body.get("errors") or []:
        context = error.get("context") if isinstance(error, dict) else None
        for key in ("requiredGranularScopes", "requiredScopes"):
            values = context.get(key) if isinstance(context, dict) else None
            named += [str(v) for v in values or [] if str(v) not in named] if isinstance(values, list) else []
    return named


def _error_body(raw: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


class HubSpotClient:
    system = HUBSPOT

    def __init__(self, *, access_token: str, base_url: str = "https://api.hubapi.com", ca_bundle: str | None = None,
                 timeout: float = 30.0, policy: RetryPolicy | None = None, limits: Limits = UNLIMITED,
                 search_limits: Limits = UNLIMITED, reserve: QuotaReserve | None = None) -> None:
        self.sdk = HubSpot(access_token=access_token, host=base_url.rstrip("/"), retry=NO_TRANSPORT_RETRY,
                           ssl_ca_cert=ca_bundle)
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.limits = limits
        self.search_limits = search_limits
        self._count = threading.Lock()
        self.calls = 0
        self.quota_remaining: int | None = None     # the account's daily calls left (DailyRemaining)
        self._daily = DailyRemaining()
        self.clock = ServerClock()                  # HubSpot's time, from the answers' Date header
        self.reserve = reserve or QuotaReserve(HUBSPOT, 0, "hubspot.quota_reserve_percent")

    def call(self, what: str, send: Callable[[], Any], *, search: bool = False, accept: tuple[int, ...] = (),
             lists: tuple[str, ...] = ()) -> dict[str, Any]:
        """The JSON object HubSpot answered to ``send()`` (an SDK call with ``_preload_content=False``).
        A status in ``accept`` is answered with its error body (and ``"_status"``) instead of raised.
        Each key in ``lists`` must hold a list (or be absent) in a successful answer."""
        return self.policy.call(what, lambda: self._attempt(what, send, search, accept, lists))

    def _attempt(self, what: str, send: Callable[[], Any], search: bool, accept: tuple[int, ...],
                 lists: tuple[str, ...]) -> dict[str, Any]:
        self.reserve.check(what)
        with (self.search_limits if search else self.limits).slot():
            with self._count:
                self.calls += 1
            seq = self._daily.sent()
            try:
                response = send()
                status, raw, headers = response.status, response.data, getattr(response, "headers", None) or {}
            except _SDK_ERRORS as exc:          # raised when the SDK reads the body itself
                status, raw, headers = exc.status, exc.body, exc.headers or {}
            except urllib3.exceptions.HTTPError as exc:
                raise transport_error(HUBSPOT, what, exc) from None
        self.clock.observe(headers.get("Date"))
        in_window = headers.get("X-HubSpot-RateLimit-Remaining")
        if in_window and str(in_window).isdigit():       # calls other clients made count here too
            for limiter in self.limits.limiters:
                limiter.observe(int(in_window))
        remaining, daily = headers.get("X-HubSpot-RateLimit-Daily-Remaining"), headers.get("X-HubSpot-RateLimit-Daily")
        figure = int(remaining) if remaining and str(remaining).isdigit() else None   # searches carry none
        self.quota_remaining, fresh = self._daily.answered(seq, figure)
        if fresh and figure is not None and daily and str(daily).isdigit():
            self.reserve.observe(int(daily) - figure, int(daily))
        if status in accept or not 200 <= (status or 0) <= 299:
            body = _error_body(raw)
            if status in accept:
                return {**body, "_status": status}
            code = body.get("policyName") or body.get("category")
            if status == 429 and code == "DAILY":
                self.quota_remaining = 0
            message = str(body.get("message") or "")
            if code == "MISSING_SCOPES" and _scopes_named(body):
                message = f"needs scope {', '.join(_scopes_named(body))}; {message}"
            raise remote_error(HUBSPOT, what, status=status, code=code, message=message,
                               retry_after=_retry_after(headers))
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise remote_error(HUBSPOT, what, code=UNEXPECTED, message=f"HTTP {status} with a body that is not a "
                                                                       "JSON object")
        for key in lists:
            if parsed.get(key) is None:
                parsed[key] = []
            if not isinstance(parsed[key], list):
                raise remote_error(HUBSPOT, what, code=UNEXPECTED, message=f"'{key}' is not a list")
        return parsed
