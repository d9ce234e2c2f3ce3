"""HubSpot CRM v3 emulator: contacts (basic, batch, search) and contact properties.

A ``HubSpotEmulator`` is a WSGI app (serve it with ``EmulatorServer``, over TLS) that behaves
like the parts of HubSpot's public CRM v3 API syncd uses, faithful to the documented status
codes, bodies and limits:

* private-app bearer tokens (401 ``INVALID_AUTHENTICATION`` otherwise);
* rate limits: a rolling burst window per app (429 ``TEN_SECONDLY_ROLLING``), a daily limit
  (429 ``DAILY``) and search's own per-second limit (429 ``SECONDLY``); normal responses carry
  the ``X-HubSpot-RateLimit-*`` headers, search responses carry none; no ``Retry-After``;
* contacts with numeric-string ids allocated in ascending order, string property values
  (``null`` when empty), per-property history, ``createdate``/``lastmodifieddate``;
* search (see ``emulators.hubspot_search``), batch read/create/update/upsert/archive, basic
  CRUD and paged listing, and the properties / property-groups API (data in
  ``emulators.hubspot_properties``);
* error bodies ``{status, message, correlationId, category[, errors, context]}``.

The Python control API (``create_contact``, ``create_contacts``, ``update_contact``, ``get_contact``,
``contacts``, ``archive_contact``, ``set_clock``, ``inject_fault``, ``revoke_token``, ``reset``) is
mirrored over HTTP as JSON under ``/__emulator/...`` (no auth, not rate limited, not logged).
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from werkzeug.wrappers import Request, Response

from emulators.hubspot_properties import (
    ALWAYS_RETURNED,
    DEFAULT_CONTACT_PROPERTIES,
    PropertyIssue,
    PropertyRegistry,
    iso_ms,
    parse_time_ms,
    to_ms,
    typed_value,
    validation_errors,
    validation_message,
)
from emulators.hubspot_search import Contact, SearchError, SearchLimits, run_search
from emulators.server import CONTROL_PREFIX, EmulatorApp

AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
                "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
NOT_FOUND_BATCH = "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."
HISTORY_BATCH_MESSAGE = ("The maximum number of inputs supported in a batch request for property histories is 50. "
                         "Please reduce the number of items and try again")
BATCH_LIMIT = 100
HISTORY_BATCH_LIMIT = 50
LIST_LIMIT = 100

_OBJ = r"/crm/v3/objects/(?:contacts|0-1)"
_PROPS = r"/crm/v3/properties/(?:contacts|0-1)"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class _Fault:
    method: str | None
    path_contains: str
    status: int
    body: Any
    times: int
    headers: dict[str, str]
    after: int = 0          # matching requests let through before the fault starts


class _ApiError(Exception):
    """Raised inside handlers; turned into a HubSpot error response."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.category, self.extra = status, message, category, extra


