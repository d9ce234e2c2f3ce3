"""Salesforce REST through simple-salesforce: sObject Collections writes and SOQL lookups.

Writes go 200 records per call (the Collections maximum) with ``allOrNone: false``, so one bad
record never fails its batch. Every literal in SOQL goes through ``format_soql``. A call that
answers 401 INVALID_SESSION_ID re-authenticates once and is replayed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import quote_plus

import requests
import structlog
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from connectors.salesforce_auth import SalesforceAuth
from syncd.core.errors import QuotaExhausted, RemoteUnavailable, RequestRejected
from syncd.core.records import ExistingLead, RecordError, WriteResult

SYSTEM = "Salesforce"
COLLECTION_LIMIT = 200          # sObject Collections: at most 200 records per call
IN_CLAUSE_LIMIT = 200           # values per IN (...): keeps each query far below 100,000 characters
RECORD_RETRY_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})   # retried inside the run, then reported
RECORD_RETRIES = 3

T = TypeVar("T")
log = structlog.get_logger("syncd.salesforce")


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Salesforce answers 414 to a request URI over 16,384 bytes, and a query travels in the URI
# (GET /query?q=...). Values are packed into IN (...) lists by their encoded length, not by count:
# 200 long emails or 1,000 ids would pass SOQL's own 100,000-character limit and still fail.
MAX_QUERY_URI_BYTES = 12_000     # leaves room for the path, the version and the other clauses


def soql_chunks(values: Sequence[str], render: Callable[[list[str]], str],
                limit: int = MAX_QUERY_URI_BYTES, most: int = IN_CLAUSE_LIMIT) -> Iterable[str]:
    """Queries, each with as many of ``values`` as fit ``limit`` URL-encoded bytes (and ``most``)."""
    pending: list[str] = []
    for value in values:
        if pending and (len(pending) >= most or len(quote_plus(render([*pending, value]))) > limit):
            yield render(pending)
            pending = []
        pending.append(value)
    if pending:
        yield render(pending)


def _error_body(exc: SalesforceError) -> tuple[str | None, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode"), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return content.get("errorCode") or content.get("error"), str(content.get("message", ""))
    return None, ""


def translate(exc: Exception) -> Exception:
    """Map an SDK or transport exception to syncd's taxonomy (see syncd.core.errors)."""
    if isinstance(exc, requests.RequestException):
        return RemoteUnavailable(SYSTEM, f"cannot reach Salesforce: {type(exc).__name__}")
    if not isinstance(exc, SalesforceError):
        return exc
    code, message = _error_body(exc)
    status = exc.status
    if code == "REQUEST_LIMIT_EXCEEDED":
        return QuotaExhausted(SYSTEM, "the org's API request limit is used up; the run stops and "
                                      "resumes after the rolling 24-hour window frees calls", status=status, code=code)
    if status in (500, 502, 503, 504) or code in ("SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"):
        return RemoteUnavailable(SYSTEM, message or "Salesforce is unavailable", status=status, code=code)
    if status == 401:
        return RemoteUnavailable(SYSTEM, "session refused after re-authentication", status=status, code=code)
    return RequestRejected(SYSTEM, message or "request refused", status=status, code=code)


def _results(raw: Any, expected: int) -> list[WriteResult]:
    if not isinstance(raw, list) or len(raw) != expected:
        raise RemoteUnavailable(SYSTEM, f"Collections answered {type(raw).__name__} for {expected} records")
    results = []
    for item in raw:
        errors = tuple(
            RecordError(e.get("statusCode", "UNKNOWN_ERROR"), e.get("message", ""), tuple(e.get("fields") or ()))
            for e in item.get("errors") or ()
        )
        results.append(WriteResult(bool(item.get("success")), item.get("id"), bool(item.get("created")), errors))
    return results


