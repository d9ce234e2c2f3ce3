"""The records of one emulated org: storage, the value indexes, writes and their rollback.

Records are dicts of Python values keyed by canonical field name; a deleted record stays with
``IsDeleted`` (queryAll sees it). Fields marked indexed (external ids, unique fields, emails)
have a value → ids index, so upserts and ``WHERE Email IN (...)`` don't scan. Every write goes
through ``write``: validation (``validation``), system fields (``LastModifiedById`` is the
acting user, ``SystemModstamp`` moves), derived fields, and an entry in the caller's journal so
an ``allOrNone`` batch can be rolled back.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Callable

from emulators.salesforce.activities import name_of, record_history
from emulators.salesforce.coercion import coerce, coerce_temporal, normalize_reference
from emulators.salesforce.demo_org import STAGE_PROBABILITY
from emulators.salesforce.errors import RequestError, SalesforceEmulatorError, err
from emulators.salesforce.ids import make_id, normalize_id
from emulators.salesforce.schema import NAME, FieldDef, Schema, SObjectDef, render_value
from emulators.salesforce.validation import validate as validate_record

SYSTEM_BOOLEANS = frozenset({"IsDeleted"})


class ObjMeta:
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


class RecordStore:
    """The org's records. One store lives as long as its emulator (``clear`` empties it), so
    the REST handlers are given it once."""

    def __init__(self, schema: Schema, now: Callable[[], dt.datetime]) -> None:
        self.schema = schema
        self.now = now
        self.clear()

    def clear(self) -> None:
        """Forget every record, id and index (the schema stays)."""
        self.records: dict[str, dict[str, dict[str, Any]]] = {obj.name: {} for obj in self.schema.objects()}
        self.seq: dict[str, int] = {}
        self.counter = itertools.count(1)
        self.index: dict[tuple[str, str], dict[Any, set[str]]] = {}
        self.meta_cache: dict[str, ObjMeta] = {}
        self.default_user_id: str | None = None

    def obj(self, sobject: str) -> SObjectDef:
        obj = self.schema.get(sobject)
        if obj is None:
            raise KeyError(f"unknown sObject {sobject!r}")
        self.records.setdefault(obj.name, {})
        return obj

    def meta(self, obj: SObjectDef) -> ObjMeta:
        meta = self.meta_cache.get(obj.name)
        if meta is None or meta.field_count != len(obj.fields):
            meta = ObjMeta(obj)
            self.meta_cache[obj.name] = meta
        return meta

    def required_fields(self, obj: SObjectDef) -> list[FieldDef]:
        return self.meta(obj).required

    def index_key(self, fd: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str) and not (fd.case_sensitive or fd.type in ("id", "reference")):
            return value.casefold()
        return value

    def index_add(self, obj: SObjectDef, fd: FieldDef, value: Any, rid: str) -> None:
        key = self.index_key(fd, value)
        if key is not None:
            self.index.setdefault((obj.name, fd.name), {}).setdefault(key, set()).add(rid)

    def index_remove(self, obj: SObjectDef, fd: FieldDef, value: Any, rid: str) -> None:
        key = self.index_key(fd, value)
        if key is None:
            return
        bucket = self.index.get((obj.name, fd.name), {}).get(key)
        if bucket is not None:
            bucket.discard(rid)
            if not bucket:
                del self.index[(obj.name, fd.name)][key]

    def reindex(self, obj: SObjectDef, old: dict[str, Any] | None,
                 new: dict[str, Any] | None) -> None:
        for fd in self.meta(obj).indexed:
            if old is not None and new is not None and old.get(fd.name) == new.get(fd.name) \
                    and bool(old.get("IsDeleted")) == bool(new.get("IsDeleted")):
                continue
            if old is not None and not old.get("IsDeleted"):
                self.index_remove(obj, fd, old.get(fd.name), old["Id"])
            if new is not None and not new.get("IsDeleted"):
                self.index_add(obj, fd, new.get(fd.name), new["Id"])

    def lookup_index(self, obj: SObjectDef, fd: FieldDef, value: Any) -> list[str]:
        if fd.indexed:
            ids = self.index.get((obj.name, fd.name), {}).get(self.index_key(fd, value), set())
            return sorted(ids, key=lambda i: self.seq.get(i, 0))
        key = self.index_key(fd, value)
        return [rid for rid, rec in self.records[obj.name].items()
                if not rec.get("IsDeleted") and self.index_key(fd, rec.get(fd.name)) == key]

    def rollback(self, journal: list[tuple]) -> None:
        for entry in reversed(journal):
            kind, obj, rid, old = entry
            current = self.records[obj.name].get(rid)
            self.reindex(obj, current, None)
            if kind == "create":
                self.records[obj.name].pop(rid, None)
                self.seq.pop(rid, None)
            else:
                self.records[obj.name][rid] = old
                self.reindex(obj, None, old)
        journal.clear()

    def resolve(self, sobject: str, rid: str) -> dict[str, Any] | None:
        if sobject == NAME:
            return name_of(self, rid)
        rec = self.records.get(sobject, {}).get(rid)
        if rec is None or rec.get("IsDeleted"):
            return None
        return rec

    def render(self, obj: SObjectDef, rec: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for fd in obj.fields.values():
            value = rec.get(fd.name)
            if value is None and fd.type == "boolean":
                value = False
            out[fd.name] = render_value(fd, value)
        return out

    # ------------------------------------------------------------------ input coercion

    def field(self, obj: SObjectDef, name: str) -> FieldDef:
        fd = obj.field(name)
        if fd is None:
            raise RequestError(400, "INVALID_FIELD",
                                f"No such column '{name}' on sobject of type {obj.name}")
        return fd

    def prepare(self, obj: SObjectDef, raw: dict[str, Any]) -> dict[str, Any]:
        """A record as given -> {canonical field name: python value}; request-level errors raise.
        Values are JSON's, or (from the Python control API) also dates and datetimes."""
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "attributes":
                continue
            fd = self.field(obj, key)
            if isinstance(value, (dt.date, dt.datetime)) and fd.type in ("date", "datetime"):
                values[fd.name] = coerce_temporal(fd, value)
            else:
                values[fd.name] = coerce(fd, value)
        return values

    def control_prepare(self, obj: SObjectDef, raw: dict[str, Any],
                         allow_id: bool) -> dict[str, Any]:
        """``prepare`` for the control API, whose errors are ``SalesforceEmulatorError``."""
        try:
            values = self.prepare(obj, raw)
        except RequestError as e:
            raise SalesforceEmulatorError([err(e.error_code, e.message)]) from None
        if not allow_id:
            values.pop("Id", None)
        return values

    def write(self, obj: SObjectDef, values: dict[str, Any], *,
              existing: dict[str, Any] | None, user_id: str | None, journal: list[tuple],
              validate: bool = True) -> tuple[str | None, list[dict[str, Any]]]:
        """Create (``existing`` None) or update one record. Returns (id, errors)."""
        values = {k: normalize_reference(obj, k, v) for k, v in values.items()}
        if validate:
            error = validate_record(self, obj, values, existing)
            if error:
                return (existing["Id"] if existing else None), [error]
        now = self.now()
        if existing is None:
            seq = next(self.counter)
            rid = make_id(obj.key_prefix, seq)
            user_id = user_id or self.default_user_id or rid  # the very first User owns itself
            rec: dict[str, Any] = {"Id": rid, "IsDeleted": False, "CreatedDate": now,
                                   "CreatedById": user_id}
            if obj.field("OwnerId") is not None:
                rec["OwnerId"] = user_id
            rec.update(self.meta(obj).defaults)
            rec.update({k: v for k, v in values.items()
                        if not (k in ("OwnerId", "CreatedById") and v is None)})
            old = None
            self.seq[rid] = seq
        else:
            rid = existing["Id"]
            user_id = user_id or self.default_user_id or rid
            old = existing
            rec = dict(existing)
            rec.update(values)
        rec["LastModifiedDate"] = values.get("LastModifiedDate") or now
        rec["LastModifiedById"] = user_id
        rec["SystemModstamp"] = values.get("SystemModstamp") or now
        self.derive(obj, rec, values, creating=existing is None)
        self.records[obj.name][rid] = rec
        self.reindex(obj, old, rec)
        journal.append(("create" if existing is None else "update", obj, rid, old))
        record_history(self, obj, old, rec, user_id, journal)
        return rid, []

    def write_or_raise(self, obj: SObjectDef, values: dict[str, Any], journal: list[tuple],
                        user_id: str | None) -> str:
        rid, errors = self.write(obj, {k: v for k, v in values.items() if v is not None},
                                  existing=None, user_id=user_id, journal=journal)
        if errors:
            raise SalesforceEmulatorError(errors)
        assert rid is not None
        return rid

    def derive(self, obj: SObjectDef, rec: dict[str, Any], values: dict[str, Any],
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

    def lookup_for_write(self, obj: SObjectDef, record_id: Any
                          ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(record, None) or (None, per-record error) for an update/delete target."""
        rid = normalize_id(record_id) if isinstance(record_id, str) else None
        if rid is None:
            return None, err("MALFORMED_ID", f"malformed id {record_id}", ["Id"])
        if not rid.startswith(obj.key_prefix):
            return None, err("MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: "
                                              f"{record_id}", ["Id"])
        rec = self.records[obj.name].get(rid)
        if rec is None:
            return None, err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if rec.get("IsDeleted"):
            return None, err("ENTITY_IS_DELETED", "entity is deleted")
        return rec, None

    def delete(self, obj: SObjectDef, record_id: Any, journal: list[tuple]
                ) -> dict[str, Any] | None:
        rec, error = self.lookup_for_write(obj, record_id)
        if error:
            return error
        assert rec is not None
        now = self.now()
        new = dict(rec)
        new["IsDeleted"] = True
        new["SystemModstamp"] = now
        new["LastModifiedDate"] = now
        self.records[obj.name][rec["Id"]] = new
        self.reindex(obj, rec, new)
        journal.append(("update", obj, rec["Id"], rec))
        return None

    def object_for_id(self, record_id: Any) -> SObjectDef | None:
        rid = normalize_id(record_id) if isinstance(record_id, str) else None
        return self.schema.by_prefix(rid[:3]) if rid else None

    # -- users (the owners and modifiers of records)

    def create_user(self, username: str, first: str, last: str) -> str:
        obj = self.obj("User")
        values = {"Username": username, "FirstName": first, "LastName": last,
                  "Email": username if "@" in username else f"{username}@example.com",
                  "IsActive": True}
        rid, errors = self.write(obj, values, existing=None, user_id=None, journal=[], validate=False)
        assert rid is not None, errors
        return rid

    def ensure_user(self, username: str) -> str:
        fd = self.obj("User").field("Username")
        assert fd is not None
        ids = self.index.get(("User", "Username"), {}).get(username.casefold())
        if ids:
            return next(iter(ids))
        local = username.split("@")[0]
        return self.create_user(username, local.capitalize(), "User")
