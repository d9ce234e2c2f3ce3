"""What Salesforce checks before it writes a record, in its order and words: converted Leads,
read-only fields, required fields, lengths, emails, restricted picklists, number ranges,
references (wrong type, missing, deleted) and unique values. Each failure is one per-record
error ``{statusCode, message, fields}``."""

from __future__ import annotations

import re
from typing import Any, Protocol

from emulators.salesforce.activities import refuse_read_only
from emulators.salesforce.errors import err
from emulators.salesforce.ids import normalize_id
from emulators.salesforce.schema import NUMBER_TYPES, STRING_TYPES, FieldDef, Schema, SObjectDef

_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


class OrgRecords(Protocol):
    """What validation reads of the org's records (``store.RecordStore`` provides it). The store
    calls validation on every write, so validation names only this, not the store's module."""

    schema: Schema
    records: dict[str, dict[str, dict[str, Any]]]  # sObject name -> id -> record (deleted too)

    def required_fields(self, obj: SObjectDef) -> list[FieldDef]: ...

    def lookup_index(self, obj: SObjectDef, fd: FieldDef, value: Any) -> list[str]: ...


def validate(store: OrgRecords, obj: SObjectDef, values: dict[str, Any],
              existing: dict[str, Any] | None) -> dict[str, Any] | None:
    creating = existing is None
    read_only = refuse_read_only(obj, creating)
    if read_only:
        return read_only
    if not creating and obj.name == "Lead" and existing.get("IsConverted"):
        return err("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
    locked = [name for name in values
              if not (obj.fields[name.lower()].createable if creating
                      else obj.fields[name.lower()].updateable)]
    if locked:
        if creating and locked == ["Id"]:
            return err("INVALID_FIELD_FOR_INSERT_UPDATE",
                        "cannot specify Id in an insert call", ["Id"])
        return err("INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {', '.join(locked)}. Please check the "
                    f"security settings of this field and verify that it is read/write for "
                    f"your profile or permission set.", locked)
    missing = [fd.name for fd in store.required_fields(obj) if (
        (creating and values.get(fd.name) is None and fd.default is None)
        or (fd.name in values and values[fd.name] is None))]
    if missing:
        return err("REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]", missing)
    for name, value in values.items():
        fd = obj.fields[name.lower()]
        error = validate_value(store, obj, fd, value)
        if error:
            return error
    rid = existing["Id"] if existing else None
    for name, value in values.items():
        fd = obj.fields[name.lower()]
        if fd.unique and value is not None:
            clash = [i for i in store.lookup_index(obj, fd, value) if i != rid]
            if clash:
                return err("DUPLICATE_VALUE",
                            f"duplicate value found: {fd.name} duplicates value on record "
                            f"with id: {clash[0]}", [fd.name])
    return None


def validate_value(store: OrgRecords, obj: SObjectDef, fd: FieldDef, value: Any) -> dict[str, Any] | None:
    if value is None:
        if fd.restricted_picklist and not fd.is_nillable:
            return err("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{fd.display_label}: bad value for restricted picklist field: "
                        f"null", [fd.name])
        return None
    if fd.type in STRING_TYPES and fd.type not in ("id", "reference") and fd.length \
            and len(value) > fd.length:
        shown = value if len(value) <= 80 else value[:77] + "..."
        return err("STRING_TOO_LONG",
                    f"{fd.display_label}: data value too large: {shown} "
                    f"(max length={fd.length})", [fd.name])
    if fd.type == "email" and not _EMAIL_RE.fullmatch(value):
        return err("INVALID_EMAIL_ADDRESS",
                    f"{fd.display_label}: invalid email address: {value}", [fd.name])
    if fd.type == "picklist" and fd.restricted_picklist and value not in fd.picklist_values:
        return err("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{fd.display_label}: bad value for restricted picklist field: "
                    f"{value}", [fd.name])
    if fd.type in NUMBER_TYPES and fd.precision:
        integer_digits = fd.precision - fd.scale
        if abs(value) >= 10 ** integer_digits:
            return err("NUMBER_OUTSIDE_VALID_RANGE",
                        f"{fd.display_label}: value outside of valid range on numeric "
                        f"field: {value}", [fd.name])
    if fd.type == "reference":
        label = fd.label or (fd.name[:-2] + " ID" if fd.name.endswith("Id") else fd.name)
        rid = normalize_id(value)
        if rid is None:
            return err("MALFORMED_ID", f"{label}: id value of incorrect type: {value}",
                        [fd.name])
        targets = [store.schema.get(t) for t in fd.reference_to]
        target = next((t for t in targets if t and rid.startswith(t.key_prefix)), None)
        if target is None:
            return err("FIELD_INTEGRITY_EXCEPTION",
                        f"{label}: id value of incorrect type: {value}", [fd.name])
        parent = store.records.get(target.name, {}).get(rid)
        if parent is None:
            return err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                        [fd.name])
        if parent.get("IsDeleted"):
            return err("ENTITY_IS_DELETED", "entity is deleted", [fd.name])
    return None

