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

Everything that touches state holds one lock, so the threaded server and the Python control
API can be used at the same time.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import unquote

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from werkzeug.wrappers import Request, Response

from emulators import soql
from emulators.salesforce_schema import (
    NUMBER_TYPES,
    STAGE_PROBABILITY,
    STRING_TYPES,
    FieldDef,
    Schema,
    SObjectDef,
    demo_schema,
    id_checksum,
    make_id,
    normalize_id,
    render_value,
)
from emulators.server import CONTROL_PREFIX, EmulatorApp

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
MAX_COLLECTION_SIZE = 200
DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
QUERY_LOCATOR_TTL = dt.timedelta(minutes=15)
MAX_OPEN_CURSORS = 10  # per org here; Salesforce allows 10 open query cursors per user
LATEST_VERSION = "62.0"
OLDEST_VERSION = "31.0"
DEFAULT_USERNAME = "integration@syncd.example"

_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?")
_VERSION_RE = re.compile(r"^/services/data/v(\d{1,3}\.\d)(?:/(.*))?$")
_SEASONS = ("Winter", "Summer", "Spring")


MAX_URI_BYTES = 16_384


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def _version_label(version: str) -> str:
    """Release name of an API version: v60.0 is Spring '24, v61.0 Summer '24, v62.0 Winter '25."""
    offset = _version_tuple(version)[0] - 60
    season = ("Spring", "Summer", "Winter")[offset % 3]
    year = 24 + offset // 3 + (1 if season == "Winter" else 0)
    return f"{season} '{year % 100:02d}"