class HubSpotEmulator(EmulatorApp):
    """The HubSpot CRM v3 emulator (one portal, contacts only)."""

    def __init__(
        self,
        *,
        access_tokens: Iterable[str] = ("pat-emulator-token",),
        clock: Callable[[], dt.datetime] | None = None,
        search_lag_seconds: float = 0.0,
        rate_limits: bool = True,
        burst_limit: int = 190,
        burst_window_seconds: float = 10.0,
        daily_limit: int = 625_000,
        search_limit_per_second: int = 5,
        max_filter_groups: int = 5,
        max_filters_per_group: int = 6,
        max_filters_total: int = 18,
        portal_id: int = 12345678,
        app_id: int = 3456789,
        first_id: int = 1,
    ) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._tokens: set[str] = set(access_tokens)
        self._revoked: set[str] = set()
        self._clock: Callable[[], dt.datetime] = clock or _utcnow
        self.search_lag_seconds = float(search_lag_seconds)
        self.rate_limits = bool(rate_limits)
        self.burst_limit = burst_limit
        self.burst_window_seconds = burst_window_seconds
        self.daily_limit = daily_limit
        self.search_limit_per_second = search_limit_per_second
        self.search_limits = SearchLimits(max_filter_groups=max_filter_groups,
                                          max_filters_per_group=max_filters_per_group,
                                          max_filters_total=max_filters_total)
        self.portal_id = portal_id
        self.app_id = app_id
        self._first_id = first_id
        self._reset_state()

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self.registry = PropertyRegistry()
        self.by_id: dict[int, Contact] = {}
        self.ids: list[int] = []
        self.mod_index: list[tuple[int, int]] = []
        self._emails: dict[str, int] = {}
        self._next_id = self._first_id
        self._faults: list[_Fault] = []
        self._burst: dict[str, deque[float]] = {}
        self._search_hits: deque[float] = deque()
        self._daily_used = 0
        self._daily_day: dt.date | None = None

    def reset(self) -> None:
        """Forget contacts, custom properties, faults, rate-limit counters, revocations and the request log.

        Tokens (constructor ones and those added with ``add_token``) stay valid; revoked ones work again."""
        with self._lock:
            self._reset_state()
            self._revoked.clear()
            self.requests.clear()

    def set_clock(self, clock: Callable[[], dt.datetime]) -> None:
        with self._lock:
            self._clock = clock

    def now(self) -> dt.datetime:
        return self._clock()

    def _now_ms(self) -> int:
        return to_ms(self._clock())

    def revoke_token(self, token: str) -> None:
        """Requests with this token get 401 from now on (until ``add_token`` or ``reset``)."""
        with self._lock:
            self._revoked.add(token)

    def add_token(self, token: str) -> None:
        with self._lock:
            self._tokens.add(token)
            self._revoked.discard(token)

    def inject_fault(self, method: str | None, path_contains: str, status: int, body: Any = None,
                     times: int = 1, headers: dict[str, str] | None = None, after: int = 0) -> None:
        """The next ``times`` API requests matching method (None/"*" = any) and path substring get this
        response, once ``after`` matching requests have been answered normally (a failure mid-run)."""
        with self._lock:
            self._faults.append(_Fault(None if method in (None, "*") else method.upper(), path_contains,
                                       int(status), body, int(times), dict(headers or {}), int(after)))

    # ------------------------------------------------------------------ store internals (hold the lock)

    def _source(self, source: dict[str, Any] | None, default_api: bool) -> dict[str, Any]:
        if source is not None:
            return dict(source)
        if default_api:
            return {"sourceType": "INTEGRATION", "sourceId": str(self.app_id)}
        return {"sourceType": "CRM_UI", "sourceId": "userId:1", "updatedByUserId": 1}

    def _set_text(self, c: Contact, name: str, text: str, at_iso: str, source: dict[str, Any]) -> None:
        ptype = self.registry.type_of(name) or "string"
        old_email = c.props.get("email") if name == "email" else None
        if text == "":
            c.props.pop(name, None)
            c.typed.pop(name, None)
        else:
            c.props[name] = text
            c.typed[name] = typed_value(ptype, text)
        if name == "email":
            if old_email and self._emails.get(old_email.lower()) == c.id:
                del self._emails[old_email.lower()]
            if text:
                self._emails[text.lower()] = c.id
        if name == "createdate" and text:
            c.created_ms = parse_time_ms(text) or c.created_ms
        c.history.setdefault(name, []).append({"value": text, "timestamp": at_iso, **source})

    def _touch(self, c: Contact, at_ms: int, at_iso: str) -> None:
        if not c.archived:
            old = (c.updated_ms, c.id)
            i = bisect.bisect_left(self.mod_index, old)
            if i < len(self.mod_index) and self.mod_index[i] == old:
                del self.mod_index[i]
            bisect.insort(self.mod_index, (at_ms, c.id))
        c.updated_ms = at_ms
        c.props["lastmodifieddate"] = at_iso
        c.typed["lastmodifieddate"] = at_ms
        c.history.setdefault("lastmodifieddate", []).append(
            {"value": at_iso, "timestamp": at_iso, "sourceType": "CALCULATED", "sourceId": "RollupProperties"})

    def _new_contact(self, values: dict[str, str], at_ms: int, at_iso: str, source: dict[str, Any]) -> Contact:
        cid = self._next_id
        self._next_id += 1
        c = Contact(id=cid, created_ms=at_ms, updated_ms=at_ms)
        sid = str(cid)
        calc = {"sourceType": "CALCULATED", "sourceId": "ObjectPropertyHandler"}
        c.props.update(hs_object_id=sid, createdate=at_iso, lastmodifieddate=at_iso)
        c.typed.update(hs_object_id=float(cid), createdate=at_ms, lastmodifieddate=at_ms)
        c.history.update(
            hs_object_id=[{"value": sid, "timestamp": at_iso, **calc}],
            createdate=[{"value": at_iso, "timestamp": at_iso, **calc}],
            lastmodifieddate=[{"value": at_iso, "timestamp": at_iso, **calc}],
        )
        for name, text in values.items():
            if name in ("hs_object_id", "lastmodifieddate"):
                continue
            if name == "createdate":
                c.history["createdate"] = []
            if text != "":
                self._set_text(c, name, text, at_iso, source)
        self.by_id[cid] = c
        return c

    def _email_owner(self, email: str | None) -> int | None:
        if not email:
            return None
        return self._emails.get(email.lower())

    def _live(self, cid: int) -> Contact | None:
        c = self.by_id.get(cid)
        return c if c is not None and not c.archived else None

    def _resolve(self, raw_id: Any, id_property: str | None, *, archived: bool = False) -> Contact | None:
        text = str(raw_id).strip() if raw_id is not None else ""
        if id_property in (None, "", "hs_object_id"):
            if not text.isdigit():
                return None
            c = self.by_id.get(int(text))
        elif id_property == "email":
            owner = self._email_owner(text)
            c = self.by_id.get(owner) if owner is not None else None
        else:
            c = next((x for x in self.by_id.values() if x.props.get(id_property) == text), None)
        if c is None or c.archived != archived:
            return None
        return c

    def _check_id_property(self, id_property: str | None) -> None:
        if id_property in (None, "", "hs_object_id", "email"):
            return
        prop = self.registry.get(id_property)
        if prop is None or not prop.get("hasUniqueValue"):
            raise _ApiError(400, f"Unable to perform update/upsert by non-unique 0-1 property {id_property} in "
                                 f"portal ID {self.portal_id}", "VALIDATION_ERROR")

    def _archive(self, c: Contact, at_ms: int) -> None:
        if c.archived:
            return
        c.archived, c.archived_ms = True, at_ms
        i = bisect.bisect_left(self.ids, c.id)
        if i < len(self.ids) and self.ids[i] == c.id:
            del self.ids[i]
        key = (c.updated_ms, c.id)
        j = bisect.bisect_left(self.mod_index, key)
        if j < len(self.mod_index) and self.mod_index[j] == key:
            del self.mod_index[j]
        email = c.props.get("email")
        if email and self._emails.get(email.lower()) == c.id:
            del self._emails[email.lower()]

    def _render(self, c: Contact, properties: Iterable[str], history: Iterable[str] = ()) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for name in list(properties) + list(ALWAYS_RETURNED):
            if name not in props and self.registry.get(name) is not None:
                props[name] = c.props.get(name)
        out: dict[str, Any] = {"id": str(c.id), "properties": props, "createdAt": iso_ms(c.created_ms),
                               "updatedAt": iso_ms(c.updated_ms), "archived": c.archived}
        if c.archived and c.archived_ms is not None:
            out["archivedAt"] = iso_ms(c.archived_ms)
        hist = [h for h in history if self.registry.get(h) is not None]
        if hist:
            out["propertiesWithHistory"] = {h: [dict(e) for e in reversed(c.history.get(h, []))] for h in hist}
        return out

    def _snapshot(self, c: Contact) -> dict[str, Any]:
        return {
            "id": str(c.id),
            "properties": dict(c.props),
            "propertiesWithHistory": {k: [dict(e) for e in reversed(v)] for k, v in c.history.items()},
            "createdAt": iso_ms(c.created_ms),
            "updatedAt": iso_ms(c.updated_ms),
            "archived": c.archived,
            **({"archivedAt": iso_ms(c.archived_ms)} if c.archived_ms is not None else {}),
        }

    # ------------------------------------------------------------------ control API (Python)

    def _at(self, at: dt.datetime | None) -> tuple[int, str]:
        ms = to_ms(at) if at is not None else self._now_ms()
        return ms, iso_ms(ms)

    def _control_values(self, properties: dict[str, Any]) -> dict[str, str]:
        values, issues = self.registry.validate(properties, enforce_read_only=False)
        if issues:
            raise ValueError(validation_message(issues, self.portal_id))
        return values

    def create_contact(self, properties: dict[str, Any], *, at: dt.datetime | None = None,
                       source: dict[str, Any] | None = None) -> str:
        return self.create_contacts([properties], at=at, source=source)[0]

    def create_contacts(self, contacts: Iterable[dict[str, Any]], *, at: dt.datetime | None = None,
                        source: dict[str, Any] | None = None) -> list[str]:
        """Seed contacts quickly (all share ``at``, default now).  Raises ValueError on invalid data."""
        with self._lock:
            at_ms, at_iso = self._at(at)
            src = self._source(source, default_api=False)
            validated = [self._control_values(p) for p in contacts]
            seen: set[str] = set()
            for v in validated:
                email = (v.get("email") or "").lower()
                if email and (email in seen or email in self._emails):
                    raise ValueError(f"Contact already exists with email {email}")
                if email:
                    seen.add(email)
            created = [self._new_contact(v, at_ms, at_iso, src) for v in validated]
            self.ids.extend(c.id for c in created)
            self.mod_index.extend((c.updated_ms, c.id) for c in created)
            self.mod_index.sort()
            return [str(c.id) for c in created]

    def update_contact(self, contact_id: str | int, properties: dict[str, Any], *,
                       at: dt.datetime | None = None, source: dict[str, Any] | None = None) -> None:
        with self._lock:
            c = self._live(int(contact_id))
            if c is None:
                raise KeyError(f"No live contact {contact_id}")
            values = self._control_values(properties)
            owner = self._email_owner(values.get("email"))
            if owner is not None and owner != c.id:
                raise ValueError(f"Contact already exists with email {values['email']} (id {owner})")
            at_ms, at_iso = self._at(at)
            src = self._source(source, default_api=False)
            for name, text in values.items():
                if name not in ("hs_object_id", "lastmodifieddate"):
                    self._set_text(c, name, text, at_iso, src)
            self._touch(c, at_ms, at_iso)

    def get_contact(self, contact_id: str | int) -> dict[str, Any] | None:
        """Everything about one contact (archived too): properties, full history, timestamps."""
        with self._lock:
            c = self.by_id.get(int(contact_id))
            return self._snapshot(c) if c is not None else None

    def contacts(self, *, include_archived: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [self._snapshot(c) for c in self.by_id.values() if include_archived or not c.archived]

    def archive_contact(self, contact_id: str | int, *, at: dt.datetime | None = None) -> None:
        with self._lock:
            c = self.by_id.get(int(contact_id))
            if c is None:
                raise KeyError(f"No contact {contact_id}")
            self._archive(c, self._at(at)[0])

    # ------------------------------------------------------------------ HTTP plumbing

    def _json_response(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        resp = Response("" if body is None else json.dumps(body), status=status,
                        content_type="application/json;charset=utf-8")
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    def _error_body(self, status: int, message: str, category: str, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                                "category": category}
        body.update({k: v for k, v in extra.items() if v is not None})
        return body

    def _error(self, status: int, message: str, category: str, **extra: Any) -> Response:
        body = self._error_body(status, message, category, **extra)
        return self._json_response(status, body, {"X-HubSpot-Correlation-Id": body["correlationId"]})

    def _body(self, request: Request) -> Any:
        raw = request.get_data(as_text=True)
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _ApiError(400, f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}",
                            "VALIDATION_ERROR") from None

    @staticmethod
    def _list_arg(request: Request, name: str) -> list[str]:
        out: list[str] = []
        for item in request.args.getlist(name):
            out.extend(p.strip() for p in item.split(",") if p.strip())
        return out

    @staticmethod
    def _flag(request: Request, name: str) -> bool:
        return request.args.get(name, "false").lower() == "true"

    def _take_fault(self, request: Request) -> Response | None:
        for fault in self._faults:
            if (fault.method is None or fault.method == request.method) and fault.path_contains in request.path:
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                body = fault.body
                if body is None:
                    if fault.status == 429:
                        body = self._rate_body("TEN_SECONDLY_ROLLING")
                    else:
                        body = self._error_body(fault.status, "Injected fault", "INTERNAL_ERROR"
                                                if fault.status >= 500 else "VALIDATION_ERROR")
                if isinstance(body, (dict, list)):
                    resp = self._json_response(fault.status, body, fault.headers)
                else:
                    resp = Response(str(body), status=fault.status, headers=fault.headers)
                return resp
        return None

    def _rate_body(self, policy: str) -> dict[str, Any]:
        messages = {"TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
                    "DAILY": "You have reached your daily limit.",
                    "SECONDLY": "You have reached your secondly limit."}
        groups = {"TEN_SECONDLY_ROLLING": f"publicapi:private-app-ten-secondly-rolling:{self.app_id}:{self.portal_id}",
                  "DAILY": f"publicapi:private-app-daily:{self.portal_id}",
                  "SECONDLY": f"publicapi:crm-search-secondly:{self.portal_id}"}
        return {"status": "error", "message": messages[policy], "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()), "policyName": policy, "groupName": groups[policy],
                "requestId": uuid.uuid4().hex}

    def _rate_headers(self, token: str) -> dict[str, str]:
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

    def _rate_check(self, token: str, is_search: bool) -> Response | None:
        """Count this request; return a 429 response if it is over a limit."""
        if not self.rate_limits:
            return None
        mono = time.monotonic()
        today = self._clock().date()
        if self._daily_day != today:
            self._daily_day, self._daily_used = today, 0
        if self._daily_used >= self.daily_limit:
            headers = {} if is_search else self._rate_headers(token)
            return self._json_response(429, self._rate_body("DAILY"), headers)
        if is_search:
            while self._search_hits and mono - self._search_hits[0] >= 1.0:
                self._search_hits.popleft()
            if len(self._search_hits) >= self.search_limit_per_second:
                return self._json_response(429, self._rate_body("SECONDLY"))
            self._search_hits.append(mono)
        else:
            window = self._burst.setdefault(token, deque())
            while window and mono - window[0] >= self.burst_window_seconds:
                window.popleft()
            if len(window) >= self.burst_limit:
                return self._json_response(429, self._rate_body("TEN_SECONDLY_ROLLING"), self._rate_headers(token))
            window.append(mono)
        self._daily_used += 1
        return None

    def dispatch(self, request: Request) -> Response:
        with self._lock:
            try:
                if request.path.startswith(CONTROL_PREFIX):
                    return self._control(request)
                fault = self._take_fault(request)
                if fault is not None:
                    return fault
                auth = request.headers.get("Authorization", "")
                token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
                if token not in self._tokens or token in self._revoked:
                    return self._error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
                is_search = request.method == "POST" and re.fullmatch(_OBJ + r"/search/?", request.path) is not None
                limited = self._rate_check(token, is_search)
                if limited is not None:
                    return limited
                resp = self._route(request)
                if not is_search and self.rate_limits:
                    for k, v in self._rate_headers(token).items():
                        resp.headers[k] = v
                resp.headers.setdefault("X-HubSpot-Correlation-Id", str(uuid.uuid4()))
                return resp
            except _ApiError as exc:
                return self._error(exc.status, exc.message, exc.category, **exc.extra)

    def _route(self, request: Request) -> Response:
        path, method = request.path.rstrip("/") or "/", request.method
        routes: list[tuple[str, dict[str, Callable[..., Response]]]] = [
            (_OBJ + r"/search", {"POST": self._search}),
            (_OBJ + r"/batch/read", {"POST": self._batch_read}),
            (_OBJ + r"/batch/create", {"POST": self._batch_create}),
            (_OBJ + r"/batch/update", {"POST": self._batch_update}),
            (_OBJ + r"/batch/upsert", {"POST": self._batch_upsert}),
            (_OBJ + r"/batch/archive", {"POST": self._batch_archive}),
            (_OBJ, {"GET": self._list, "POST": self._create}),
            (_OBJ + r"/(?P<cid>[^/]+)", {"GET": self._get, "PATCH": self._update, "DELETE": self._delete}),
            (_PROPS + r"/batch/create", {"POST": self._props_batch_create}),
            (_PROPS + r"/batch/read", {"POST": self._props_batch_read}),
            (_PROPS + r"/batch/archive", {"POST": self._props_batch_archive}),
            (_PROPS + r"/groups", {"GET": self._groups_list, "POST": self._group_create}),
            (_PROPS + r"/groups/(?P<name>[^/]+)", {"GET": self._group_get, "PATCH": self._group_update,
                                                    "DELETE": self._group_delete}),
            (_PROPS, {"GET": self._props_list, "POST": self._prop_create}),
            (_PROPS + r"/(?P<name>[^/]+)", {"GET": self._prop_get, "PATCH": self._prop_update,
                                             "DELETE": self._prop_delete}),
        ]
        for pattern, methods in routes:
            m = re.fullmatch(pattern, path)
            if m:
                handler = methods.get(method)
                if handler is None:
                    return self._error(405, f"HTTP {method} is not supported by {path}", "VALIDATION_ERROR")
                return handler(request, **m.groupdict())
        return self._error(404, f"Resource not found: {method} {request.path}", "OBJECT_NOT_FOUND")

    # ------------------------------------------------------------------ contacts: search

    def _search(self, request: Request) -> Response:
        raw = request.get_data(as_text=True)
        body = self._body(request)
        base = request.host_url.rstrip("/")
        try:
            result = run_search(
                body, raw_length=len(raw), registry=self.registry, store=self, now_ms=self._now_ms(),
                lag_ms=int(self.search_lag_seconds * 1000), limits=self.search_limits,
                render=lambda c, props: self._render(c, props),
                next_link=lambda after: f"{base}/crm/v3/objects/contacts/search?after={after}")
        except SearchError as exc:
            return self._error(400, exc.message, "VALIDATION_ERROR", errors=exc.errors or None)
        return self._json_response(200, result)

    # ------------------------------------------------------------------ contacts: batch

    def _inputs(self, body: Any, *, limit: int = BATCH_LIMIT) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise _ApiError(400, "Invalid input JSON: 'inputs' is required and must be a list", "VALIDATION_ERROR",
                            errors=[{"message": "Required property 'inputs' is missing", "in": "inputs",
                                     "code": "REQUIRED_FIELD"}])
        inputs = body["inputs"]
        if len(inputs) > limit:
            raise _ApiError(400, f"The maximum number of inputs supported in a batch request is {limit}. Please "
                                 "reduce the number of items and try again", "VALIDATION_ERROR",
                            context={"inputs": [str(len(inputs))]})
        if not all(isinstance(i, dict) for i in inputs):
            raise _ApiError(400, "Each input must be an object", "VALIDATION_ERROR")
        return inputs

    def _batch_envelope(self, started: str, results: list[dict[str, Any]],
                        errors: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                               "completedAt": iso_ms(self._now_ms())}
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
        return out

    @staticmethod
    def _names(value: Any, field: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _ApiError(400, f"'{field}' must be a list of property names", "VALIDATION_ERROR")
        return value

    def _batch_read(self, request: Request) -> Response:
        started = iso_ms(self._now_ms())
        body = self._body(request)
        inputs = self._inputs(body)
        history = self._names(body.get("propertiesWithHistory"), "propertiesWithHistory")
        if history and len(inputs) > HISTORY_BATCH_LIMIT:
            raise _ApiError(400, HISTORY_BATCH_MESSAGE, "VALIDATION_ERROR")
        properties = self._names(body.get("properties"), "properties") or list(DEFAULT_CONTACT_PROPERTIES)
        id_property = body.get("idProperty")
        if id_property not in (None, "", "hs_object_id", "email"):
            prop = self.registry.get(id_property)
            if prop is None or not prop.get("hasUniqueValue"):
                raise _ApiError(400, f"Unable to read by non-unique 0-1 property {id_property}", "VALIDATION_ERROR")
        archived = self._flag(request, "archived")
        results, missing, seen = [], [], set()
        for item in inputs:
            raw_id = item.get("id")
            c = self._resolve(raw_id, id_property, archived=archived)
            if c is None:
                missing.append(str(raw_id))
            elif c.id not in seen:
                seen.add(c.id)
                results.append(self._render(c, properties, history))
        errors = []
        if missing:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "message": NOT_FOUND_BATCH,
                           "context": {"ids": missing}})
        return self._json_response(207 if errors else 200, self._batch_envelope(started, results, errors))

    def _validate_inputs(self, inputs: list[dict[str, Any]]) -> list[tuple[dict[str, str], list[PropertyIssue]]]:
        out = []
        for item in inputs:
            props = item.get("properties")
            if not isinstance(props, dict):
                raise _ApiError(400, "Invalid input JSON: each input needs a 'properties' object",
                                "VALIDATION_ERROR", errors=[{"message": "Required property 'properties' is missing",
                                                             "in": "properties", "code": "REQUIRED_FIELD"}])
            out.append(self.registry.validate(props, enforce_read_only=True))
        return out

    def _raise_invalid(self, issues: list[PropertyIssue]) -> None:
        raise _ApiError(400, validation_message(issues, self.portal_id), "VALIDATION_ERROR",
                        errors=validation_errors(issues))

    def _batch_create(self, request: Request) -> Response:
        started = iso_ms(self._now_ms())
        inputs = self._inputs(self._body(request))
        checked = self._validate_inputs(inputs)
        issues = [i for _, iss in checked for i in iss]
        if issues:
            self._raise_invalid(issues)
        seen: set[str] = set()
        for values, _ in checked:
            email = values.get("email", "").lower()
            owner = self._email_owner(email)
            if owner is not None:
                raise _ApiError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
            if email and email in seen:
                raise _ApiError(400, f"Duplicate emails found in batch input: [{email}]", "VALIDATION_ERROR")
            if email:
                seen.add(email)
        at_ms, at_iso = self._at(None)
        src = self._source(None, default_api=True)
        created = [self._new_contact(values, at_ms, at_iso, src) for values, _ in checked]
        self.ids.extend(c.id for c in created)
        for c in created:
            bisect.insort(self.mod_index, (c.updated_ms, c.id))
        results = [self._render(c, list(values)) for c, (values, _) in zip(created, checked)]
        return self._json_response(201, self._batch_envelope(started, results, []))

    def _batch_update(self, request: Request) -> Response:
        started = iso_ms(self._now_ms())
        inputs = self._inputs(self._body(request))
        keys = [(str(i.get("id")), i.get("idProperty")) for i in inputs]
        if any(i.get("id") in (None, "") for i in inputs):
            raise _ApiError(400, "Invalid input JSON: each input needs an 'id'", "VALIDATION_ERROR")
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise _ApiError(400, f"Duplicate IDs found in batch input: [{', '.join(k for k, _ in dupes)}]. IDs must "
                                 "be unique", "VALIDATION_ERROR")
        for _, id_property in keys:
            self._check_id_property(id_property)
        checked = self._validate_inputs(inputs)
        issues = [i for _, iss in checked for i in iss]
        if issues:
            self._raise_invalid(issues)
        at_ms, at_iso = self._at(None)
        src = self._source(None, default_api=True)
        results, missing = [], []
        for item, (values, _) in zip(inputs, checked):
            c = self._resolve(item.get("id"), item.get("idProperty"))
            if c is None:
                missing.append(str(item.get("id")))
                continue
            if "email" in values and values["email"]:
                owner = self._email_owner(values["email"])
                if owner is not None and owner != c.id:
                    raise _ApiError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
            for name, text in values.items():
                self._set_text(c, name, text, at_iso, src)
            self._touch(c, at_ms, at_iso)
            results.append(self._render(c, list(values)))
        errors = []
        if missing:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "message": NOT_FOUND_BATCH,
                           "context": {"ids": missing}})
        return self._json_response(207 if errors else 200, self._batch_envelope(started, results, errors))

    def _batch_upsert(self, request: Request) -> Response:
        started = iso_ms(self._now_ms())
        inputs = self._inputs(self._body(request))
        for item in inputs:
            if item.get("id") in (None, ""):
                raise _ApiError(400, "Invalid input JSON: each input needs an 'id'", "VALIDATION_ERROR")
            if item.get("idProperty") in (None, "", "hs_object_id"):
                raise _ApiError(400, f"Unable to perform update/upsert by non-unique 0-1 property "
                                     f"{item.get('idProperty') or 'hs_object_id'} in portal ID {self.portal_id}",
                                "VALIDATION_ERROR")
            self._check_id_property(item["idProperty"])
        checked = self._validate_inputs(inputs)
        at_ms, at_iso = self._at(None)
        src = self._source(None, default_api=True)
        results, errors = [], []
        for item, (values, issues) in zip(inputs, checked):
            if issues:
                errors.append({"status": "error", "category": "VALIDATION_ERROR",
                               "message": validation_message(issues, self.portal_id),
                               "context": {"ids": [str(item["id"])]}, "errors": validation_errors(issues)})
                continue
            c = self._resolve(item["id"], item["idProperty"])
            is_new = c is None
            if is_new and item["idProperty"] == "email":
                _, issue = self.registry.normalise("email", str(item["id"]), enforce_read_only=True)
                if issue is not None:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": validation_message([issue], self.portal_id),
                                   "context": {"ids": [str(item["id"])]}, "errors": validation_errors([issue])})
                    continue
            if is_new:
                if item["idProperty"] == "email":
                    values.setdefault("email", str(item["id"]))
                else:
                    values.setdefault(item["idProperty"], str(item["id"]))
                c = self._new_contact(values, at_ms, at_iso, src)
                self.ids.append(c.id)
                bisect.insort(self.mod_index, (c.updated_ms, c.id))
            else:
                for name, text in values.items():
                    self._set_text(c, name, text, at_iso, src)
                self._touch(c, at_ms, at_iso)
            rendered = self._render(c, list(values))
            rendered["new"] = is_new
            results.append(rendered)
        return self._json_response(207 if errors else 200, self._batch_envelope(started, results, errors))

    def _batch_archive(self, request: Request) -> Response:
        inputs = self._inputs(self._body(request))
        at_ms = self._now_ms()
        for item in inputs:
            c = self._resolve(item.get("id"), None)
            if c is not None:
                self._archive(c, at_ms)
        return Response(status=204)

    # ------------------------------------------------------------------ contacts: basic

    def _create(self, request: Request) -> Response:
        body = self._body(request)
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise _ApiError(400, "Invalid input JSON: 'properties' is required", "VALIDATION_ERROR")
        values, issues = self.registry.validate(props, enforce_read_only=True)
        if issues:
            self._raise_invalid(issues)
        owner = self._email_owner(values.get("email"))
        if owner is not None:
            raise _ApiError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
        at_ms, at_iso = self._at(None)
        c = self._new_contact(values, at_ms, at_iso, self._source(None, default_api=True))
        self.ids.append(c.id)
        bisect.insort(self.mod_index, (c.updated_ms, c.id))
        return self._json_response(201, self._render(c, list(values)))

    def _get(self, request: Request, cid: str) -> Response:
        id_property = request.args.get("idProperty")
        c = self._resolve(cid, id_property, archived=self._flag(request, "archived"))
        if c is None:
            raise _ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
        properties = self._list_arg(request, "properties") or list(DEFAULT_CONTACT_PROPERTIES)
        history = self._list_arg(request, "propertiesWithHistory")
        return self._json_response(200, self._render(c, properties, history))

    def _update(self, request: Request, cid: str) -> Response:
        id_property = request.args.get("idProperty")
        self._check_id_property(id_property)
        body = self._body(request)
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise _ApiError(400, "Invalid input JSON: 'properties' is required", "VALIDATION_ERROR")
        values, issues = self.registry.validate(props, enforce_read_only=True)
        if issues:
            self._raise_invalid(issues)
        c = self._resolve(cid, id_property)
        if c is None:
            raise _ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
        owner = self._email_owner(values.get("email"))
        if owner is not None and owner != c.id:
            raise _ApiError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
        at_ms, at_iso = self._at(None)
        src = self._source(None, default_api=True)
        for name, text in values.items():
            self._set_text(c, name, text, at_iso, src)
        self._touch(c, at_ms, at_iso)
        return self._json_response(200, self._render(c, list(values)))

    def _delete(self, request: Request, cid: str) -> Response:
        c = self._resolve(cid, None)
        if c is not None:
            self._archive(c, self._now_ms())
        return Response(status=204)

    def _list(self, request: Request) -> Response:
        try:
            limit = int(request.args.get("limit", "10"))
        except ValueError:
            raise _ApiError(400, "limit must be an integer", "VALIDATION_ERROR") from None
        if limit < 1 or limit > LIST_LIMIT:
            raise _ApiError(400, f"limit must be between 1 and {LIST_LIMIT}", "VALIDATION_ERROR")
        after_raw = request.args.get("after")
        after = 0
        if after_raw:
            if not after_raw.isdigit():
                raise _ApiError(400, f"Invalid after cursor '{after_raw}'", "VALIDATION_ERROR")
            after = int(after_raw)
        archived = self._flag(request, "archived")
        properties = self._list_arg(request, "properties") or list(DEFAULT_CONTACT_PROPERTIES)
        history = self._list_arg(request, "propertiesWithHistory")
        if archived:
            pool = sorted(c.id for c in self.by_id.values() if c.archived)
        else:
            pool = self.ids
        start = bisect.bisect_left(pool, after)
        page = pool[start:start + limit]
        body: dict[str, Any] = {"results": [self._render(self.by_id[i], properties, history) for i in page]}
        if start + limit < len(pool):
            nxt = str(pool[start + limit])
            base = request.host_url.rstrip("/")
            body["paging"] = {"next": {"after": nxt, "link": f"{base}/crm/v3/objects/contacts?after={nxt}"}}
        return self._json_response(200, body)

    # ------------------------------------------------------------------ properties API

    def _prop_or_404(self, name: str) -> dict[str, Any]:
        prop = self.registry.get(name)
        if prop is None:
            raise _ApiError(404, f"Unable to find property {name} for object type 0-1", "OBJECT_NOT_FOUND",
                            context={"propertyName": [name]})
        return prop

    def _props_list(self, request: Request) -> Response:
        archived = self._flag(request, "archived")
        results = [copy.deepcopy(p) for p in self.registry.props.values() if bool(p.get("archived")) == archived]
        return self._json_response(200, {"results": results})

    def _prop_get(self, request: Request, name: str) -> Response:
        return self._json_response(200, copy.deepcopy(self._prop_or_404(name)))

    def _make_property(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _ApiError(400, "Invalid input JSON: expected a property definition object", "VALIDATION_ERROR")
        errors = self.registry.check_definition(body, creating=True)
        if errors:
            raise _ApiError(400, "Invalid property definition: " + "; ".join(e["message"] for e in errors),
                            "VALIDATION_ERROR", errors=errors)
        name = body["name"]
        existing = self.registry.props.get(name)
        if existing is not None and not existing.get("archived"):
            raise _ApiError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS",
                            context={"name": [name]})
        prop = self.registry.build_definition(body, iso_ms(self._now_ms()))
        self.registry.props[name] = prop
        return prop

    def _prop_create(self, request: Request) -> Response:
        return self._json_response(201, copy.deepcopy(self._make_property(self._body(request))))

    def _prop_update(self, request: Request, name: str) -> Response:
        prop = self._prop_or_404(name)
        body = self._body(request)
        if not isinstance(body, dict):
            raise _ApiError(400, "Invalid input JSON", "VALIDATION_ERROR")
        if "type" in body and body["type"] != prop["type"] and prop.get("hubspotDefined"):
            raise _ApiError(400, f"Cannot change the type of HubSpot-defined property {name}", "VALIDATION_ERROR")
        errors = self.registry.check_definition({**body, "name": name}, creating=False)
        if errors:
            raise _ApiError(400, "Invalid property definition: " + "; ".join(e["message"] for e in errors),
                            "VALIDATION_ERROR", errors=errors)
        for key in ("label", "description", "groupName", "type", "fieldType", "displayOrder", "hidden",
                    "formField"):
            if key in body:
                prop[key] = body[key]
        if "options" in body:
            prop["options"] = [{"label": o["label"], "value": o["value"], "displayOrder": o.get("displayOrder", i),
                                "hidden": bool(o.get("hidden", False))} for i, o in enumerate(body["options"])]
        prop["updatedAt"] = iso_ms(self._now_ms())
        return self._json_response(200, copy.deepcopy(prop))

    def _prop_delete(self, request: Request, name: str) -> Response:
        prop = self._prop_or_404(name)
        if prop.get("hubspotDefined"):
            raise _ApiError(400, f"Cannot archive HubSpot-defined property {name}", "VALIDATION_ERROR")
        prop["archived"] = True
        prop["archivedAt"] = iso_ms(self._now_ms())
        return Response(status=204)

    def _props_batch_create(self, request: Request) -> Response:
        started = iso_ms(self._now_ms())
        inputs = self._inputs(self._body(request))
        results, errors = [], []
        for item in inputs:
            try:
                results.append(copy.deepcopy(self._make_property(item)))
            except _ApiError as exc:
                errors.append({"status": "error", "category": exc.category, "message": exc.message,
                               "context": {"name": [str(item.get("name"))]}})
        return self._json_response(207 if errors else 201, self._batch_envelope(started, results, errors))

    def _props_batch_read(self, request: Request) -> Response:
        started = iso_ms(self._now_ms())
        body = self._body(request)
        inputs = self._inputs(body)
        archived = bool(body.get("archived", False))
        results, missing = [], []
        for item in inputs:
            prop = self.registry.props.get(str(item.get("name")))
            if prop is None or bool(prop.get("archived")) != archived:
                missing.append(str(item.get("name")))
            else:
                results.append(copy.deepcopy(prop))
        errors = []
        if missing:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                           "message": f"Unable to find some properties for object type 0-1: {missing}",
                           "context": {"names": missing}})
        return self._json_response(207 if errors else 200, self._batch_envelope(started, results, errors))

    def _props_batch_archive(self, request: Request) -> Response:
        for item in self._inputs(self._body(request)):
            prop = self.registry.get(str(item.get("name")))
            if prop is not None and not prop.get("hubspotDefined"):
                prop["archived"] = True
                prop["archivedAt"] = iso_ms(self._now_ms())
        return Response(status=204)

    def _groups_list(self, request: Request) -> Response:
        archived = self._flag(request, "archived")
        return self._json_response(200, {"results": [dict(g) for g in self.registry.groups.values()
                                                     if bool(g.get("archived")) == archived]})

    def _group_or_404(self, name: str) -> dict[str, Any]:
        group = self.registry.groups.get(name)
        if group is None or group.get("archived"):
            raise _ApiError(404, f"Unable to find property group {name} for object type 0-1", "OBJECT_NOT_FOUND")
        return group

    def _group_get(self, request: Request, name: str) -> Response:
        return self._json_response(200, dict(self._group_or_404(name)))

    def _group_create(self, request: Request) -> Response:
        body = self._body(request)
        if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
            raise _ApiError(400, "Invalid property group: 'name' and 'label' are required", "VALIDATION_ERROR",
                            errors=[{"message": "Required properties 'name' and 'label'", "code": "REQUIRED_FIELD"}])
        name = str(body["name"])
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise _ApiError(400, f"Invalid property group name '{name}'", "VALIDATION_ERROR")
        if name in self.registry.groups and not self.registry.groups[name].get("archived"):
            raise _ApiError(409, f"A property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS",
                            context={"name": [name]})
        group = {"name": name, "label": str(body["label"]), "displayOrder": int(body.get("displayOrder", -1)),
                 "archived": False}
        self.registry.groups[name] = group
        return self._json_response(201, dict(group))

    def _group_update(self, request: Request, name: str) -> Response:
        group = self._group_or_404(name)
        body = self._body(request)
        for key in ("label", "displayOrder"):
            if isinstance(body, dict) and key in body:
                group[key] = body[key]
        return self._json_response(200, dict(group))

    def _group_delete(self, request: Request, name: str) -> Response:
        group = self._group_or_404(name)
        group["archived"] = True
        return Response(status=204)

    # ------------------------------------------------------------------ control API over HTTP

    def _control(self, request: Request) -> Response:
        path = request.path[len(CONTROL_PREFIX):].rstrip("/") or "/"
        method = request.method
        body = self._body(request) if method in ("POST", "PATCH", "PUT") else {}
        at = None
        if isinstance(body, dict) and body.get("at"):
            ms = parse_time_ms(str(body["at"]))
            if ms is None:
                raise _ApiError(400, f"Invalid 'at' timestamp {body['at']!r}", "VALIDATION_ERROR")
            at = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
        source = body.get("source") if isinstance(body, dict) else None
        try:
            if path == "/health" and method == "GET":
                return self._json_response(200, {"status": "ok", "contacts": len(self.ids)})
            if path == "/reset" and method == "POST":
                self.reset()
                return self._json_response(200, {"status": "reset"})
            if path == "/contacts" and method == "GET":
                return self._json_response(200, {"results": self.contacts(
                    include_archived=self._flag(request, "includeArchived"))})
            if path == "/contacts" and method == "POST":
                if "contacts" in body:
                    ids = self.create_contacts(body["contacts"], at=at, source=source)
                    return self._json_response(201, {"ids": ids})
                return self._json_response(201, {"id": self.create_contact(body.get("properties") or {}, at=at,
                                                                             source=source)})
            m = re.fullmatch(r"/contacts/(\d+)(/archive)?", path)
            if m and method == "GET" and not m.group(2):
                snap = self.get_contact(m.group(1))
                if snap is None:
                    return self._json_response(404, {"status": "error", "message": "no such contact"})
                return self._json_response(200, snap)
            if m and method == "PATCH" and not m.group(2):
                self.update_contact(m.group(1), body.get("properties") or {}, at=at, source=source)
                return self._json_response(200, self.get_contact(m.group(1)))
            if m and method == "POST" and m.group(2):
                self.archive_contact(m.group(1), at=at)
                return self._json_response(200, self.get_contact(m.group(1)))
            if path == "/faults" and method == "POST":
                self.inject_fault(body.get("method"), body.get("path_contains", ""), int(body["status"]),
                                  body.get("body"), int(body.get("times", 1)), body.get("headers"))
                return self._json_response(201, {"status": "armed"})
            if path == "/clock" and method == "POST":
                return self._json_response(200, self._control_clock(body))
            if path == "/clock" and method == "GET":
                return self._json_response(200, {"now": iso_ms(self._now_ms())})
            if path == "/tokens/revoke" and method == "POST":
                self.revoke_token(str(body["token"]))
                return self._json_response(200, {"status": "revoked"})
            if path == "/tokens" and method == "POST":
                self.add_token(str(body["token"]))
                return self._json_response(201, {"status": "added"})
            if path == "/requests" and method == "GET":
                return self._json_response(200, {"results": [
                    {"method": e.method, "path": e.path, "status": e.status} for e in self.requests.entries()]})
            if path == "/requests" and method == "DELETE":
                self.requests.clear()
                return Response(status=204)
            if path == "/config" and method == "POST":
                return self._json_response(200, self._control_config(body))
        except (KeyError, ValueError, TypeError) as exc:
            return self._json_response(400, {"status": "error", "message": str(exc)})
        return self._json_response(404, {"status": "error", "message": f"No control endpoint {method} {path}"})

    def _control_clock(self, body: dict[str, Any]) -> dict[str, Any]:
        """``{"now": iso}`` freezes the clock; ``{"advance_seconds": n}`` moves a frozen clock; ``{"real": true}``."""
        if body.get("real"):
            self._clock = _utcnow
        elif "now" in body:
            ms = parse_time_ms(str(body["now"]))
            if ms is None:
                raise ValueError(f"Invalid 'now' {body['now']!r}")
            fixed = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
            self._clock = lambda: fixed
        if "advance_seconds" in body:
            current = self._clock() + dt.timedelta(seconds=float(body["advance_seconds"]))
            self._clock = lambda: current
        return {"now": iso_ms(self._now_ms())}

    def _control_config(self, body: dict[str, Any]) -> dict[str, Any]:
        for key in ("search_lag_seconds", "rate_limits", "burst_limit", "burst_window_seconds", "daily_limit",
                    "search_limit_per_second"):
            if key in body:
                setattr(self, key, type(getattr(self, key))(body[key]))
        return {k: getattr(self, k) for k in ("search_lag_seconds", "rate_limits", "burst_limit",
                                              "burst_window_seconds", "daily_limit", "search_limit_per_second")}
