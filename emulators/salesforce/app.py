"""A Salesforce REST API emulator: OAuth token flows, sObject CRUD, sObject Collections,
SOQL query with paging, describe, limits, and a control API for tests and the demo.

Faithful to the public REST API docs where they speak (status codes, error bodies, paging,
limits); where they are silent it does what a real org does as far as we know. Deviations are
listed in the class docstring of :class:`SalesforceEmulator`.

Usage::

    emulator = SalesforceEmulator()
    emulator.register_client("syncd", client_secret="s3cret")
    with EmulatorServer(emulator, tls=make_tls_material(tmp)) as server:
        token = requests.post(server.url + "/services/oauth2/token", data={...}).json()

This class is the composition root: it owns the org's state (``store``, ``oauth``, ``usage``,
``faults``) and one lock, and routes each request to the object that handles it
(``sobjects_api``, ``collections_api``, ``query_api``; ``control`` for ``/__emulator``). Each
handler is given the parts it uses (the store, the clock), once: they live as long as the
emulator, and ``reset`` empties them in place. The handlers take no lock; this class holds it
around every call into them and around every control-API method, so the threaded server and
the Python control API can be used at the same time.

Users: every org has an integration user (``default_user_id``, whom client-credentials tokens
act as unless the app names a run-as user) and a salesperson (``sales_user_id``). The control
API acts as the salesperson unless told otherwise (``as_user``: a User id or username), so
``LastModifiedById`` tells syncd's writes (the session's user) from Sales' work, as in a real org.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import traceback
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from emulators.faults import FaultQueue
from emulators.salesforce.coercion import canonical, loose_equal
from emulators.salesforce.collections_api import CollectionsApi
from emulators.salesforce.control import SalesforceControl
from emulators.salesforce.conversion import convert_lead
from emulators.salesforce.demo_org import demo_schema
from emulators.salesforce.errors import (
    RequestError,
    SalesforceEmulatorError,
    json_response,
    method_not_allowed,
    not_found,
)
from emulators.salesforce.ids import normalize_id
from emulators.salesforce.limits import ApiUsage
from emulators.salesforce.merging import merge_leads
from emulators.salesforce.oauth import Client, OAuthServer, Session, load_public_key
from emulators.salesforce.query_api import QueryApi
from emulators.salesforce.schema import FieldDef, Schema
from emulators.salesforce.sobjects_api import SObjectsApi
from emulators.salesforce.store import RecordStore
from emulators.salesforce import weather as salesforce_weather
from emulators.salesforce.wire import raw_segments, version_label, version_tuple
from emulators.server import CONTROL_PREFIX, EmulatorApp

LATEST_VERSION = "62.0"
OLDEST_VERSION = "31.0"
DEFAULT_USERNAME = "integration@syncd.example"
SALES_USERNAME = "sales@syncd.example"
MAX_URI_BYTES = 16_384
_VERSION_RE = re.compile(r"^/services/data/v(\d{1,3}\.\d)(?:/(.*))?$")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class SalesforceEmulator(EmulatorApp):
    """The emulated org. Python control API below; the same over HTTP under ``/__emulator``.

    Deviations from real Salesforce, chosen on purpose:

    * Sessions time out after ``session_ttl_seconds`` of *inactivity* on the emulator clock
      (Salesforce's session timeout); ``expire_sessions()`` invalidates every token at once.
    * The daily API allocation is a rolling 24 h window on the emulator clock (``limits``).
    * Injected faults are answered before authentication and don't count against the limit.
    * At most 10 query cursors stay open (``query_api``).
    """

    # The bad days it has (emulators.weather), and how it answers them.
    weather_kinds, weather_answer = salesforce_weather.KINDS, salesforce_weather.answer

    def __init__(self, *, api_limit: int = 100_000, session_ttl_seconds: float = 7200,
                 clock: Callable[[], dt.datetime] | None = None, schema: Schema | None = None,
                 org_id: str = "00DDm0000000001", latest_version: str = LATEST_VERSION,
                 latency_seconds: float = 0.0) -> None:
        super().__init__(latency_seconds=latency_seconds)
        self.lock = threading.RLock()
        self._clock = clock or _utcnow
        self.schema = schema if schema is not None else demo_schema()
        self._initial_api_limit = api_limit
        self.latest_version = latest_version
        self.org_id = org_id[:15]
        self.store = RecordStore(self.schema, self.now)
        self.oauth = OAuthServer(self.store, org_id=self.org_id, now=self.now,
                                 session_ttl=dt.timedelta(seconds=session_ttl_seconds))
        self.faults = FaultQueue()
        self.sobjects_api = SObjectsApi(self.store)
        self.collections_api = CollectionsApi(self.store)
        self.query_api = QueryApi(self.store, self.now)
        self.control = SalesforceControl(self)
        self._reset_state()

    # ------------------------------------------------------------------ state & clock

    def _reset_state(self) -> None:
        with self.lock:
            self.store.clear()
            self.store.default_user_id = self.store.create_user(DEFAULT_USERNAME, "Integration", "User")
            self.sales_user_id = self.store.create_user(SALES_USERNAME, "Sam", "Sales")
            self.oauth.sessions.clear()
            self.query_api.cursors.clear()
            self.faults.clear()
            self.weather.set(None)
            self.usage = ApiUsage(self._initial_api_limit, self.now)
            for client in self.oauth.clients.values():
                if client.username:
                    self.store.ensure_user(client.username)

    @property
    def default_user_id(self) -> str | None:
        """The integration user: whom tokens act as unless the connected app names a run-as user."""
        return self.store.default_user_id

    @property
    def api_limit(self) -> int:
        return self.usage.limit

    def now(self) -> dt.datetime:
        """The emulator clock, as an aware UTC datetime truncated to milliseconds."""
        value = self._clock()
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    def _acting_user(self, as_user: str | None) -> str:
        """The User a control-API write is made as: a User id, a username, or (None) Sales."""
        if as_user is None:
            return self.sales_user_id
        rid = normalize_id(as_user)
        if rid is not None and rid.startswith("005"):
            if self.store.resolve("User", rid) is None:
                raise SalesforceEmulatorError([{"statusCode": "INVALID_CROSS_REFERENCE_KEY",
                                                "message": f"no such user {as_user}", "fields": []}])
            return rid
        return self.store.ensure_user(as_user)

    # ------------------------------------------------------------------ control API

    def register_client(self, client_id: str, client_secret: str | None = None,
                        jwt_public_key_pem: str | bytes | None = None,
                        username: str | None = None) -> None:
        """Register a connected app: a secret enables client credentials, a public key (PEM,
        or a PEM certificate) enables the JWT bearer flow for ``username``."""
        public_key = load_public_key(jwt_public_key_pem) if jwt_public_key_pem is not None else None
        with self.lock:
            self.oauth.clients[client_id] = Client(client_id, client_secret, public_key, username)
            if username:
                self.store.ensure_user(username)

    def add_field(self, sobject: str, fd: FieldDef) -> None:
        """Add (or replace) a field in the org's schema; indexes it if needed."""
        with self.lock:
            self.schema.add_field(sobject, fd)
            obj = self.store.obj(sobject)
            self.store.meta_cache.pop(obj.name, None)
            self.store.index.pop((obj.name, fd.name), None)
            if fd.indexed:
                for rec in self.store.records[obj.name].values():
                    if not rec.get("IsDeleted"):
                        self.store.index_add(obj, fd, rec.get(fd.name), rec["Id"])

    def insert(self, sobject: str, fields: dict[str, Any], *, validate: bool = True,
               as_user: str | None = None) -> str:
        """Create a record, validated like the API (``validate=False`` also allows read-only
        fields such as CreatedDate). Raises :class:`SalesforceEmulatorError`."""
        with self.lock:
            obj = self.store.obj(sobject)
            values = self.store.control_prepare(obj, fields, allow_id=False)
            rid, errors = self.store.write(obj, values, existing=None, user_id=self._acting_user(as_user),
                                           journal=[], validate=validate)
            if errors:
                raise SalesforceEmulatorError(errors)
            assert rid is not None
            return rid

    def update(self, sobject: str, record_id: str, fields: dict[str, Any], *,
               validate: bool = True, as_user: str | None = None) -> None:
        with self.lock:
            obj = self.store.obj(sobject)
            existing, error = self.store.lookup_for_write(obj, record_id)
            if error:
                raise SalesforceEmulatorError([error])
            values = self.store.control_prepare(obj, fields, allow_id=True)
            values.pop("Id", None)
            _, errors = self.store.write(obj, values, existing=existing, user_id=self._acting_user(as_user),
                                         journal=[], validate=validate)
            if errors:
                raise SalesforceEmulatorError(errors)

    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        """The record's fields (JSON-style values), or None if missing or deleted."""
        with self.lock:
            obj = self.store.obj(sobject)
            rid = normalize_id(record_id)
            rec = self.store.records[obj.name].get(rid) if rid else None
            if rec is None or rec.get("IsDeleted"):
                return None
            return self.store.render(obj, rec)

    def all(self, sobject: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            obj = self.store.obj(sobject)
            return [self.store.render(obj, rec) for rec in self.store.records[obj.name].values()
                    if include_deleted or not rec.get("IsDeleted")]

    def count(self, sobject: str) -> int:
        """How many live records of this type exist."""
        with self.lock:
            obj = self.store.obj(sobject)
            return sum(1 for rec in self.store.records[obj.name].values() if not rec.get("IsDeleted"))

    def delete(self, sobject: str, record_id: str) -> None:
        with self.lock:
            obj = self.store.obj(sobject)
            error = self.store.delete(obj, record_id, journal=[])
            if error:
                raise SalesforceEmulatorError([error])

    def find(self, sobject: str, **criteria: Any) -> list[dict[str, Any]]:
        """Records whose fields equal ``criteria`` (text compared case-insensitively)."""
        with self.lock:
            obj = self.store.obj(sobject)
            out = []
            for rec in self.store.records[obj.name].values():
                if rec.get("IsDeleted"):
                    continue
                rendered = self.store.render(obj, rec)
                if all(loose_equal(rendered.get(canonical(obj, k)), v) for k, v in criteria.items()):
                    out.append(rendered)
            return out

    def find_ids(self, sobject: str, field: str, value: Any) -> list[str]:
        """Ids of live records whose ``field`` equals ``value`` (by index when the field has one)."""
        with self.lock:
            obj = self.store.obj(sobject)
            fd = self.store.field(obj, field)
            return self.store.lookup_index(obj, fd, value)

    def convert_lead(self, lead_id: str, *, opportunity: dict[str, Any] | None = None,
                     account_id: str | None = None, as_user: str | None = None) -> dict[str, str | None]:
        """Convert a Lead as a salesperson would (see ``conversion``); made as ``as_user``
        (default: the org's salesperson)."""
        with self.lock:
            return convert_lead(self.store, lead_id, user_id=self._acting_user(as_user),
                                opportunity=opportunity, account_id=account_id)

    def merge_leads(self, master_id: str, loser_ids: list[str], *, as_user: str | None = None) -> dict[str, Any]:
        """Merge up to two Leads into ``master_id`` as a salesperson would (see ``merging``)."""
        with self.lock:
            return merge_leads(self.store, master_id, loser_ids, user_id=self._acting_user(as_user))

    def expire_sessions(self) -> None:
        """Invalidate every access token issued so far (the next call gets 401)."""
        with self.lock:
            self.oauth.sessions.clear()

    def set_api_limit(self, limit: int) -> None:
        with self.lock:
            self.usage.limit = limit

    @property
    def api_usage(self) -> int:
        with self.lock:
            return self.usage.used

    def inject_fault(self, method: str | None, path_contains: str, status: int,
                     body: Any = None, times: int = 1,
                     headers: dict[str, str] | None = None) -> None:
        """The next ``times`` API requests whose method matches (None: any) and whose path
        contains ``path_contains`` get ``status`` with ``body`` (JSON unless a str)."""
        self.faults.arm(method, path_contains, status, body, times, headers)

    def reset(self) -> None:
        """Forget all data, tokens, cursors, faults, API usage and the request log (registered
        clients and schema stay)."""
        with self.lock:
            self._reset_state()
            self.requests.clear()

    def issue_token(self, client_id: str | None = None, username: str | None = None) -> str:
        """An access token without the OAuth dance (for tests that aren't about auth)."""
        with self.lock:
            user_id = self.store.ensure_user(username) if username else self.default_user_id
            assert user_id is not None
            return self.oauth.new_session(client_id or "control", user_id).token

    # ------------------------------------------------------------------ HTTP

    def _fault_response(self, method: str, path: str) -> Response | None:
        fault = self.faults.take(method, path)
        if fault is None:
            return None
        if isinstance(fault.body, (str, bytes)):
            return Response(fault.body, status=fault.status, headers=fault.headers,
                            content_type="text/plain;charset=UTF-8")
        return json_response(fault.status, fault.body, fault.headers)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith(CONTROL_PREFIX):
            return self.control.handle(request)
        fault = self._fault_response(request.method, path)
        if fault is not None:
            return fault
        uri = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or request.full_path
        if len(uri) > MAX_URI_BYTES:
            # Salesforce refuses request URIs over 16 KB before looking at them (a long SOQL query
            # travels in the URI); clients must split their IN (...) lists.
            return json_response(414, [{"message": f"Request-URI of {len(uri)} bytes is too long "
                                                   f"(max {MAX_URI_BYTES})", "errorCode": "URI_TOO_LONG"}])
        try:
            if path == "/services/oauth2/token":
                with self.lock:
                    return self.oauth.token_endpoint(request)
            if path in ("/services/data", "/services/data/"):
                if request.method != "GET":
                    raise method_not_allowed(request.method, "GET")
                return json_response(200, self._versions())
            m = _VERSION_RE.match(path)
            if not m:
                raise not_found()
            version = m.group(1)
            with self.lock:
                session = self.oauth.authenticate(request)
                if not self.usage.try_count():
                    return json_response(403, [{"message": "TotalRequests Limit exceeded.",
                                                "errorCode": "REQUEST_LIMIT_EXCEEDED"}], self.usage.header())
                try:
                    response = self._route(request, version, session)
                except RequestError as e:
                    response = json_response(e.status, e.body())
                except Exception as e:  # an emulator bug: answer like Salesforce, log loudly
                    traceback.print_exc()
                    response = json_response(500, [{"message": f"An unexpected error occurred: "
                                                               f"{type(e).__name__}: {e}",
                                                    "errorCode": "UNKNOWN_EXCEPTION"}])
                response.headers["Sforce-Limit-Info"] = self.usage.header()["Sforce-Limit-Info"]
                return response
        except RequestError as e:
            return json_response(e.status, e.body())

    def _versions(self) -> list[dict[str, str]]:
        lo, hi = version_tuple(OLDEST_VERSION)[0], version_tuple(self.latest_version)[0]
        return [{"label": version_label(f"{major}.0"), "url": f"/services/data/v{major}.0", "version": f"{major}.0"}
                for major in range(lo, hi + 1)]

    def _route(self, request: Request, version: str, session: Session) -> Response:
        method = request.method
        segments = raw_segments(request)[3:]  # drop services, data, vXX.X
        while segments and segments[-1] == "":
            segments.pop()
        head = segments[0] if segments else ""
        if not segments:
            if method != "GET":
                raise method_not_allowed(method, "GET")
            base = f"/services/data/v{version}"
            return json_response(200, {name: f"{base}/{name}" for name in
                                       ("sobjects", "query", "queryAll", "limits", "composite")})
        if head == "limits" and len(segments) == 1:
            if method != "GET":
                raise method_not_allowed(method, "GET")
            return json_response(200, self.usage.limits_body())
        if head in ("query", "queryAll"):
            if method != "GET":
                raise method_not_allowed(method, "GET")
            if len(segments) == 1:
                return self.query_api.query(request, version, head)
            if len(segments) == 2:
                return self.query_api.query_more(request, version, head, segments[1])
            raise not_found()
        if head == "sobjects":
            return self.sobjects_api.handle(request, version, segments[1:], session)
        if head == "composite" and len(segments) >= 2 and segments[1] == "sobjects":
            if version_tuple(version) < (42, 0):
                raise not_found()
            return self.collections_api.handle(request, version, segments[2:], session)
        raise not_found()
