"""One Salesforce org through simple-salesforce: every call goes through here.

A call takes a slot from the org's limiter, is counted, and on failure is turned into syncd's
taxonomy by the error table; the retry policy decides what is tried again. A call answered 401
INVALID_SESSION_ID logs in again and is replayed once at once (the token lived its session
timeout out); the usage header (``Sforce-Limit-Info``) keeps the quota gauge current.

A query's later pages are read with its locator (``nextRecordsUrl``), good for one use: a page
whose answer was lost cannot be asked for again. ``query_pages`` then runs the query again and
leaves out the rows it already handed out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from connectors.clock import ServerClock
from connectors.errors import (
    QUERY_LOCATOR_GONE,
    SALESFORCE,
    SESSION_EXPIRED,
    UNEXPECTED,
    remote_error,
    transport_error,
)
from connectors.limits import UNLIMITED, Limits
from connectors.quota import QuotaReserve
from connectors.retry import RetryPolicy
from connectors.salesforce.auth import SalesforceAuth, Token
from syncd.core.errors import RemoteError

T = TypeVar("T")
log = structlog.get_logger("syncd.salesforce")
QUERY_RESTARTS = 3              # a query whose locators keep failing is then a failed call


def _error_body(exc: SalesforceError) -> tuple[str | None, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode"), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return content.get("errorCode") or content.get("error"), str(content.get("message", ""))
    return None, ""


class SalesforceClient:
    system = SALESFORCE

    def __init__(self, auth: SalesforceAuth, *, api_version: str, session: requests.Session,
                 policy: RetryPolicy | None = None, limits: Limits = UNLIMITED,
                 reserve: QuotaReserve | None = None) -> None:
        self.auth = auth
        self.api_version = api_version
        self.session = session
        self.policy = policy or RetryPolicy()
        self.limits = limits
        self._sdk: Salesforce | None = None
        self._token: Token | None = None
        self._login = threading.Lock()
        self._count = threading.Lock()
        self.calls = 0
        self.quota_remaining: int | None = None     # org API calls left (Sforce-Limit-Info)
        self.clock = ServerClock()                  # Salesforce's time, from the answers' Date header
        session.hooks["response"].append(lambda response, *_args, **_kwargs: self.clock.observe(
            response.headers.get("Date")))
        self.reserve = reserve or QuotaReserve(SALESFORCE, 0, "salesforce.quota_reserve_percent")

    # -- session -------------------------------------------------------------------------
    def _connect(self, stale: Salesforce | None = None) -> Salesforce:
        """Log in (once for all threads: a thread that finds a fresh session uses it)."""
        with self._login:
            if self._sdk is not None and self._sdk is not stale:
                return self._sdk
            token = self.auth.fetch_token()
            self._token = token
            self._sdk = Salesforce(instance_url=token.instance_url, session_id=token.access_token,
                                   version=self.api_version, session=self.session, object_pairs_hook=dict)
            log.info("salesforce.authenticated", flow=self.auth.flow, instance_url=token.instance_url)
            return self._sdk

    @property
    def sdk(self) -> Salesforce:
        return self._sdk or self._connect()

    @property
    def user_id(self) -> str | None:
        """The integration user's id (logging in first if need be)."""
        if self._token is None:
            self._connect()
        return self._token.user_id if self._token else None

    # -- the one way to call -------------------------------------------------------------
    def call(self, what: str, fn: Callable[[Salesforce], T], *, retries: bool = True) -> T:
        """``fn`` through the retry policy; ``retries=False``: one attempt (a write that is not
        idempotent, whose lost answer may hide a write applied: the caller looks before sending again)."""
        if not retries:
            return self._attempt(what, fn)
        return self.policy.call(what, lambda: self._attempt(what, fn))

    def _attempt(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        self.reserve.check(what)
        sdk = self.sdk
        for fresh in (False, True):
            with self.limits.slot():
                with self._count:
                    self.calls += 1
                try:
                    result = fn(sdk)
                except SalesforceExpiredSession:
                    if fresh:
                        raise remote_error(SALESFORCE, what, status=401, code=SESSION_EXPIRED,
                                           message="session expired again right after logging in") from None
                    log.info("salesforce.session_expired", action="re-authenticating")
                    sdk = self._connect(stale=sdk)
                    continue
                except SalesforceError as exc:
                    code, message = _error_body(exc)
                    raise remote_error(SALESFORCE, what, status=exc.status, code=code, message=message) from None
                except requests.RequestException as exc:
                    raise transport_error(SALESFORCE, what, exc) from None
                except ValueError:          # the SDK could not parse the body as JSON
                    raise remote_error(SALESFORCE, what, code=UNEXPECTED,
                                       message="the answer is not JSON") from None
            usage = sdk.api_usage.get("api-usage")    # simple-salesforce parses the header
            if usage is not None:
                self.quota_remaining = max(0, usage.total - usage.used)
                self.reserve.observe(usage.used, usage.total)
            return result
        raise AssertionError("unreachable")

    def check(self) -> dict[str, Any]:
        """Log in and read the org's limits."""
        limits = self.call("read limits", lambda sf: sf.restful("limits"))
        return (limits or {}).get("DailyApiRequests", {})

    # -- reads ----------------------------------------------------------------------------
    def query_pages(self, soql: str, what: str = "query", *,
                    include_deleted: bool = False) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """The rows of a query a page (up to 2,000 rows) at a time, following nextRecordsUrl, so a
        caller can write and commit each page before reading the next; with the query's total.
        ``include_deleted``: queryAll, which also returns deleted and merged-away records.

        A locator Salesforce no longer honours (``INVALID_QUERY_LOCATOR``: asked for again after
        its answer was lost, or idle too long) restarts the query, and the rows already handed
        out are left out by Id: none is lost (the query runs on today's data), none comes twice."""
        handed_out: set[str] = set()
        restarts = 0

        def first_page() -> dict[str, Any]:
            return self.call(what, lambda sf: _query_page(what, sf.query(soql, include_deleted=include_deleted)))

        page = first_page()
        while True:
            rows = [row for row in page["records"] if not isinstance(row, dict) or row.get("Id") not in handed_out]
            handed_out.update(row["Id"] for row in rows if isinstance(row, dict) and row.get("Id"))
            yield rows, page.get("totalSize")
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            url = page["nextRecordsUrl"]
            try:
                page = self.call(what, lambda sf: _query_page(what, sf.query_more(url, identifier_is_url=True)))
            except RemoteError as exc:
                if exc.code != QUERY_LOCATOR_GONE or restarts == QUERY_RESTARTS:
                    raise
                restarts += 1
                log.info("salesforce.query_restarted", call=what, rows_handed_out=len(handed_out))
                page = first_page()

    def query(self, soql: str) -> list[dict[str, Any]]:
        """All rows of a query."""
        return [row for rows, _ in self.query_pages(soql) for row in rows]


def _query_page(what: str, page: Any) -> dict[str, Any]:
    if not isinstance(page, dict) or not isinstance(page.get("records"), list):
        raise remote_error(SALESFORCE, what, code=UNEXPECTED, message="the answer has no list of records")
    return page
