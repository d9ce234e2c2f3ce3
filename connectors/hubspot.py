"""HubSpot CRM v3 contacts through hubspot-api-client.

Reading changed contacts: one search query per page of 200, filtered by the mapping's
qualification conditions and the closed time window, sorted by ``hs_object_id`` and continued
with ``hs_object_id > last id seen`` instead of the ``after`` offset. Why: search stops at 10,000
results per query, and thousands of contacts can share one ``lastmodifieddate`` (HubSpot's own
bulk updates), so paging by time or by offset either skips contacts or loops forever
(airbytehq/airbyte#43317). Paging by id inside a fixed window visits each contact exactly once.

The properties come back in the search itself when the request stays under the 3,000-character
body limit; otherwise (or when property history is needed) by batch read, 100 ids per call
(50 with history).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    Filter as SearchFilter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.contacts.rest import RESTResponse
from urllib3.util.retry import Retry

from syncd.core.window import Window, to_epoch_ms
from syncd.core.errors import (
    AuthenticationFailed,
    ConfigError,
    Problem,
    QuotaExhausted,
    RemoteUnavailable,
    RequestRejected,
)
from syncd.core.records import Contact, ContactWriteResult, Filter, HistoryEntry

SYSTEM = "HubSpot"
SEARCH_PAGE_SIZE = 200          # search: at most 200 results per page
SEARCH_BODY_LIMIT = 3000        # search: request body at most 3,000 characters
BATCH_READ_LIMIT = 100          # batch read: at most 100 ids
BATCH_READ_HISTORY_LIMIT = 50   # batch read with propertiesWithHistory: at most 50 ids
BATCH_UPDATE_LIMIT = 100        # batch update: at most 100 inputs
RATE_LIMIT_RETRIES = 6

log = structlog.get_logger("syncd.hubspot")

_OPERATORS = {"equals": "EQ", "not_equals": "NEQ", "in": "IN", "not_in": "NOT_IN", "gt": "GT",
              "gte": "GTE", "lt": "LT", "lte": "LTE", "contains_token": "CONTAINS_TOKEN"}


def condition_filter(condition: Filter) -> dict[str, Any]:
    operator, operand = condition.operator, condition.operand
    if operator == "exists":
        return {"propertyName": condition.property,
                "operator": "HAS_PROPERTY" if operand else "NOT_HAS_PROPERTY"}
    if operator in ("in", "not_in"):
        return {"propertyName": condition.property, "operator": _OPERATORS[operator],
                "values": [str(v) for v in operand]}
    value = str(operand).lower() if isinstance(operand, bool) else str(operand)
    return {"propertyName": condition.property, "operator": _OPERATORS[operator], "value": value}


def search_body(conditions: Sequence[Filter], window: Window, after_id: str | None,
                properties: Sequence[str]) -> dict[str, Any]:
    filters = [condition_filter(c) for c in conditions]
    if window.start is not None:
        filters.append({"propertyName": "lastmodifieddate", "operator": "GTE",
                        "value": str(to_epoch_ms(window.start))})
    filters.append({"propertyName": "lastmodifieddate", "operator": "LTE", "value": str(to_epoch_ms(window.end))})
    if after_id is not None:
        filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after_id})
    return {"filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": list(properties), "limit": SEARCH_PAGE_SIZE}


def _to_contact(obj: dict[str, Any]) -> Contact:
    history = {name: tuple(HistoryEntry(e.get("value"), str(e.get("timestamp", ""))) for e in entries or ())
               for name, entries in (obj.get("propertiesWithHistory") or {}).items()}
    return Contact(str(obj["id"]), dict(obj.get("properties") or {}), history)


class _Body(dict):
    """A parsed response body that remembers the daily quota header it came with."""

    quota_remaining: int | None = None


def _json(response: Any) -> dict[str, Any]:
    """The body of a raw SDK response. We ask the SDK for raw responses (_preload_content=False)
    because turning thousands of contacts into its models costs more than the HTTP call; in that
    mode the SDK skips its status check, so it is done here."""
    if not 200 <= response.status <= 299:
        raise ApiException(http_resp=RESTResponse(response))
    parsed = json.loads(response.data or b"{}")
    if not isinstance(parsed, dict):
        return parsed
    body = _Body(parsed)
    # Non-search responses carry the account's daily allowance left (search responses carry none).
    remaining = (getattr(response, "headers", None) or {}).get("X-HubSpot-RateLimit-Daily-Remaining")
    body.quota_remaining = int(remaining) if remaining and remaining.isdigit() else None
    return body


@dataclass
class Page:
    contacts: list[Contact]
    total: int


class _Throttle:
    """Spaces calls to stay under a requests-per-second limit (search: 5/s per account)."""

    def __init__(self, per_second: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            if now < self._next:
                self.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


class HubSpotConnector:
    def __init__(self, *, access_token: str, base_url: str = "https://api.hubapi.com",
                 ca_bundle: str | None = None, timeout: float = 30.0, max_retries: int = 5,
                 search_requests_per_second: float = 4.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.sleep = sleep
        # urllib3 retries connection errors and 5xx; 429s are handled below, where the body says
        # whether to wait (TEN_SECONDLY_ROLLING, search's secondly limit) or stop (DAILY).
        retry = Retry(total=max_retries, backoff_factor=0.5, backoff_jitter=0.5,
                      status_forcelist=(500, 502, 503, 504), allowed_methods=None,
                      respect_retry_after_header=True, raise_on_status=False)
        self.client = HubSpot(access_token=access_token, host=base_url.rstrip("/"), retry=retry,
                              ssl_ca_cert=ca_bundle)
        self._search_throttle = _Throttle(search_requests_per_second, clock, sleep)
        self.calls = 0
        self.quota_remaining: int | None = None     # daily calls left, from the last header seen

    # -- error handling in one place ------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                self.calls += 1
                result = fn()
                if getattr(result, "quota_remaining", None) is not None:
                    self.quota_remaining = result.quota_remaining
                return result
            except ApiException as exc:
                body = _body(exc)
                if exc.status == 429 and body.get("policyName") != "DAILY" and attempt < RATE_LIMIT_RETRIES:
                    wait = _retry_after(exc) or min(2.0 * (attempt + 1), 10.0)
                    log.warning("hubspot.rate_limited", call=what, policy=body.get("policyName"),
                                wait_seconds=wait, attempt=attempt + 1)
                    self.sleep(wait)
                    continue
                if exc.status == 429 and body.get("policyName") == "DAILY":
                    self.quota_remaining = 0
                raise _translate(exc, body, what) from None
            except urllib3.exceptions.HTTPError as exc:
                raise RemoteUnavailable(SYSTEM, f"{what}: cannot reach HubSpot ({type(exc).__name__})") from None
        raise AssertionError("unreachable")

    # -- reads ----------------------------------------------------------------------------
    def search_pages(self, conditions: Sequence[Filter], window: Window, properties: Sequence[str],
                     history_properties: Sequence[str] = ()) -> Iterator[Page]:
        """Every contact meeting the conditions and modified inside the window, a page at a time."""
        inline = not history_properties and len(json.dumps(
            search_body(conditions, window, "9" * 20, properties))) <= SEARCH_BODY_LIMIT
        search_properties = list(properties) if inline else ["hs_object_id", "lastmodifieddate"]
        after_id: str | None = None
        while True:
            body = search_body(conditions, window, after_id, search_properties)
            self._search_throttle.wait()
            response = self._call("search", lambda: _json(self.client.crm.contacts.search_api.do_search(
                public_object_search_request=_search_request(body), _request_timeout=self.timeout,
                _preload_content=False)))
            results = response.get("results") or []
            contacts = [_to_contact(o) for o in results]
            if not contacts:
                return
            last_id = contacts[-1].id
            if after_id is not None and int(last_id) <= int(after_id):
                raise RemoteUnavailable(SYSTEM, f"search paging went backwards ({last_id} after {after_id})")
            if not inline:
                contacts = self.read_contacts([c.id for c in contacts], properties, history_properties)
            yield Page(contacts, int(response.get("total") or 0))
            if len(results) < SEARCH_PAGE_SIZE or not response.get("paging"):
                return
            after_id = last_id

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str],
                      history_properties: Sequence[str] = ()) -> list[Contact]:
        """Batch read by id (100 per call, 50 with history). Missing or archived ids are left out."""
        size = BATCH_READ_HISTORY_LIMIT if history_properties else BATCH_READ_LIMIT
        found: dict[str, Contact] = {}
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            request = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=i) for i in chunk], properties=list(properties),
                properties_with_history=list(history_properties))
            response = self._call("batch read", lambda: _json(self.client.crm.contacts.batch_api.read(
                batch_read_input_simple_public_object_id=request, archived=False, _request_timeout=self.timeout,
                _preload_content=False)))
            for obj in response.get("results") or []:
                found[str(obj["id"])] = _to_contact(obj)
        return [found[i] for i in ids if i in found]

    # -- writes ---------------------------------------------------------------------------
    def update_contacts(self, updates: Sequence[tuple[str, dict[str, str]]]) -> list[ContactWriteResult]:
        """Batch update by id, 100 per call; one answer per input, in order. HubSpot answers 207
        for ids it no longer has (deleted or merged): those come back as OBJECT_NOT_FOUND."""
        results: list[ContactWriteResult] = []
        for start in range(0, len(updates), BATCH_UPDATE_LIMIT):
            results.extend(self._update_batch(list(updates[start:start + BATCH_UPDATE_LIMIT])))
        return results

    def _update_batch(self, batch: list[tuple[str, dict[str, str]]]) -> list[ContactWriteResult]:
        request = BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=i, properties=p) for i, p in batch])

        def send() -> tuple[int, dict[str, Any]]:
            try:
                return 200, _json(self.client.crm.contacts.batch_api.update(
                    batch_input_simple_public_object_batch_input=request, _request_timeout=self.timeout,
                    _preload_content=False))
            except ApiException as exc:
                if exc.status == 400:          # one invalid input refuses the whole batch
                    return 400, _body(exc)
                raise

        status, body = self._call("batch update", send)
        if status == 400:
            return self._refused_batch(batch, body)
        done = {str(r.get("id")) for r in body.get("results") or []}
        errors = body.get("errors") or []
        results = []
        for contact_id, _ in batch:
            if contact_id in done:
                results.append(ContactWriteResult(contact_id, True))
                continue
            # Only an error that names this contact is its error; never borrow another's.
            error = next((e for e in errors if contact_id in ((e.get("context") or {}).get("ids") or [])), {})
            results.append(ContactWriteResult(contact_id, False, error.get("category") or "NOT_UPDATED",
                                              str(error.get("message") or "HubSpot did not update it")[:500]))
        return results

    def _refused_batch(self, batch: list[tuple[str, dict[str, str]]], body: dict[str, Any]) -> list[ContactWriteResult]:
        """A 400 names the bad value but not the contact: halve the batch until it does. A property
        HubSpot does not have is configuration, not a record problem."""
        details = body.get("errors") or []
        missing = sorted({name for e in details if e.get("code") == "PROPERTY_DOESNT_EXIST"
                          for name in (e.get("context") or {}).get("propertyName") or []})
        if missing or "PROPERTY_DOESNT_EXIST" in str(body.get("message")):
            raise ConfigError(Problem("HubSpot", "feedback.properties", (
                f"HubSpot has no contact propert{'y' if len(missing) == 1 else 'ies'} "
                f"{', '.join(missing) or '(see its message)'}; run `syncd setup hubspot`")))
        if len(batch) > 1:
            middle = len(batch) // 2
            return self._update_batch(batch[:middle]) + self._update_batch(batch[middle:])
        first = details[0] if details else {}
        return [ContactWriteResult(batch[0][0], False, first.get("code") or body.get("category") or "VALIDATION_ERROR",
                                   str(first.get("message") or body.get("message") or "refused")[:500])]


def _search_request(body: dict[str, Any]) -> PublicObjectSearchRequest:
    groups = [FilterGroup(filters=[SearchFilter(property_name=f["propertyName"], operator=f["operator"],
                                          value=f.get("value"), values=f.get("values"))
                                   for f in g["filters"]]) for g in body["filterGroups"]]
    return PublicObjectSearchRequest(filter_groups=groups, sorts=body["sorts"],
                                     properties=body["properties"], limit=body["limit"])


def _body(exc: ApiException) -> dict[str, Any]:
    try:
        parsed = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _retry_after(exc: ApiException) -> float | None:
    value = (exc.headers or {}).get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _translate(exc: ApiException, body: dict[str, Any], what: str) -> Exception:
    category = body.get("category")
    message = body.get("message") or exc.reason or "error"
    if exc.status == 401:
        return AuthenticationFailed(SYSTEM, "the access token was refused; check the private app token",
                                    status=401, code=category)
    if exc.status == 403:
        return AuthenticationFailed(SYSTEM, f"{what}: the private app lacks a scope ({message})",
                                    status=403, code=category)
    if exc.status == 429:
        if body.get("policyName") == "DAILY":
            return QuotaExhausted(SYSTEM, "the account's daily API limit is used up", status=429, code="DAILY")
        return RemoteUnavailable(SYSTEM, f"{what}: still rate limited after retries", status=429,
                                 code=body.get("policyName"))
    if exc.status and exc.status >= 500:
        return RemoteUnavailable(SYSTEM, f"{what}: {message}", status=exc.status, code=category)
    return RequestRejected(SYSTEM, f"{what}: {message}", status=exc.status, code=category)
