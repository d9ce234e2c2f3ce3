"""HubSpot CRM v3 emulator: contacts (basic, batch, search) and contact properties.

A ``HubSpotEmulator`` is a WSGI app (serve it with ``EmulatorServer``, over TLS) that behaves
like the parts of HubSpot's public CRM v3 API syncd uses, faithful to the documented status
codes, bodies and limits:

* private-app bearer tokens (401 ``INVALID_AUTHENTICATION`` otherwise), each with its scopes
  (all by default; 403 ``MISSING_SCOPES`` for a call that needs another) and the private-app
  token introspection endpoint (``scopes``);
* rate limits (``rate_limits``): burst window, daily limit, search per second;
* contacts with numeric-string ids allocated in ascending order, string property values
  (``null`` when empty), per-property history, ``createdate``/``lastmodifieddate`` (``store``);
* search (``search``), batch read/create/update/upsert/archive (``batch_api``), basic CRUD,
  paged listing (archived too), merge and GDPR delete (``contacts_api``, ``merges``), and the
  properties / property-groups API
  (``properties_api``, definitions in ``property_definitions``);
* error bodies ``{status, message, correlationId, category[, errors, context]}`` (``errors``).

This class is the composition root: it owns the state (the ``portal``: store, registry and
clock; the limiter, faults and tokens) and one lock, and routes each request to the object that
handles it. Each handler is given the portal once (the contacts handler also the search engine);
none of them locks: this class holds the lock around every request and control-API call. The Python
control API (``create_contact``, ``create_contacts``, ``update_contact``, ``get_contact``,
``contacts``, ``archive_contact``, ``merge_contacts``, ``restore_contact``, ``gdpr_delete_contact``,
``seed_contacts``, ``set_clock``, ``inject_fault``,
``revoke_token``, ``set_token_scopes``, ``reset``) is mirrored over HTTP by ``control``.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from typing import Any, Callable, Iterable

from werkzeug.wrappers import Request, Response

from emulators.faults import FaultQueue
from emulators.hubspot import merges
from emulators.hubspot import scopes as scope_rules
from emulators.hubspot.batch_api import ContactBatchApi
from emulators.hubspot.contacts_api import ContactsApi
from emulators.hubspot.control import HubSpotControl
from emulators.hubspot.errors import AUTH_MESSAGE, ApiError, error_body, error_response, json_response
from emulators.hubspot.portal import Portal
from emulators.hubspot.properties import PropertyRegistry, validation_message
from emulators.hubspot.properties_api import PropertiesApi
from emulators.hubspot.rate_limits import SETTINGS as LIMIT_SETTINGS
from emulators.hubspot.rate_limits import RateLimiter
from emulators.hubspot.search import ContactSearch, SearchLimits
from emulators.hubspot.seeding import seed_contacts
from emulators.hubspot.store import ContactStore
from emulators.hubspot import weather as hubspot_weather
from emulators.server import CONTROL_PREFIX, EmulatorApp

_OBJ = r"/crm/v3/objects/(?:contacts|0-1)"
_PROPS = r"/crm/v3/properties/(?:contacts|0-1)"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class HubSpotEmulator(EmulatorApp):
    """The HubSpot CRM v3 emulator (one portal, contacts only)."""

    # The bad days it has (emulators.weather), and how it answers them.
    weather_kinds, weather_answer = hubspot_weather.KINDS, hubspot_weather.answer

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
        search_in_burst: bool = False,
        max_filter_groups: int = 5,
        max_filters_per_group: int = 6,
        max_filters_total: int = 18,
        portal_id: int = 12345678,
        app_id: int = 3456789,
        first_id: int = 1,
        latency_seconds: float = 0.0,
        merge_mints_new_id: bool = True,
    ) -> None:
        super().__init__(latency_seconds=latency_seconds)
        self._lock = threading.RLock()
        self._tokens: set[str] = set(access_tokens)
        self._revoked: set[str] = set()
        self._scopes: dict[str, frozenset[str]] = {}     # a token's scopes when not all (scope_rules)
        self.limiter = RateLimiter(enabled=bool(rate_limits), burst_limit=burst_limit,
                                   burst_window_seconds=burst_window_seconds, daily_limit=daily_limit,
                                   search_limit_per_second=search_limit_per_second, search_in_burst=search_in_burst,
                                   portal_id=portal_id, app_id=app_id)
        self.search = ContactSearch(SearchLimits(max_filter_groups=max_filter_groups,
                                                 max_filters_per_group=max_filters_per_group,
                                                 max_filters_total=max_filters_total))
        self.portal_id = portal_id
        self.app_id = app_id
        self.portal = Portal(portal_id=portal_id, app_id=app_id, first_id=first_id, clock=clock or _utcnow,
                             search_lag_seconds=float(search_lag_seconds), merge_mints_new_id=merge_mints_new_id)
        self.faults = FaultQueue()
        self.contacts_api = ContactsApi(self.portal, self.search)
        self.batch_api = ContactBatchApi(self.portal)
        self.properties_api = PropertiesApi(self.portal)
        self.control = HubSpotControl(self)

    # ------------------------------------------------------------------ state

    @property
    def store(self) -> ContactStore:
        return self.portal.store

    @property
    def registry(self) -> PropertyRegistry:
        return self.portal.registry

    @property
    def search_lag_seconds(self) -> float:
        return self.portal.search_lag_seconds

    @search_lag_seconds.setter
    def search_lag_seconds(self, seconds: float) -> None:
        self.portal.search_lag_seconds = float(seconds)

    def _reset_state(self) -> None:
        self.portal.reset()
        self.faults.clear()
        self.weather.set(None)
        self.limiter.reset()

    def reset(self) -> None:
        """Forget contacts, custom properties, faults, rate-limit counters, revocations and the request log.

        Tokens (constructor ones and those added with ``add_token``) stay valid, with all scopes; revoked ones
        work again."""
        with self._lock:
            self._reset_state()
            self._revoked.clear()
            self._scopes.clear()
            self.requests.clear()

    def set_clock(self, clock: Callable[[], dt.datetime] | None) -> None:
        """Use ``clock`` for timestamps and the search lag (None: the real clock again)."""
        with self._lock:
            self.portal.clock = clock or _utcnow

    # The portal's clock, and how its writes are recorded (see ``Portal``).

    def now(self) -> dt.datetime:
        return self.portal.clock()

    def now_ms(self) -> int:
        return self.portal.now_ms()

    def now_iso(self) -> str:
        return self.portal.now_iso()

    def at(self, at: dt.datetime | None) -> tuple[int, str]:
        return self.portal.at(at)

    def source(self, source: dict[str, Any] | None, default_api: bool) -> dict[str, Any]:
        return self.portal.source(source, default_api)

    def configure(self, values: dict[str, Any]) -> dict[str, Any]:
        """Change search lag and rate limits at run time; returns the settings now in force."""
        with self._lock:
            if "search_lag_seconds" in values:
                self.search_lag_seconds = float(values["search_lag_seconds"])
            if "merge_mints_new_id" in values:
                self.portal.merge_mints_new_id = bool(values["merge_mints_new_id"])
            self.limiter.configure(values)
            return {"search_lag_seconds": self.search_lag_seconds, "merge_mints_new_id": self.portal.merge_mints_new_id,
                    **self.limiter.settings()}

    def revoke_token(self, token: str) -> None:
        """Requests with this token get 401 from now on (until ``add_token`` or ``reset``)."""
        with self._lock:
            self._revoked.add(token)

    def add_token(self, token: str) -> None:
        with self._lock:
            self._tokens.add(token)
            self._revoked.discard(token)

    def set_token_scopes(self, token: str, scopes: Iterable[str] | None) -> None:
        """The scopes ``token`` carries from now on (None: all of them, the default)."""
        with self._lock:
            if scopes is None:
                self._scopes.pop(token, None)
            else:
                self._scopes[token] = frozenset(scopes)

    def token_scopes(self, token: str) -> frozenset[str] | None:
        """A valid token's scopes; None for a token that is unknown or revoked."""
        if token not in self._tokens or token in self._revoked:
            return None
        return self._scopes.get(token, scope_rules.ALL_SCOPES)

    def inject_fault(self, method: str | None, path_contains: str, status: int, body: Any = None,
                     times: int = 1, headers: dict[str, str] | None = None, after: int = 0) -> None:
        """The next ``times`` API requests matching method (None/"*" = any) and path substring get this
        response, once ``after`` matching requests have been answered normally (a failure mid-run)."""
        self.faults.arm(method, path_contains, status, body, times, headers, after)

    # ------------------------------------------------------------------ control API (Python)

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
            validated = [self._control_values(p) for p in contacts]
            seen: set[str] = set()
            for v in validated:
                email = (v.get("email") or "").lower()
                if email and (email in seen or self.store.email_owner(email) is not None):
                    raise ValueError(f"Contact already exists with email {email}")
                if email:
                    seen.add(email)
            at_ms, at_iso, src = self.portal.write_stamp(at, source, by_api=False)
            created = [self.store.new_contact(v, at_ms, at_iso, src) for v in validated]
            self.store.add_many(created)
            return [str(c.id) for c in created]

    def seed_contacts(self, count: int, *, at: dt.datetime | None = None, seed: int = 7,
                      forms_per_contact: int = 3) -> list[str]:
        """``count`` synthetic qualified contacts with form history, last modified at ``at`` (see ``seeding``)."""
        with self._lock:
            return seed_contacts(self.store, count, at_ms=self.at(at)[0], seed=seed,
                                 forms_per_contact=forms_per_contact)

    def update_contact(self, contact_id: str | int, properties: dict[str, Any], *,
                       at: dt.datetime | None = None, source: dict[str, Any] | None = None) -> None:
        with self._lock:
            c = self.store.live(int(contact_id))
            if c is None:
                raise KeyError(f"No live contact {contact_id}")
            values = self._control_values(properties)
            owner = self.store.email_owner(values.get("email"))
            if owner is not None and owner != c.id:
                raise ValueError(f"Contact already exists with email {values['email']} (id {owner})")
            self.store.update(c, values, *self.portal.write_stamp(at, source, by_api=False))

    def get_contact(self, contact_id: str | int) -> dict[str, Any] | None:
        """Everything about one contact (archived too): properties, full history, timestamps."""
        with self._lock:
            c = self.store.by_id.get(int(contact_id))
            return self.store.snapshot(c) if c is not None else None

    def contacts(self, *, include_archived: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [self.store.snapshot(c) for c in self.store.by_id.values() if include_archived or not c.archived]

    def archive_contact(self, contact_id: str | int, *, at: dt.datetime | None = None) -> None:
        with self._lock:
            c = self.store.by_id.get(int(contact_id))
            if c is None:
                raise KeyError(f"No contact {contact_id}")
            self.store.archive(c, self.at(at)[0])

    def merge_contacts(self, primary_id: str | int, other_id: str | int, *, at: dt.datetime | None = None) -> str:
        """Merge ``other_id`` into ``primary_id`` as the merge endpoint does; the surviving id."""
        with self._lock:
            primary, other = self.store.live(int(primary_id)), self.store.live(int(other_id))
            if primary is None or other is None:
                raise KeyError(f"No live contact {primary_id if primary is None else other_id}")
            at_ms, at_iso = self.at(at)
            return str(merges.merge(self.store, primary, other, at_ms, at_iso,
                                    mints_new_id=self.portal.merge_mints_new_id).id)

    def restore_contact(self, contact_id: str | int, *, at: dt.datetime | None = None) -> None:
        """An archived contact back from the recycle bin, with its id."""
        with self._lock:
            c = self.store.by_id.get(int(contact_id))
            if c is None or not c.archived:
                raise KeyError(f"No archived contact {contact_id}")
            merges.restore(self.store, c, *self.at(at))

    def gdpr_delete_contact(self, contact_id: str | int) -> None:
        """Delete a contact for good, as the GDPR delete endpoint does."""
        with self._lock:
            c = self.store.by_id.get(int(contact_id))
            if c is None:
                raise KeyError(f"No contact {contact_id}")
            merges.purge(self.store, c)

    # ------------------------------------------------------------------ HTTP

    def _fault_response(self, request: Request) -> Response | None:
        fault = self.faults.take(request.method, request.path)
        if fault is None:
            return None
        body = fault.body
        if body is None:
            if fault.status == 429:
                body = self.limiter.body("TEN_SECONDLY_ROLLING")
            else:
                body = error_body("Injected fault", "INTERNAL_ERROR" if fault.status >= 500 else "VALIDATION_ERROR")
        if isinstance(body, (dict, list)):
            return json_response(fault.status, body, fault.headers)
        return Response(str(body), status=fault.status, headers=fault.headers)

    def dispatch(self, request: Request) -> Response:
        with self._lock:
            try:
                if request.path.startswith(CONTROL_PREFIX):
                    return self.control.handle(request)
                fault = self._fault_response(request)
                if fault is not None:
                    return fault
                if request.path.rstrip("/") == scope_rules.TOKEN_INFO_PATH and request.method == "POST":
                    key = (request.get_json(silent=True) or {}).get("tokenKey")
                    key = key if isinstance(key, str) else None
                    return scope_rules.token_info(key, self.token_scopes(key or ""), hub_id=self.portal_id,
                                                  app_id=self.app_id)
                auth = request.headers.get("Authorization", "")
                token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
                granted = self.token_scopes(token)
                if granted is None:
                    return error_response(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
                needed = scope_rules.required_scope(request.method, request.path)
                if needed is not None and needed not in granted:
                    return scope_rules.missing_scopes(needed)
                is_search = request.method == "POST" and re.fullmatch(_OBJ + r"/search/?", request.path) is not None
                limited = self.limiter.check(token, is_search, self.now().date())
                if limited is not None:
                    return limited
                resp = self._route(request)
                if not is_search and self.limiter.rate_limits:
                    for k, v in self.limiter.headers(token).items():
                        resp.headers[k] = v
                resp.headers.setdefault("X-HubSpot-Correlation-Id", str(uuid.uuid4()))
                return resp
            except ApiError as exc:
                return error_response(exc.status, exc.message, exc.category, **exc.extra)

    def _routes(self) -> list[tuple[str, dict[str, Callable[..., Response]]]]:
        contacts, batch, props = self.contacts_api, self.batch_api, self.properties_api
        return [
            (_OBJ + r"/search", {"POST": contacts.search}),
            (_OBJ + r"/batch/read", {"POST": batch.read}),
            (_OBJ + r"/batch/create", {"POST": batch.create}),
            (_OBJ + r"/batch/update", {"POST": batch.update}),
            (_OBJ + r"/batch/upsert", {"POST": batch.upsert}),
            (_OBJ + r"/batch/archive", {"POST": batch.archive}),
            (_OBJ + r"/merge", {"POST": contacts.merge}),
            (_OBJ + r"/gdpr-delete", {"POST": contacts.gdpr_delete}),
            (_OBJ, {"GET": contacts.list, "POST": contacts.create}),
            (_OBJ + r"/(?P<cid>[^/]+)", {"GET": contacts.get, "PATCH": contacts.update, "DELETE": contacts.delete}),
            (_PROPS + r"/batch/create", {"POST": props.batch_create}),
            (_PROPS + r"/batch/read", {"POST": props.batch_read}),
            (_PROPS + r"/batch/archive", {"POST": props.batch_archive}),
            (_PROPS + r"/groups", {"GET": props.groups_list, "POST": props.group_create}),
            (_PROPS + r"/groups/(?P<name>[^/]+)", {"GET": props.group_get, "PATCH": props.group_update,
                                                    "DELETE": props.group_delete}),
            (_PROPS, {"GET": props.list, "POST": props.create}),
            (_PROPS + r"/(?P<name>[^/]+)", {"GET": props.get, "PATCH": props.update, "DELETE": props.delete}),
        ]

    def _route(self, request: Request) -> Response:
        path, method = request.path.rstrip("/") or "/", request.method
        for pattern, methods in self._routes():
            m = re.fullmatch(pattern, path)
            if m:
                handler = methods.get(method)
                if handler is None:
                    return error_response(405, f"HTTP {method} is not supported by {path}", "VALIDATION_ERROR")
                if pattern.startswith(_PROPS) and method != "GET":
                    self.store.changed()  # a definition may change what search matches
                return handler(request, **m.groupdict())
        return error_response(404, f"Resource not found: {method} {request.path}", "OBJECT_NOT_FOUND")


def _limit_setting(name: str) -> property:
    """``emulator.burst_limit`` etc. read and set the rate limiter's setting."""
    return property(lambda self: getattr(self.limiter, name),
                    lambda self, value: setattr(self.limiter, name, value))


for _name in LIMIT_SETTINGS:
    setattr(HubSpotEmulator, _name, _limit_setting(_name))