class SalesforceConnector:
    def __init__(self, auth: SalesforceAuth, *, api_version: str, session: requests.Session,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.auth = auth
        self.api_version = api_version
        self.session = session
        self.sleep = sleep
        self._client: Salesforce | None = None
        self.calls = 0
        self.quota_remaining: int | None = None     # org API calls left (Sforce-Limit-Info)

    # -- session -------------------------------------------------------------------------
    def _connect(self) -> Salesforce:
        token = self.auth.fetch_token()
        self._client = Salesforce(instance_url=token.instance_url, session_id=token.access_token,
                                  version=self.api_version, session=self.session)
        log.info("salesforce.authenticated", flow=self.auth.flow, instance_url=token.instance_url)
        return self._client

    @property
    def client(self) -> Salesforce:
        return self._client or self._connect()

    def _call(self, fn: Callable[[Salesforce], T]) -> T:
        """One API call; on an expired session, log in again once and replay it."""
        for attempt in (1, 2):
            try:
                self.calls += 1
                client = self.client
                result = fn(client)
                usage = client.api_usage.get("api-usage")    # simple-salesforce parses the header
                if usage is not None:
                    self.quota_remaining = max(0, usage.total - usage.used)
                return result
            except SalesforceExpiredSession:
                if attempt == 2:
                    raise RemoteUnavailable(SYSTEM, "session expired again right after logging in",
                                            status=401, code="INVALID_SESSION_ID") from None
                log.info("salesforce.session_expired", action="re-authenticating")
                self._connect()
            except (SalesforceError, requests.RequestException) as exc:
                error = translate(exc)
                if isinstance(error, QuotaExhausted):
                    self.quota_remaining = 0
                raise error from None
        raise AssertionError("unreachable")

    def check(self) -> dict[str, Any]:
        """Log in and read the org's limits; used by `syncd status --check` and the preflight."""
        limits = self._call(lambda sf: sf.restful("limits"))
        return (limits or {}).get("DailyApiRequests", {})

    # -- writes ---------------------------------------------------------------------------
    def _write_chunk(self, path: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        body = {"allOrNone": False, "records": records}
        raw = self._call(lambda sf: sf.restful(path, method="PATCH", json=body))
        return _results(raw, len(records))

    def _write(self, path: str, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        """Send records 200 at a time; retry the ones refused with a lock error, then report them."""
        results: list[WriteResult] = []
        for chunk in _chunks(list(records), COLLECTION_LIMIT):
            chunk_results = self._write_chunk(path, list(chunk))
            for attempt in range(1, RECORD_RETRIES + 1):
                retry_at = [i for i, r in enumerate(chunk_results)
                            if not r.ok and r.first_error and r.first_error.code in RECORD_RETRY_CODES]
                if not retry_at:
                    break
                log.info("salesforce.record_retry", records=len(retry_at), attempt=attempt)
                self.sleep(min(2 ** attempt, 10))
                retried = self._write_chunk(path, [chunk[i] for i in retry_at])
                for index, result in zip(retry_at, retried):
                    chunk_results[index] = result
            results.extend(chunk_results)
        return results

    def upsert(self, sobject: str, external_id_field: str, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        """Create-or-update by external id; idempotent, so a replay never duplicates."""
        return self._write(f"composite/sobjects/{sobject}/{external_id_field}", records)

    def update(self, records: Sequence[dict[str, Any]]) -> list[WriteResult]:
        """Update records by Id (each carries attributes.type and Id)."""
        return self._write("composite/sobjects", records)

    # -- reads ----------------------------------------------------------------------------
    def query(self, soql: str) -> list[dict[str, Any]]:
        """All rows of a query, following nextRecordsUrl (2,000 rows a page)."""
        page = self._call(lambda sf: sf.query(soql))
        rows = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            url = page["nextRecordsUrl"]
            page = self._call(lambda sf: sf.query_more(url, identifier_is_url=True))
            rows.extend(page.get("records", []))
        return rows

    def query_pages(self, soql: str) -> Iterator[list[dict[str, Any]]]:
        """The rows of a query a page (up to 2,000 rows) at a time, following nextRecordsUrl, so a
        caller can write and commit each page before reading the next."""
        page = self._call(lambda sf: sf.query(soql))
        yield list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            url = page["nextRecordsUrl"]
            page = self._call(lambda sf: sf.query_more(url, identifier_is_url=True))
            yield list(page.get("records", []))

    def _leads_where(self, external_id_field: str, where: str, values: Sequence[str]) -> list[ExistingLead]:
        found: list[ExistingLead] = []
        render = lambda chunk: format_soql(  # noqa: E731
            f"SELECT Id, Email, IsConverted, ConvertedContactId, CreatedDate, {external_id_field} "
            f"FROM Lead WHERE {where} IN {{values}} ORDER BY CreatedDate, Id", values=chunk)
        for soql in soql_chunks(sorted(set(values)), render):
            for row in self.query(soql):
                found.append(ExistingLead(row["Id"], row.get("Email"), row.get(external_id_field),
                                          bool(row.get("IsConverted")), row.get("ConvertedContactId"),
                                          row.get("CreatedDate") or ""))
        return found

    def leads_by_email(self, emails: Sequence[str], external_id_field: str) -> list[ExistingLead]:
        return self._leads_where(external_id_field, "Email", [e for e in emails if e])

    def leads_by_external_id(self, hubspot_ids: Sequence[str], external_id_field: str) -> list[ExistingLead]:
        return self._leads_where(external_id_field, external_id_field, hubspot_ids)