class SalesforceEmulatorError(Exception):
    """A control-API write Salesforce would refuse; ``errors`` as in a collection result."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['statusCode']}: {e['message']}" for e in errors))

    @property
    def status_code(self) -> str:
        return self.errors[0]["statusCode"] if self.errors else ""


class _RequestError(Exception):
    """A request-level error: the whole call fails with ``status`` and ``body``."""

    def __init__(self, status: int, error_code: str, message: str,
                 fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


def _err(code: str, message: str, fields: Iterable[str] = ()) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": list(fields)}


def _rolled_back() -> dict[str, Any]:
    return _err("ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was "
                "using AllOrNone header")


def _not_found() -> _RequestError:
    return _RequestError(404, "NOT_FOUND", "The requested resource does not exist")


class _ObjMeta:
    """Per-object field lists the write path needs for every record (cached)."""

    def __init__(self, obj: SObjectDef) -> None:
        self.field_count = len(obj.fields)
        self.indexed = [fd for fd in obj.fields.values() if fd.indexed]
        self.required = [fd for fd in obj.fields.values() if fd.required]
        self.defaults: dict[str, Any] = {}
        for fd in obj.fields.values():
            if fd.default is not None:
                self.defaults[fd.name] = fd.default
            elif fd.type == "boolean" and fd.name not in SYSTEM_BOOLEANS:
                self.defaults[fd.name] = False


SYSTEM_BOOLEANS = frozenset({"IsDeleted"})


@dataclass
class _Client:
    client_id: str
    client_secret: str | None
    public_key: Any | None
    username: str | None


@dataclass
class _Session:
    token: str
    client_id: str
    user_id: str
    last_used: dt.datetime


@dataclass
class _Fault:
    method: str | None
    path_contains: str
    status: int
    body: Any
    remaining: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    batch_size: int
    last_used: dt.datetime
    endpoint: str


class SalesforceEmulator(EmulatorApp):
    """The emulated org. Python control API below; the same over HTTP under ``/__emulator``.

    Deviations from real Salesforce, chosen on purpose:

    * Sessions time out after ``session_ttl_seconds`` of *inactivity* on the emulator clock
      (Salesforce's session timeout); ``expire_sessions()`` invalidates every token at once.
    * The daily API allocation is a rolling 24 h window on the emulator clock. Calls that are
      refused with 401 or 403, OAuth token calls, ``GET /services/data/`` and injected faults
      don't count.
    * Injected faults are answered before authentication and don't count against the limit.
    * At most 10 query cursors stay open (oldest dropped first, as Salesforce does per user);
      a cursor is dropped as soon as its last page has been read, and after 15 minutes idle.
    """

    def __init__(self, *, api_limit: int = 100_000, session_ttl_seconds: float = 7200,
                 clock: Callable[[], dt.datetime] | None = None, schema: Schema | None = None,
                 org_id: str = "00DDm0000000001", latest_version: str = LATEST_VERSION) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._clock = clock or _utcnow
        self.schema = schema if schema is not None else demo_schema()
        self.session_ttl = dt.timedelta(seconds=session_ttl_seconds)
        self._initial_api_limit = api_limit
        self.latest_version = latest_version
        self.org_id = org_id[:15]
        self._clients: dict[str, _Client] = {}
        self._meta_cache: dict[str, _ObjMeta] = {}
        self._reset_state()

    # ------------------------------------------------------------------ state & clock

    def _reset_state(self) -> None:
        with self._lock:
            self._records: dict[str, dict[str, dict[str, Any]]] = {
                obj.name: {} for obj in self.schema.objects()}
            self._seq: dict[str, int] = {}
            self._counter = itertools.count(1)
            self._index: dict[tuple[str, str], dict[Any, set[str]]] = {}
            self._sessions: dict[str, _Session] = {}
            self._cursors: collections.OrderedDict[str, _Cursor] = collections.OrderedDict()
            self._faults: list[_Fault] = []
            self._api_calls: collections.deque[dt.datetime] = collections.deque()
            self.api_limit = self._initial_api_limit
            self.default_user_id: str | None = None
            self.default_user_id = self._create_user(DEFAULT_USERNAME, "Integration", "User")
            for client in self._clients.values():
                if client.username:
                    self._ensure_user(client.username)

    def now(self) -> dt.datetime:
        """The emulator clock, as an aware UTC datetime truncated to milliseconds."""
        value = self._clock()
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    def _meta(self, obj: SObjectDef) -> "_ObjMeta":
        meta = self._meta_cache.get(obj.name)
        if meta is None or meta.field_count != len(obj.fields):
            meta = _ObjMeta(obj)
            self._meta_cache[obj.name] = meta
        return meta

    def _obj(self, sobject: str) -> SObjectDef:
        obj = self.schema.get(sobject)
        if obj is None:
            raise KeyError(f"unknown sObject {sobject!r}")
        self._records.setdefault(obj.name, {})
        return obj

    # ------------------------------------------------------------------ control API

    def register_client(self, client_id: str, client_secret: str | None = None,
                        jwt_public_key_pem: str | bytes | None = None,
                        username: str | None = None) -> None:
        """Register a connected app: a secret enables client credentials, a public key (PEM,
        or a PEM certificate) enables the JWT bearer flow for ``username``."""
        public_key = None
        if jwt_public_key_pem is not None:
            pem = (jwt_public_key_pem.encode() if isinstance(jwt_public_key_pem, str)
                   else jwt_public_key_pem)
            if b"CERTIFICATE" in pem:
                public_key = x509.load_pem_x509_certificate(pem).public_key()
            else:
                public_key = serialization.load_pem_public_key(pem)
        with self._lock:
            self._clients[client_id] = _Client(client_id, client_secret, public_key, username)
            if username:
                self._ensure_user(username)

    def add_field(self, sobject: str, fd: FieldDef) -> None:
        """Add (or replace) a field in the org's schema; indexes it if needed."""
        with self._lock:
            self.schema.add_field(sobject, fd)
            obj = self._obj(sobject)
            self._meta_cache.pop(obj.name, None)
            self._index.pop((obj.name, fd.name), None)
            if fd.indexed:
                for rec in self._records[obj.name].values():
                    if not rec.get("IsDeleted"):
                        self._index_add(obj, fd, rec.get(fd.name), rec["Id"])

    def insert(self, sobject: str, fields: dict[str, Any], *, validate: bool = True) -> str:
        """Create a record, validated like the API (``validate=False`` also allows read-only
        fields such as CreatedDate). Raises :class:`SalesforceEmulatorError`."""
        with self._lock:
            obj = self._obj(sobject)
            values = self._control_prepare(obj, fields, allow_id=False)
            journal: list[tuple] = []
            rid, errors = self._write(obj, values, existing=None, user_id=self.default_user_id,
                                      journal=journal, validate=validate)
            if errors:
                raise SalesforceEmulatorError(errors)
            assert rid is not None
            return rid

    def update(self, sobject: str, record_id: str, fields: dict[str, Any], *,
               validate: bool = True) -> None:
        with self._lock:
            obj = self._obj(sobject)
            existing, error = self._lookup_for_write(obj, record_id)
            if error:
                raise SalesforceEmulatorError([error])
            values = self._control_prepare(obj, fields, allow_id=True)
            values.pop("Id", None)
            _, errors = self._write(obj, values, existing=existing,
                                    user_id=self.default_user_id, journal=[], validate=validate)
            if errors:
                raise SalesforceEmulatorError(errors)

    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        """The record's fields (JSON-style values), or None if missing or deleted."""
        with self._lock:
            obj = self._obj(sobject)
            rid = normalize_id(record_id)
            rec = self._records[obj.name].get(rid) if rid else None
            if rec is None or rec.get("IsDeleted"):
                return None
            return self._render(obj, rec)

    def all(self, sobject: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            obj = self._obj(sobject)
            return [self._render(obj, rec) for rec in self._records[obj.name].values()
                    if include_deleted or not rec.get("IsDeleted")]

    def delete(self, sobject: str, record_id: str) -> None:
        with self._lock:
            obj = self._obj(sobject)
            error = self._delete(obj, record_id, journal=[])
            if error:
                raise SalesforceEmulatorError([error])

    def find(self, sobject: str, **criteria: Any) -> list[dict[str, Any]]:
        """Records whose fields equal ``criteria`` (text compared case-insensitively)."""
        with self._lock:
            obj = self._obj(sobject)
            out = []
            for rec in self._records[obj.name].values():
                if rec.get("IsDeleted"):
                    continue
                rendered = self._render(obj, rec)
                if all(_loose_equal(rendered.get(_canonical(obj, k)), v)
                       for k, v in criteria.items()):
                    out.append(rendered)
            return out

    def convert_lead(self, lead_id: str, *, opportunity: dict[str, Any] | None = None,
                     account_id: str | None = None) -> dict[str, str | None]:
        """Convert a Lead as a salesperson would: an Account (from Company, unless
        ``account_id`` names an existing one), a Contact copying the same-named fields, an
        Opportunity when ``opportunity`` is given (its fields override the defaults), and the
        Lead marked converted (IsConverted, ConvertedDate, Status, Converted*Id)."""
        with self._lock:
            lead_obj = self._obj("Lead")
            lead, error = self._lookup_for_write(lead_obj, lead_id)
            if error:
                raise SalesforceEmulatorError([error])
            assert lead is not None
            if lead.get("IsConverted"):
                raise SalesforceEmulatorError([_err("CANNOT_UPDATE_CONVERTED_LEAD",
                                                    "cannot reference converted lead")])
            journal: list[tuple] = []
            user = self.default_user_id
            try:
                if account_id is None:
                    acc_obj = self._obj("Account")
                    name = lead.get("Company") or lead.get("LastName")
                    account_id = self._write_or_raise(
                        acc_obj, {"Name": name, "OwnerId": lead.get("OwnerId")}, journal, user)
                contact_obj = self._obj("Contact")
                contact_values: dict[str, Any] = {"AccountId": account_id}
                for fd in contact_obj.fields.values():
                    if not fd.createable or fd.name in ("AccountId",):
                        continue
                    src = lead_obj.field(fd.name)
                    if src is not None and lead.get(src.name) is not None \
                            and src.type == fd.type:
                        contact_values[fd.name] = lead.get(src.name)
                contact_id = self._write_or_raise(contact_obj, contact_values, journal, user)
                opportunity_id = None
                if opportunity is not None:
                    opp_obj = self._obj("Opportunity")
                    defaults: dict[str, Any] = {
                        "Name": f"{lead.get('Company') or lead.get('LastName')}-",
                        "StageName": "Qualification",
                        "CloseDate": (self.now() + dt.timedelta(days=30)).date(),
                        "AccountId": account_id,
                        "OwnerId": lead.get("OwnerId"),
                        "LeadSource": lead.get("LeadSource"),
                    }
                    defaults.update(self._control_prepare(opp_obj, opportunity, allow_id=False))
                    opportunity_id = self._write_or_raise(opp_obj, defaults, journal, user)
                self._write(lead_obj, {
                    "IsConverted": True,
                    "ConvertedDate": self.now().date(),
                    "Status": "Closed - Converted",
                    "ConvertedAccountId": account_id,
                    "ConvertedContactId": contact_id,
                    "ConvertedOpportunityId": opportunity_id,
                }, existing=lead, user_id=user, journal=journal, validate=False)
            except SalesforceEmulatorError:
                self._rollback(journal)
                raise
            return {"account_id": account_id, "contact_id": contact_id,
                    "opportunity_id": opportunity_id}

    def expire_sessions(self) -> None:
        """Invalidate every access token issued so far (the next call gets 401)."""
        with self._lock:
            self._sessions.clear()

    def set_api_limit(self, limit: int) -> None:
        with self._lock:
            self.api_limit = limit

    @property
    def api_usage(self) -> int:
        with self._lock:
            self._trim_api_window()
            return len(self._api_calls)

    def inject_fault(self, method: str | None, path_contains: str, status: int,
                     body: Any = None, times: int = 1,
                     headers: dict[str, str] | None = None) -> None:
        """The next ``times`` API requests whose method matches (None: any) and whose path
        contains ``path_contains`` get ``status`` with ``body`` (JSON unless a str)."""
        with self._lock:
            self._faults.append(_Fault(method.upper() if method else None, path_contains,
                                       status, body, times, dict(headers or {})))

    def reset(self) -> None:
        """Forget all data, tokens, cursors, faults, API usage and the request log (registered
        clients and schema stay)."""
        with self._lock:
            self._reset_state()
            self.requests.clear()

    def issue_token(self, client_id: str | None = None, username: str | None = None) -> str:
        """An access token without the OAuth dance (for tests that aren't about auth)."""
        with self._lock:
            user_id = self._ensure_user(username) if username else self.default_user_id
            return self._new_session(client_id or "control", user_id).token

    # ------------------------------------------------------------------ users & sessions

    def _create_user(self, username: str, first: str, last: str) -> str:
        obj = self._obj("User")
        values = {"Username": username, "FirstName": first, "LastName": last,
                  "Email": username if "@" in username else f"{username}@example.com",
                  "IsActive": True}
        rid, errors = self._write(obj, values, existing=None, user_id=None, journal=[],
                                  validate=False)
        assert rid is not None, errors
        return rid

    def _ensure_user(self, username: str) -> str:
        fd = self._obj("User").field("Username")
        assert fd is not None
        ids = self._index.get(("User", "Username"), {}).get(username.casefold())
        if ids:
            return next(iter(ids))
        local = username.split("@")[0]
        return self._create_user(username, local.capitalize(), "User")

    def _new_session(self, client_id: str, user_id: str) -> _Session:
        token = f"{self.org_id}!AQ{secrets.token_urlsafe(60)}"
        session = _Session(token, client_id, user_id, self.now())
        self._sessions[token] = session
        return session

    def _trim_api_window(self) -> None:
        horizon = self.now() - dt.timedelta(hours=24)
        while self._api_calls and self._api_calls[0] <= horizon:
            self._api_calls.popleft()

    # ------------------------------------------------------------------ storage primitives

    def _index_key(self, fd: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str) and not (fd.case_sensitive or fd.type in ("id", "reference")):
            return value.casefold()
        return value

    def _index_add(self, obj: SObjectDef, fd: FieldDef, value: Any, rid: str) -> None:
        key = self._index_key(fd, value)
        if key is not None:
            self._index.setdefault((obj.name, fd.name), {}).setdefault(key, set()).add(rid)

    def _index_remove(self, obj: SObjectDef, fd: FieldDef, value: Any, rid: str) -> None:
        key = self._index_key(fd, value)
        if key is None:
            return
        bucket = self._index.get((obj.name, fd.name), {}).get(key)
        if bucket is not None:
            bucket.discard(rid)
            if not bucket:
                del self._index[(obj.name, fd.name)][key]

    def _reindex(self, obj: SObjectDef, old: dict[str, Any] | None,
                 new: dict[str, Any] | None) -> None:
        for fd in self._meta(obj).indexed:
            if old is not None and new is not None and old.get(fd.name) == new.get(fd.name) \
                    and bool(old.get("IsDeleted")) == bool(new.get("IsDeleted")):
                continue
            if old is not None and not old.get("IsDeleted"):
                self._index_remove(obj, fd, old.get(fd.name), old["Id"])
            if new is not None and not new.get("IsDeleted"):
                self._index_add(obj, fd, new.get(fd.name), new["Id"])

    def _lookup_index(self, obj: SObjectDef, fd: FieldDef, value: Any) -> list[str]:
        if fd.indexed:
            ids = self._index.get((obj.name, fd.name), {}).get(self._index_key(fd, value), set())
            return sorted(ids, key=lambda i: self._seq.get(i, 0))
        key = self._index_key(fd, value)
        return [rid for rid, rec in self._records[obj.name].items()
                if not rec.get("IsDeleted") and self._index_key(fd, rec.get(fd.name)) == key]

    def _rollback(self, journal: list[tuple]) -> None:
        for entry in reversed(journal):
            kind, obj, rid, old = entry
            current = self._records[obj.name].get(rid)
            self._reindex(obj, current, None)
            if kind == "create":
                self._records[obj.name].pop(rid, None)
                self._seq.pop(rid, None)
            else:
                self._records[obj.name][rid] = old
                self._reindex(obj, None, old)
        journal.clear()

    def _resolve(self, sobject: str, rid: str) -> dict[str, Any] | None:
        rec = self._records.get(sobject, {}).get(rid)
        if rec is None or rec.get("IsDeleted"):
            return None
        return rec

    def _render(self, obj: SObjectDef, rec: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for fd in obj.fields.values():
            value = rec.get(fd.name)
            if value is None and fd.type == "boolean":
                value = False
            out[fd.name] = render_value(fd, value)
        return out

    # ------------------------------------------------------------------ input coercion

    def _field(self, obj: SObjectDef, name: str) -> FieldDef:
        fd = obj.field(name)
        if fd is None:
            raise _RequestError(400, "INVALID_FIELD",
                                f"No such column '{name}' on sobject of type {obj.name}")
        return fd

    def _prepare(self, obj: SObjectDef, raw: dict[str, Any]) -> dict[str, Any]:
        """JSON record -> {canonical field name: python value}; request-level errors raise."""
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "attributes":
                continue
            fd = self._field(obj, key)
            values[fd.name] = _coerce(fd, value)
        return values

    def _control_prepare(self, obj: SObjectDef, raw: dict[str, Any],
                         allow_id: bool) -> dict[str, Any]:
        try:
            values = {}
            for key, value in raw.items():
                if key == "attributes":
                    continue
                fd = self._field(obj, key)
                if isinstance(value, (dt.date, dt.datetime)) and fd.type in ("date", "datetime"):
                    values[fd.name] = _coerce_temporal(fd, value)
                else:
                    values[fd.name] = _coerce(fd, value)
        except _RequestError as e:
            raise SalesforceEmulatorError([_err(e.error_code, e.message)]) from None
        if not allow_id:
            values.pop("Id", None)
        return values

    # ------------------------------------------------------------------ validation & write

    def _validate(self, obj: SObjectDef, values: dict[str, Any],
                  existing: dict[str, Any] | None) -> dict[str, Any] | None:
        creating = existing is None
        if not creating and obj.name == "Lead" and existing.get("IsConverted"):
            return _err("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        locked = [name for name in values
                  if not (obj.fields[name.lower()].createable if creating
                          else obj.fields[name.lower()].updateable)]
        if locked:
            if creating and locked == ["Id"]:
                return _err("INVALID_FIELD_FOR_INSERT_UPDATE",
                            "cannot specify Id in an insert call", ["Id"])
            return _err("INVALID_FIELD_FOR_INSERT_UPDATE",
                        f"Unable to create/update fields: {', '.join(locked)}. Please check the "
                        f"security settings of this field and verify that it is read/write for "
                        f"your profile or permission set.", locked)
        missing = [fd.name for fd in self._meta(obj).required if (
            (creating and values.get(fd.name) is None and fd.default is None)
            or (fd.name in values and values[fd.name] is None))]
        if missing:
            return _err("REQUIRED_FIELD_MISSING",
                        f"Required fields are missing: [{', '.join(missing)}]", missing)
        for name, value in values.items():
            fd = obj.fields[name.lower()]
            error = self._validate_value(obj, fd, value)
            if error:
                return error
        rid = existing["Id"] if existing else None
        for name, value in values.items():
            fd = obj.fields[name.lower()]
            if fd.unique and value is not None:
                clash = [i for i in self._lookup_index(obj, fd, value) if i != rid]
                if clash:
                    return _err("DUPLICATE_VALUE",
                                f"duplicate value found: {fd.name} duplicates value on record "
                                f"with id: {clash[0]}", [fd.name])
        return None

    def _validate_value(self, obj: SObjectDef, fd: FieldDef, value: Any) -> dict[str, Any] | None:
        if value is None:
            if fd.restricted_picklist and not fd.is_nillable:
                return _err("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            f"{fd.display_label}: bad value for restricted picklist field: "
                            f"null", [fd.name])
            return None
        if fd.type in STRING_TYPES and fd.type not in ("id", "reference") and fd.length \
                and len(value) > fd.length:
            shown = value if len(value) <= 80 else value[:77] + "..."
            return _err("STRING_TOO_LONG",
                        f"{fd.display_label}: data value too large: {shown} "
                        f"(max length={fd.length})", [fd.name])
        if fd.type == "email" and not _EMAIL_RE.fullmatch(value):
            return _err("INVALID_EMAIL_ADDRESS",
                        f"{fd.display_label}: invalid email address: {value}", [fd.name])
        if fd.type == "picklist" and fd.restricted_picklist and value not in fd.picklist_values:
            return _err("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{fd.display_label}: bad value for restricted picklist field: "
                        f"{value}", [fd.name])
        if fd.type in NUMBER_TYPES and fd.precision:
            integer_digits = fd.precision - fd.scale
            if abs(value) >= 10 ** integer_digits:
                return _err("NUMBER_OUTSIDE_VALID_RANGE",
                            f"{fd.display_label}: value outside of valid range on numeric "
                            f"field: {value}", [fd.name])
        if fd.type == "reference":
            label = fd.label or (fd.name[:-2] + " ID" if fd.name.endswith("Id") else fd.name)
            rid = normalize_id(value)
            if rid is None:
                return _err("MALFORMED_ID", f"{label}: id value of incorrect type: {value}",
                            [fd.name])
            targets = [self.schema.get(t) for t in fd.reference_to]
            target = next((t for t in targets if t and rid.startswith(t.key_prefix)), None)
            if target is None:
                return _err("FIELD_INTEGRITY_EXCEPTION",
                            f"{label}: id value of incorrect type: {value}", [fd.name])
            parent = self._records.get(target.name, {}).get(rid)
            if parent is None:
                return _err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                            [fd.name])
            if parent.get("IsDeleted"):
                return _err("ENTITY_IS_DELETED", "entity is deleted", [fd.name])
        return None

    def _write(self, obj: SObjectDef, values: dict[str, Any], *,
               existing: dict[str, Any] | None, user_id: str | None, journal: list[tuple],
               validate: bool = True) -> tuple[str | None, list[dict[str, Any]]]:
        """Create (``existing`` None) or update one record. Returns (id, errors)."""
        values = {k: _normalize_reference(obj, k, v) for k, v in values.items()}
        if validate:
            error = self._validate(obj, values, existing)
            if error:
                return (existing["Id"] if existing else None), [error]
        now = self.now()
        if existing is None:
            seq = next(self._counter)
            rid = make_id(obj.key_prefix, seq)
            user_id = user_id or self.default_user_id or rid  # the very first User owns itself
            rec: dict[str, Any] = {"Id": rid, "IsDeleted": False, "CreatedDate": now,
                                   "CreatedById": user_id}
            if obj.field("OwnerId") is not None:
                rec["OwnerId"] = user_id
            rec.update(self._meta(obj).defaults)
            rec.update({k: v for k, v in values.items()
                        if not (k in ("OwnerId", "CreatedById") and v is None)})
            old = None
            self._seq[rid] = seq
        else:
            rid = existing["Id"]
            user_id = user_id or self.default_user_id or rid
            old = existing
            rec = dict(existing)
            rec.update(values)
        rec["LastModifiedDate"] = values.get("LastModifiedDate") or now
        rec["LastModifiedById"] = user_id
        rec["SystemModstamp"] = values.get("SystemModstamp") or now
        self._derive(obj, rec, values, creating=existing is None)
        self._records[obj.name][rid] = rec
        self._reindex(obj, old, rec)
        journal.append(("create" if existing is None else "update", obj, rid, old))
        return rid, []

    def _write_or_raise(self, obj: SObjectDef, values: dict[str, Any], journal: list[tuple],
                        user_id: str | None) -> str:
        rid, errors = self._write(obj, {k: v for k, v in values.items() if v is not None},
                                  existing=None, user_id=user_id, journal=journal)
        if errors:
            raise SalesforceEmulatorError(errors)
        assert rid is not None
        return rid

    def _derive(self, obj: SObjectDef, rec: dict[str, Any], values: dict[str, Any],
                creating: bool) -> None:
        """Formula-ish fields: Name, Opportunity IsClosed/IsWon/Probability."""
        name_fd = obj.field("Name")
        if name_fd is not None and name_fd.calculated and obj.field("LastName") is not None:
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        if obj.name == "Opportunity":
            stage = rec.get("StageName")
            rec["IsClosed"] = stage in ("Closed Won", "Closed Lost")
            rec["IsWon"] = stage == "Closed Won"
            if "Probability" not in values and (creating or "StageName" in values) \
                    and stage in STAGE_PROBABILITY:
                rec["Probability"] = float(STAGE_PROBABILITY[stage])

    def _lookup_for_write(self, obj: SObjectDef, record_id: Any
                          ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(record, None) or (None, per-record error) for an update/delete target."""
        rid = normalize_id(record_id) if isinstance(record_id, str) else None
        if rid is None:
            return None, _err("MALFORMED_ID", f"malformed id {record_id}", ["Id"])
        if not rid.startswith(obj.key_prefix):
            return None, _err("MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: "
                                              f"{record_id}", ["Id"])
        rec = self._records[obj.name].get(rid)
        if rec is None:
            return None, _err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if rec.get("IsDeleted"):
            return None, _err("ENTITY_IS_DELETED", "entity is deleted")
        return rec, None

    def _delete(self, obj: SObjectDef, record_id: Any, journal: list[tuple]
                ) -> dict[str, Any] | None:
        rec, error = self._lookup_for_write(obj, record_id)
        if error:
            return error
        assert rec is not None
        now = self.now()
        new = dict(rec)
        new["IsDeleted"] = True
        new["SystemModstamp"] = now
        new["LastModifiedDate"] = now
        self._records[obj.name][rec["Id"]] = new
        self._reindex(obj, rec, new)
        journal.append(("update", obj, rec["Id"], rec))
        return None

    def _object_for_id(self, record_id: Any) -> SObjectDef | None:
        rid = normalize_id(record_id) if isinstance(record_id, str) else None
        return self.schema.by_prefix(rid[:3]) if rid else None

    # ------------------------------------------------------------------ HTTP plumbing

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith(CONTROL_PREFIX):
            return self._control(request)
        fault = self._take_fault(request.method, path)
        if fault is not None:
            return fault
        uri = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or request.full_path
        if len(uri) > MAX_URI_BYTES:
            # Salesforce refuses request URIs over 16 KB before looking at them (a long SOQL query
            # travels in the URI); clients must split their IN (...) lists.
            return _json(414, [{"message": f"Request-URI of {len(uri)} bytes is too long (max {MAX_URI_BYTES})",
                                "errorCode": "URI_TOO_LONG"}])
        try:
            if path == "/services/oauth2/token":
                return self._token(request)
            if path in ("/services/data", "/services/data/"):
                if request.method != "GET":
                    raise _method_not_allowed(request.method, "GET")
                return _json(200, self._versions())
            m = _VERSION_RE.match(path)
            if not m:
                raise _not_found()
            version, rest = m.group(1), (m.group(2) or "")
            session = self._authenticate(request)
            with self._lock:
                self._trim_api_window()
                if len(self._api_calls) >= self.api_limit:
                    return _json(403, [{"message": "TotalRequests Limit exceeded.",
                                        "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                                 self._limit_header())
                self._api_calls.append(self.now())
                try:
                    response = self._route(request, version, rest, session)
                except _RequestError as e:
                    response = _json(e.status, e.body())
                except Exception as e:  # an emulator bug: answer like Salesforce, log loudly
                    traceback.print_exc()
                    response = _json(500, [{"message": f"An unexpected error occurred: "
                                                       f"{type(e).__name__}: {e}",
                                            "errorCode": "UNKNOWN_EXCEPTION"}])
                response.headers["Sforce-Limit-Info"] = self._limit_header()["Sforce-Limit-Info"]
                return response
        except _RequestError as e:
            return _json(e.status, e.body())

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={len(self._api_calls)}/{self.api_limit}"}

    def _take_fault(self, method: str, path: str) -> Response | None:
        with self._lock:
            for fault in self._faults:
                if (fault.method is None or fault.method == method) \
                        and fault.path_contains in path and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    if isinstance(fault.body, (str, bytes)):
                        return Response(fault.body, status=fault.status, headers=fault.headers,
                                        content_type="text/plain;charset=UTF-8")
                    return _json(fault.status, fault.body, fault.headers)
        return None

    def _authenticate(self, request: Request) -> _Session:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        with self._lock:
            session = self._sessions.get(token) if scheme.lower() in ("bearer", "oauth") else None
            now = self.now()
            if session is not None and now - session.last_used > self.session_ttl:
                del self._sessions[token]
                session = None
            if session is None:
                raise _RequestError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            session.last_used = now
            return session

    def _versions(self) -> list[dict[str, str]]:
        out = []
        lo, hi = _version_tuple(OLDEST_VERSION)[0], _version_tuple(self.latest_version)[0]
        for major in range(lo, hi + 1):
            version = f"{major}.0"
            out.append({"label": _version_label(version), "url": f"/services/data/v{version}",
                        "version": version})
        return out

    # ------------------------------------------------------------------ OAuth

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            raise _method_not_allowed(request.method, "POST")
        form = request.form
        grant_type = form.get("grant_type", "")
        with self._lock:
            if grant_type == "client_credentials":
                client_id, client_secret = form.get("client_id"), form.get("client_secret")
                if request.authorization and request.authorization.type == "basic":
                    client_id = client_id or request.authorization.username
                    client_secret = client_secret or request.authorization.password
                client = self._clients.get(client_id or "")
                if client is None:
                    return _oauth_error("invalid_client_id", "client identifier invalid")
                if client.client_secret is None:
                    return _oauth_error("invalid_grant", "no client credentials user enabled")
                if not client_secret or not hmac.compare_digest(client.client_secret,
                                                                client_secret):
                    return _oauth_error("invalid_client", "invalid client credentials")
                user_id = (self._ensure_user(client.username) if client.username
                           else self.default_user_id)
                return self._token_response(request, client, user_id)
            if grant_type == JWT_BEARER:
                return self._jwt_grant(request, form.get("assertion") or "")
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _jwt_grant(self, request: Request, assertion: str) -> Response:
        try:
            header = jwt.get_unverified_header(assertion)
            claims = json.loads(_b64url_decode(assertion.split(".")[1]))
            if not isinstance(claims, dict):
                raise ValueError("claims are not an object")
        except (jwt.PyJWTError, ValueError, IndexError, binascii.Error):
            return _oauth_error("invalid_grant", "invalid assertion")
        client = self._clients.get(str(claims.get("iss", "")))
        if client is None:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if client.public_key is None or header.get("alg") != "RS256":
            return _oauth_error("invalid_grant", "invalid assertion")
        try:
            jwt.PyJWS().decode_complete(assertion, key=client.public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        base = request.host_url.rstrip("/")
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        allowed = {base, *LOGIN_AUDIENCES}
        if not any(isinstance(a, str) and a.rstrip("/") in allowed for a in audiences):
            return _oauth_error("invalid_grant", "audience is invalid")
        exp = claims.get("exp")
        try:
            exp_value = float(exp)  # Salesforce's own examples send exp as a string
        except (TypeError, ValueError):
            return _oauth_error("invalid_grant", "expired authorization code")
        if exp_value <= self.now().timestamp():
            return _oauth_error("invalid_grant", "expired authorization code")
        subject = claims.get("sub") or claims.get("prn")
        if not subject or (client.username and subject != client.username):
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        user_id = self._ensure_user(subject)
        return self._token_response(request, client, user_id)

    def _token_response(self, request: Request, client: _Client, user_id: str) -> Response:
        session = self._new_session(client.client_id, user_id)
        base = request.host_url.rstrip("/")
        identity = f"{base}/id/{self.org_id}{id_checksum(self.org_id)}/{user_id}"
        issued_at = str(int(self.now().timestamp() * 1000))
        key = (client.client_secret or client.client_id).encode()
        signature = base64.b64encode(
            hmac.new(key, (identity + issued_at).encode(), hashlib.sha256).digest()).decode()
        return _json(200, {
            "access_token": session.token,
            "signature": signature,
            "scope": "api",
            "instance_url": base,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }, {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"})

    # ------------------------------------------------------------------ REST routing

    def _route(self, request: Request, version: str, rest: str, session: _Session) -> Response:
        method = request.method
        segments = _raw_segments(request)[3:]  # drop services, data, vXX.X
        while segments and segments[-1] == "":
            segments.pop()
        head = segments[0] if segments else ""
        if not segments:
            if method != "GET":
                raise _method_not_allowed(method, "GET")
            base = f"/services/data/v{version}"
            return _json(200, {name: f"{base}/{name}" for name in
                               ("sobjects", "query", "queryAll", "limits", "composite")})
        if head == "limits" and len(segments) == 1:
            if method != "GET":
                raise _method_not_allowed(method, "GET")
            return _json(200, self._limits())
        if head in ("query", "queryAll"):
            if method != "GET":
                raise _method_not_allowed(method, "GET")
            if len(segments) == 1:
                return self._query(request, version, head)
            if len(segments) == 2:
                return self._query_more(request, version, head, segments[1])
            raise _not_found()
        if head == "sobjects":
            return self._sobjects(request, version, segments[1:], session)
        if head == "composite" and len(segments) >= 2 and segments[1] == "sobjects":
            if _version_tuple(version) < (42, 0):
                raise _not_found()
            return self._collections(request, version, segments[2:], session)
        raise _not_found()

    def _limits(self) -> dict[str, Any]:
        self._trim_api_window()
        used = len(self._api_calls)
        return {
            "DailyApiRequests": {"Max": self.api_limit, "Remaining": max(0, self.api_limit - used)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            "SingleEmail": {"Max": 5000, "Remaining": 5000},
        }

    # -- query

    def _query(self, request: Request, version: str, endpoint: str) -> Response:
        text = request.args.get("q")
        if text is None:
            raise _RequestError(400, "MALFORMED_QUERY", "'q' parameter required")
        try:
            bound = soql.compile_query(text, self.schema)
        except soql.SoqlError as e:
            raise _RequestError(400, e.error_code, e.message) from None
        include_deleted = endpoint == "queryAll"
        rows = self._query_rows(bound, include_deleted)
        resolve = self._resolve
        url_for = _url_maker(version)
        result = bound.run(rows, resolve, url_for)
        if bound.count_only:
            return _json(200, {"totalSize": result.total_size, "done": True, "records": []})
        batch = _batch_size(request)
        if len(result.records) <= batch:
            return _json(200, {"totalSize": result.total_size, "done": True,
                               "records": result.records})
        locator = make_id("01g", next(self._counter))
        self._cursors[locator] = _Cursor(result.records, batch, self.now(), endpoint)
        while len(self._cursors) > MAX_OPEN_CURSORS:
            self._cursors.popitem(last=False)
        return _json(200, {
            "totalSize": result.total_size, "done": False,
            "nextRecordsUrl": f"/services/data/v{version}/{endpoint}/{locator}-{batch}",
            "records": result.records[:batch],
        })

    def _query_more(self, request: Request, version: str, endpoint: str,
                    segment: str) -> Response:
        locator, _, offset_text = segment.partition("-")
        cursor = self._cursors.get(locator)
        if cursor is not None and self.now() - cursor.last_used > QUERY_LOCATOR_TTL:
            del self._cursors[locator]
            cursor = None
        if cursor is None or not offset_text.isdigit():
            raise _RequestError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor.last_used = self.now()
        self._cursors.move_to_end(locator)
        offset = int(offset_text)
        batch = cursor.batch_size
        page = cursor.records[offset:offset + batch]
        done = offset + batch >= len(cursor.records)
        body: dict[str, Any] = {"totalSize": len(cursor.records), "done": done}
        if done:
            del self._cursors[locator]
        else:
            body["nextRecordsUrl"] = (f"/services/data/v{version}/{endpoint}/"
                                      f"{locator}-{offset + batch}")
        body["records"] = page
        return _json(200, body)

    def _query_rows(self, bound: soql.BoundQuery, include_deleted: bool
                    ) -> list[dict[str, Any]]:
        obj = bound.sobject
        store = self._records.setdefault(obj.name, {})
        hint = bound.index_hint
        if hint is not None and not include_deleted:
            fd, values = hint
            ids: set[str] = set()
            for value in values:
                if fd.type == "id":
                    if value in store:
                        ids.add(value)
                else:
                    ids.update(self._index.get((obj.name, fd.name), {})
                               .get(self._index_key(fd, value), set()))
            rows = [store[i] for i in sorted(ids, key=lambda i: self._seq.get(i, 0))]
        else:
            rows = list(store.values())
        if not include_deleted:
            rows = [r for r in rows if not r.get("IsDeleted")]
        return rows

    # -- single-record resources

    def _sobjects(self, request: Request, version: str, segs: list[str],
                  session: _Session) -> Response:
        method = request.method
        if not segs:
            if method != "GET":
                raise _method_not_allowed(method, "GET")
            return _json(200, {"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION_SIZE,
                               "sobjects": [_global_entry(o) for o in self.schema.objects()]})
        obj = self.schema.get(segs[0])
        if obj is None:
            raise _not_found()
        self._records.setdefault(obj.name, {})
        if len(segs) == 1:
            if method == "GET":
                return _json(200, {"objectDescribe": _global_entry(obj), "recentItems": []})
            if method == "POST":
                return self._create_one(request, obj, session)
            raise _method_not_allowed(method, "GET,POST")
        if len(segs) == 2 and segs[1] == "describe":
            if method != "GET":
                raise _method_not_allowed(method, "GET")
            body = obj.describe()
            body["urls"] = {k: v.replace("vXX.X", f"v{version}") for k, v in body["urls"].items()}
            return _json(200, body)
        if len(segs) == 2:
            record_id = segs[1]
            if normalize_id(record_id) is None:
                raise _RequestError(404, "NOT_FOUND", f"Provided external ID field does not "
                                                      f"exist or is not accessible: {record_id}")
            if method == "GET":
                return self._get_one(request, obj, record_id, version)
            if method == "PATCH":
                return self._update_one(request, obj, record_id, session)
            if method == "DELETE":
                return self._delete_one(obj, record_id)
            raise _method_not_allowed(method, "GET,PATCH,DELETE")
        if len(segs) == 3:
            return self._by_external_id(request, version, obj, segs[1], segs[2], session)
        raise _not_found()

    def _get_one(self, request: Request, obj: SObjectDef, record_id: str,
                 version: str) -> Response:
        rid = normalize_id(record_id)
        rec = self._records[obj.name].get(rid) if rid else None
        if rec is None:
            raise _not_found()
        if rec.get("IsDeleted"):
            raise _RequestError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return _json(200, self._record_body(request, obj, rec, version))

    def _record_body(self, request: Request, obj: SObjectDef, rec: dict[str, Any],
                     version: str) -> dict[str, Any]:
        wanted = request.args.get("fields")
        rendered = self._render(obj, rec)
        if wanted:
            names = [self._field(obj, f.strip()).name for f in wanted.split(",") if f.strip()]
            rendered = {n: rendered[n] for n in names}
        return {"attributes": {"type": obj.name, "url": _url_maker(version)(obj.name, rec["Id"])},
                **rendered}

    def _single_error(self, error: dict[str, Any], status: int = 400) -> Response:
        return _json(status, [{"message": error["message"], "errorCode": error["statusCode"],
                               "fields": error["fields"]}])

    def _create_one(self, request: Request, obj: SObjectDef, session: _Session) -> Response:
        values = self._prepare(obj, _json_object(request))
        rid, errors = self._write(obj, values, existing=None, user_id=session.user_id,
                                  journal=[])
        if errors:
            return self._single_error(errors[0])
        return _json(201, {"id": rid, "success": True, "errors": []})

    def _update_one(self, request: Request, obj: SObjectDef, record_id: str,
                    session: _Session) -> Response:
        values = self._prepare(obj, _json_object(request))
        existing, error = self._lookup_for_write(obj, record_id)
        if error:
            raise _not_found() if error["statusCode"] in ("INVALID_CROSS_REFERENCE_KEY",
                                                          "MALFORMED_ID") \
                else _RequestError(404, error["statusCode"], error["message"], [])
        if values.get("Id") not in (None, existing["Id"]):
            return self._single_error(_err("INVALID_FIELD",
                                           "The Id field should not be specified in the "
                                           "sobject data.", ["Id"]))
        values.pop("Id", None)
        _, errors = self._write(obj, values, existing=existing, user_id=session.user_id,
                                journal=[])
        if errors:
            return self._single_error(errors[0])
        return Response(status=204)

    def _delete_one(self, obj: SObjectDef, record_id: str) -> Response:
        error = self._delete(obj, record_id, journal=[])
        if error:
            if error["statusCode"] == "ENTITY_IS_DELETED":
                return _json(404, [{"message": "entity is deleted",
                                    "errorCode": "ENTITY_IS_DELETED", "fields": []}])
            raise _not_found()
        return Response(status=204)

    def _external_field(self, obj: SObjectDef, name: str, single: bool) -> FieldDef:
        fd = obj.field(name)
        if fd is None:
            if single:
                raise _RequestError(404, "NOT_FOUND", f"Provided external ID field does not "
                                                      f"exist or is not accessible: {name}")
            raise _RequestError(400, "INVALID_FIELD",
                                f"Field name provided, {name} is not an External ID or indexed "
                                f"field for {obj.name}")
        # External id fields, or (standard objects' way) standard idLookup fields like Email.
        usable = fd.type == "id" or fd.external_id or (
            fd.is_id_lookup and not fd.name.endswith("__c"))
        if not usable:
            raise _RequestError(400, "INVALID_FIELD",
                                f"Field name provided, {fd.name} is not an External ID or indexed "
                                f"field for {obj.name}")
        return fd

    def _by_external_id(self, request: Request, version: str, obj: SObjectDef, field_name: str,
                        value: str, session: _Session) -> Response:
        method = request.method
        fd = self._external_field(obj, field_name, single=True)
        if fd.type == "id":
            raise _not_found()
        matches = self._lookup_index(obj, fd, value)
        url_for = _url_maker(version)
        if len(matches) > 1:
            return _json(300, [url_for(obj.name, i) for i in matches])
        if method == "GET":
            if not matches:
                raise _not_found()
            rec = self._records[obj.name][matches[0]]
            return _json(200, self._record_body(request, obj, rec, version))
        if method == "PATCH":
            raw = _json_object(request)
            values = self._prepare(obj, raw)
            values.pop("Id", None)
            values[fd.name] = _coerce(fd, value)
            if matches:
                existing = self._records[obj.name][matches[0]]
                _, errors = self._write(obj, values, existing=existing, user_id=session.user_id,
                                        journal=[])
                if errors:
                    return self._single_error(errors[0])
                return _json(200, {"id": existing["Id"], "success": True, "errors": [],
                                   "created": False})
            rid, errors = self._write(obj, values, existing=None, user_id=session.user_id,
                                      journal=[])
            if errors:
                return self._single_error(errors[0])
            return _json(201, {"id": rid, "success": True, "errors": [], "created": True})
        if method == "DELETE":
            if not matches:
                raise _not_found()
            error = self._delete(obj, matches[0], journal=[])
            if error:
                return self._single_error(error)
            return Response(status=204)
        raise _method_not_allowed(method, "GET,PATCH,DELETE")

    # -- sObject Collections

    def _collections(self, request: Request, version: str, segs: list[str],
                     session: _Session) -> Response:
        method = request.method
        if len(segs) == 2:
            if _version_tuple(version) < (46, 0):
                raise _not_found()
            if method != "PATCH":
                raise _method_not_allowed(method, "PATCH")
            obj = self.schema.get(segs[0])
            if obj is None:
                raise _not_found()
            self._records.setdefault(obj.name, {})
            return self._collection_upsert(request, obj, segs[1], session)
        if segs:
            raise _not_found()
        if method == "POST":
            return self._collection_save(request, session, creating=True)
        if method == "PATCH":
            return self._collection_save(request, session, creating=False)
        if method == "DELETE":
            return self._collection_delete(request)
        if method == "GET":
            raise _RequestError(400, "MISSING_ARGUMENT", "ids and fields are required")
        raise _method_not_allowed(method, "GET,POST,PATCH,DELETE")

    def _collection_body(self, request: Request) -> tuple[bool, list[Any]]:
        body = _json_object(request)
        records = body.get("records")
        if not isinstance(records, list):
            raise _RequestError(400, "JSON_PARSER_ERROR",
                                "Cannot deserialize the request: 'records' must be a list")
        if len(records) > MAX_COLLECTION_SIZE:
            raise _RequestError(400, "EXCEEDED_ID_LIMIT",
                                f"record limit reached. cannot submit more than "
                                f"{MAX_COLLECTION_SIZE} records into this call")
        all_or_none = body.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise _RequestError(400, "JSON_PARSER_ERROR",
                                f"Cannot deserialize instance of boolean from value "
                                f"{all_or_none!r}")
        return all_or_none, records

    def _record_type(self, raw: Any) -> SObjectDef:
        if not isinstance(raw, dict):
            raise _RequestError(400, "JSON_PARSER_ERROR",
                                "Cannot deserialize instance of SObject: each record must be "
                                "a JSON object")
        attrs = raw.get("attributes")
        type_name = attrs.get("type") if isinstance(attrs, dict) else None
        if not type_name:
            raise _RequestError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        obj = self.schema.get(str(type_name))
        if obj is None:
            raise _RequestError(400, "INVALID_TYPE",
                                f"sObject type '{type_name}' is not supported.")
        self._records.setdefault(obj.name, {})
        return obj

    def _finish(self, results: list[dict[str, Any]], journal: list[tuple],
                all_or_none: bool) -> Response:
        if all_or_none and any(not r["success"] for r in results):
            created = {entry[2] for entry in journal if entry[0] == "create"}
            self._rollback(journal)
            for r in results:
                if r["success"]:
                    r["success"] = False
                    r["errors"] = [_rolled_back()]
                    if r["id"] in created:
                        r["id"] = None
                    if "created" in r:
                        r["created"] = False
        return _json(200, results)

    def _collection_upsert(self, request: Request, obj: SObjectDef, field_name: str,
                           session: _Session) -> Response:
        fd = self._external_field(obj, field_name, single=False)
        all_or_none, raws = self._collection_body(request)
        prepared: list[dict[str, Any]] = []
        for raw in raws:
            rtype = self._record_type(raw)
            if rtype.name != obj.name:
                raise _RequestError(400, "INVALID_TYPE",
                                    f"The list can contain objects only of type {obj.name}; "
                                    f"found {rtype.name}")
            prepared.append(self._prepare(obj, raw))
        keys = [self._index_key(fd, v.get(fd.name)) for v in prepared]
        key_counts = collections.Counter(k for k in keys if k is not None)
        results: list[dict[str, Any]] = []
        journal: list[tuple] = []
        for values, key in zip(prepared, keys):
            if fd.type == "id":
                rid = values.pop("Id", None)
                if rid is None:
                    new_id, errors = self._write(obj, values, existing=None,
                                                 user_id=session.user_id, journal=journal)
                    results.append(_upsert_result(new_id, errors, created=True))
                    continue
                existing, error = self._lookup_for_write(obj, rid)
                if error:
                    results.append(_upsert_result(None, [error], created=False))
                    continue
                _, errors = self._write(obj, values, existing=existing,
                                        user_id=session.user_id, journal=journal)
                results.append(_upsert_result(existing["Id"], errors, created=False))
                continue
            value = values.get(fd.name)
            if value is None:
                results.append(_upsert_result(None, [_err(
                    "MISSING_ARGUMENT", f"{fd.name} not specified", [fd.name])], False))
                continue
            if key_counts[key] > 1:
                results.append(_upsert_result(None, [_err(
                    "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}",
                    [fd.name])], False))
                continue
            if "Id" in values:
                results.append(_upsert_result(None, [_err(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "Unable to create/update fields: Id. Upsert by external id can't also "
                    "specify Id.", ["Id"])], False))
                continue
            matches = self._lookup_index(obj, fd, value)
            if len(matches) > 1:
                results.append(_upsert_result(None, [_err(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{fd.name}: more than one record found for external id field: "
                    f"[{', '.join(matches)}]", [fd.name])], False))
                continue
            if matches:
                existing = self._records[obj.name][matches[0]]
                _, errors = self._write(obj, values, existing=existing,
                                        user_id=session.user_id, journal=journal)
                results.append(_upsert_result(None if errors else existing["Id"], errors,
                                              created=False))
            else:
                new_id, errors = self._write(obj, values, existing=None,
                                             user_id=session.user_id, journal=journal)
                results.append(_upsert_result(new_id, errors, created=not errors))
        return self._finish(results, journal, all_or_none)

    def _collection_save(self, request: Request, session: _Session, creating: bool) -> Response:
        all_or_none, raws = self._collection_body(request)
        prepared = []
        for raw in raws:
            obj = self._record_type(raw)
            prepared.append((obj, self._prepare(obj, raw)))
        results: list[dict[str, Any]] = []
        journal: list[tuple] = []
        for obj, values in prepared:
            if creating:
                if "Id" in values:
                    results.append(_save_result(None, [_err(
                        "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call",
                        ["Id"])]))
                    continue
                rid, errors = self._write(obj, values, existing=None, user_id=session.user_id,
                                          journal=journal)
                results.append(_save_result(rid if not errors else None, errors))
                continue
            rid = values.pop("Id", None)
            if rid is None:
                results.append(_save_result(None, [_err(
                    "MISSING_ARGUMENT", "Id not specified in an update call", [])]))
                continue
            existing, error = self._lookup_for_write(obj, rid)
            if error:
                results.append(_save_result(normalize_id(rid) if error["statusCode"] not in
                                            ("MALFORMED_ID",) else None, [error]))
                continue
            _, errors = self._write(obj, values, existing=existing, user_id=session.user_id,
                                    journal=journal)
            results.append(_save_result(existing["Id"], errors))
        return self._finish(results, journal, all_or_none)

    def _collection_delete(self, request: Request) -> Response:
        ids = [i for i in (request.args.get("ids") or "").split(",") if i]
        if not ids:
            raise _RequestError(400, "MISSING_ARGUMENT", "ids parameter is required")
        if len(ids) > MAX_COLLECTION_SIZE:
            raise _RequestError(400, "EXCEEDED_ID_LIMIT",
                                f"record limit reached. cannot submit more than "
                                f"{MAX_COLLECTION_SIZE} records into this call")
        all_or_none = (request.args.get("allOrNone") or "false").lower() == "true"
        results: list[dict[str, Any]] = []
        journal: list[tuple] = []
        for raw_id in ids:
            obj = self._object_for_id(raw_id)
            if obj is None:
                results.append(_save_result(None, [_err("MALFORMED_ID",
                                                        f"malformed id {raw_id}")]))
                continue
            self._records.setdefault(obj.name, {})
            error = self._delete(obj, raw_id, journal)
            rid = normalize_id(raw_id)
            results.append(_save_result(rid, [error] if error else []))
        return self._finish(results, journal, all_or_none)

    # ------------------------------------------------------------------ control over HTTP

    def _control(self, request: Request) -> Response:
        segs = [unquote(s) for s in request.path[len(CONTROL_PREFIX):].strip("/").split("/")]
        method = request.method
        try:
            raw = request.get_data(as_text=True)
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
            head = segs[0] if segs else ""
            if head == "reset" and method == "POST":
                self.reset()
                return Response(status=204)
            if head == "clients" and method == "POST":
                self.register_client(body["client_id"], body.get("client_secret"),
                                     body.get("jwt_public_key_pem"), body.get("username"))
                return Response(status=204)
            if head == "expire-sessions" and method == "POST":
                self.expire_sessions()
                return Response(status=204)
            if head == "api-limit":
                if method == "POST":
                    self.set_api_limit(int(body["limit"]))
                return _json(200, {"limit": self.api_limit, "usage": self.api_usage})
            if head == "tokens" and method == "POST":
                return _json(200, {"access_token": self.issue_token(
                    body.get("client_id"), body.get("username"))})
            if head == "faults" and method == "POST":
                self.inject_fault(body.get("method"), body.get("path_contains", ""),
                                  int(body["status"]), body.get("body"),
                                  int(body.get("times", 1)), body.get("headers"))
                return Response(status=204)
            if head == "requests":
                if method == "DELETE":
                    self.requests.clear()
                    return Response(status=204)
                return _json(200, [{"method": e.method, "path": e.path, "status": e.status}
                                   for e in self.requests.entries()])
            if head == "sobjects" and len(segs) == 2:
                if method == "GET":
                    return _json(200, self.all(segs[1], include_deleted=bool(
                        request.args.get("include_deleted"))))
                if method == "POST":
                    return _json(201, {"id": self.insert(segs[1], body)})
            if head == "sobjects" and len(segs) == 3:
                if method == "GET":
                    rec = self.get(segs[1], segs[2])
                    return _json(200, rec) if rec is not None else _json(
                        404, [{"errorCode": "NOT_FOUND", "message": "no such record"}])
                if method == "PATCH":
                    self.update(segs[1], segs[2], body)
                    return Response(status=204)
                if method == "DELETE":
                    self.delete(segs[1], segs[2])
                    return Response(status=204)
            if head == "leads" and len(segs) == 3 and segs[2] == "convert" and method == "POST":
                return _json(200, self.convert_lead(segs[1], opportunity=body.get("opportunity"),
                                                    account_id=body.get("account_id")))
            return _json(404, [{"errorCode": "NOT_FOUND",
                                "message": f"no control endpoint {method} {request.path}"}])
        except SalesforceEmulatorError as e:
            return _json(400, [{"errorCode": x["statusCode"], "message": x["message"],
                                "fields": x["fields"]} for x in e.errors])
        except (KeyError, ValueError, TypeError) as e:
            return _json(400, [{"errorCode": "INVALID_INPUT", "message": str(e)}])
        except _RequestError as e:
            return _json(e.status, e.body())


# ---------------------------------------------------------------------- helpers


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False), status=status,
                    headers=headers or {}, content_type="application/json;charset=UTF-8")


def _oauth_error(error: str, description: str) -> Response:
    return _json(400, {"error": error, "error_description": description})


def _method_not_allowed(method: str, allowed: str) -> _RequestError:
    return _RequestError(405, "METHOD_NOT_ALLOWED",
                         f"HTTP Method '{method}' not allowed. Allowed are {allowed}")


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _raw_segments(request: Request) -> list[str]:
    """Path segments, split before percent-decoding (an external id may contain '/')."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    raw = raw.split("?", 1)[0]
    if "://" in raw:
        raw = "/" + raw.split("://", 1)[1].split("/", 1)[-1]
    return [unquote(s) for s in raw.strip("/").split("/")]


def _json_object(request: Request) -> dict[str, Any]:
    raw = request.get_data(as_text=True)
    try:
        body = json.loads(raw) if raw.strip() else None
    except json.JSONDecodeError as e:
        raise _RequestError(400, "JSON_PARSER_ERROR",
                            f"Unexpected character ('{raw[e.pos:e.pos + 1]}'): was expecting "
                            f"a valid JSON value at [line:{e.lineno}, column:{e.colno}]") from None
    if not isinstance(body, dict):
        raise _RequestError(400, "JSON_PARSER_ERROR",
                            "Cannot deserialize instance of the request body: expected a JSON "
                            "object")
    return body


def _batch_size(request: Request) -> int:
    header = request.headers.get("Sforce-Query-Options", "")
    m = re.search(r"batchSize\s*=\s*(\d+)", header)
    if not m:
        return DEFAULT_BATCH_SIZE
    return max(MIN_BATCH_SIZE, min(DEFAULT_BATCH_SIZE, int(m.group(1))))


def _url_maker(version: str) -> Callable[[str, str], str]:
    def url_for(sobject: str, rid: str) -> str:
        return f"/services/data/v{version}/sobjects/{sobject}/{rid}"
    return url_for


def _global_entry(obj: SObjectDef) -> dict[str, Any]:
    return {"name": obj.name, "label": obj.label, "labelPlural": obj.label + "s",
            "keyPrefix": obj.key_prefix, "custom": obj.name.endswith("__c"),
            "createable": True, "updateable": True, "deletable": True, "queryable": True,
            "urls": {"sobject": f"/services/data/vXX.X/sobjects/{obj.name}",
                     "describe": f"/services/data/vXX.X/sobjects/{obj.name}/describe"}}


def _save_result(rid: str | None, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": rid, "success": not errors, "errors": errors}


def _upsert_result(rid: str | None, errors: list[dict[str, Any]], created: bool
                   ) -> dict[str, Any]:
    return {"id": rid if not errors else None, "success": not errors, "errors": errors,
            "created": created and not errors}


def _normalize_reference(obj: SObjectDef, name: str, value: Any) -> Any:
    fd = obj.fields.get(name.lower())
    if fd is not None and fd.type in ("reference", "id") and isinstance(value, str):
        return normalize_id(value) or value
    return value


def _canonical(obj: SObjectDef, name: str) -> str:
    fd = obj.field(name)
    if fd is None:
        raise KeyError(f"No such column '{name}' on sobject of type {obj.name}")
    return fd.name


def _loose_equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return a == b


def _parser_error(fd: FieldDef, value: Any, type_word: str) -> _RequestError:
    token = "VALUE_STRING" if isinstance(value, str) else (
        "VALUE_TRUE" if value is True else "VALUE_FALSE" if value is False else
        "START_ARRAY" if isinstance(value, list) else "START_OBJECT" if isinstance(value, dict)
        else "VALUE_NUMBER_INT" if isinstance(value, int) else "VALUE_NUMBER_FLOAT")
    shown = value if isinstance(value, (str, int, float)) else json.dumps(value)[:40]
    return _RequestError(400, "JSON_PARSER_ERROR",
                         f"Cannot deserialize instance of {type_word} from {token} value "
                         f"{shown} or request may be missing a required field "
                         f"(field {fd.name})")


def _coerce(fd: FieldDef, value: Any) -> Any:
    """A JSON value -> the field's python value, as Salesforce's deserializer would."""
    t = fd.type
    if value is None:
        return False if t == "boolean" else None
    if t in STRING_TYPES:
        if isinstance(value, str):
            return value if value != "" else None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return repr(value) if not value.is_integer() else str(int(value))
        raise _parser_error(fd, value, "string")
    if t in NUMBER_TYPES:
        if isinstance(value, bool):
            raise _parser_error(fd, value, "double" if t != "int" else "int")
        if isinstance(value, (int, float)):
            number: Any = value
        elif isinstance(value, str):
            try:
                number = float(value) if value.strip() else None
            except ValueError:
                raise _parser_error(fd, value, "double" if t != "int" else "int") from None
            if number is None:
                return None
        else:
            raise _parser_error(fd, value, "double" if t != "int" else "int")
        if number != number or number in (float("inf"), float("-inf")):
            raise _parser_error(fd, value, "double")
        if t == "int":
            if float(number) != int(number):
                raise _parser_error(fd, value, "int")
            return int(number)
        return float(number)
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parser_error(fd, value, "boolean")
    if t == "date":
        if isinstance(value, str):
            m = _DATE_RE.fullmatch(value) or None
            if m is None:
                dm = _DATETIME_RE.fullmatch(value)
                if dm:
                    try:
                        return _parse_datetime_match(dm).date()
                    except ValueError:
                        pass
                raise _parser_error(fd, value, "date")
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                raise _parser_error(fd, value, "date") from None
        raise _parser_error(fd, value, "date")
    if t == "datetime":
        if isinstance(value, str):
            dm = _DATETIME_RE.fullmatch(value)
            try:
                if dm:
                    return _truncate_ms(_parse_datetime_match(dm))
                m = _DATE_RE.fullmatch(value)
                if m:
                    return dt.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)),
                                       tzinfo=dt.timezone.utc)
            except ValueError:
                pass
        raise _parser_error(fd, value, "datetime")
    raise _parser_error(fd, value, t)


def _coerce_temporal(fd: FieldDef, value: dt.date) -> Any:
    if fd.type == "date":
        return value.date() if isinstance(value, dt.datetime) else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return _truncate_ms(value.astimezone(dt.timezone.utc))
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)


def _truncate_ms(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _parse_datetime_match(m: re.Match[str]) -> dt.datetime:
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    second = int(m.group(6) or 0)
    fraction, zone = m.group(7), m.group(8)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    if not zone or zone == "Z":
        tz = dt.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return dt.datetime(year, month, day, hour, minute, second, micro,
                       tzinfo=tz).astimezone(dt.timezone.utc)


__all__ = ["SalesforceEmulator", "SalesforceEmulatorError", "JWT_BEARER"]
