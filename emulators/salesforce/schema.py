"""An org's object schema, as data: what the Salesforce emulator validates and describes.

Everything the emulator knows about an object (which fields exist, their types and lengths,
which are required, external ids, unique, restricted picklists, references) comes from here,
so a field added with :meth:`Schema.add_field` is immediately queryable, writable, validated
and present in ``describe``.

Field names are matched case-insensitively (as Salesforce does) but always reported in their
canonical casing.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

# Field types, as ``describe`` reports them.
STRING_TYPES = frozenset({"id", "reference", "string", "textarea", "email", "phone", "url",
                          "picklist", "multipicklist", "combobox"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
ALL_TYPES = STRING_TYPES | NUMBER_TYPES | {"boolean", "date", "datetime"}

#: The object a polymorphic relationship points at (its rows: Id, Name, Type of the record).
NAME = "Name"

#: Long text areas (textarea longer than 255) can be neither filtered nor sorted in SOQL.
LONG_TEXT_THRESHOLD = 255


@dataclass(frozen=True)
class FieldDef:
    """One field of an sObject, with the ``describe`` attributes the emulator honours.

    ``required`` means "must be given on create" (REQUIRED_FIELD_MISSING); such a field is
    reported as ``nillable: false``. ``default`` is applied on create when the field is absent.
    """

    name: str
    type: str
    length: int = 0
    label: str | None = None
    required: bool = False
    nillable: bool | None = None  # None: derived (not required, and not boolean)
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    id_lookup: bool | None = None  # None: derived (id, external id fields)
    case_sensitive: bool = False
    picklist_values: tuple[str, ...] = ()
    # Values an admin deactivated: still listed by describe (``active: false``), kept on the records
    # that have them, refused on a write to a restricted picklist.
    inactive_picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    precision: int = 0
    scale: int = 0
    default: Any = None
    calculated: bool = False

    def __post_init__(self) -> None:
        if self.type not in ALL_TYPES:
            raise ValueError(f"unknown field type {self.type!r} for {self.name}")
        if self.type == "reference" and self.relationship_name is None and self.reference_to:
            rel = (self.name[:-3] + "__r" if self.name.endswith("__c")
                   else self.name[:-2] if self.name.endswith("Id") else None)
            object.__setattr__(self, "relationship_name", rel)
        if self.type in ("id", "reference") and not self.length:
            object.__setattr__(self, "length", 18)

    @property
    def display_label(self) -> str:
        return self.label or _labelize(self.name)

    @property
    def is_nillable(self) -> bool:
        if self.nillable is not None:
            return self.nillable
        return not self.required and self.type != "boolean" and self.type != "id"

    @property
    def is_id_lookup(self) -> bool:
        if self.id_lookup is not None:
            return self.id_lookup
        return self.type == "id" or self.external_id

    @property
    def is_long_text(self) -> bool:
        return self.type == "textarea" and self.length > LONG_TEXT_THRESHOLD

    @property
    def filterable(self) -> bool:
        return not self.is_long_text

    @property
    def sortable(self) -> bool:
        return not self.is_long_text

    @property
    def indexed(self) -> bool:
        """Kept in a value -> ids index by the emulator (external ids, unique, Email)."""
        return self.external_id or self.unique or self.type == "email"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.display_label,
            "type": self.type,
            "length": self.length if self.type in STRING_TYPES else 0,
            "precision": self.precision,
            "scale": self.scale,
            "nillable": self.is_nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.default is not None or self.type == "boolean"
            or self.name in SYSTEM_FIELD_NAMES,
            "calculated": self.calculated,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.is_id_lookup,
            "caseSensitive": self.case_sensitive,
            "filterable": self.filterable,
            "sortable": self.sortable,
            "custom": self.name.endswith("__c"),
            "picklistValues": [
                {"value": v, "label": v, "active": True, "defaultValue": v == self.default,
                 "validFor": None}
                for v in self.picklist_values
            ] + [{"value": v, "label": v, "active": False, "defaultValue": False, "validFor": None}
                 for v in self.inactive_picklist_values],
            "restrictedPicklist": self.restricted_picklist,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "soapType": _SOAP_TYPES[self.type],
        }


_SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "string": "xsd:string", "textarea": "xsd:string",
    "email": "xsd:string", "phone": "xsd:string", "url": "xsd:string",
    "picklist": "xsd:string", "multipicklist": "xsd:string", "combobox": "xsd:string",
    "int": "xsd:int", "double": "xsd:double", "currency": "xsd:double",
    "percent": "xsd:double", "boolean": "xsd:boolean", "date": "xsd:date",
    "datetime": "xsd:dateTime",
}

SYSTEM_FIELD_NAMES = frozenset({"Id", "IsDeleted", "CreatedDate", "CreatedById",
                                "LastModifiedDate", "LastModifiedById", "SystemModstamp",
                                "OwnerId"})


def _labelize(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    base = base.replace("_", " ")
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).strip()


@dataclass
class SObjectDef:
    name: str
    key_prefix: str
    label: str
    fields: dict[str, FieldDef] = field(default_factory=dict)  # lower-cased name -> def

    def add(self, fd: FieldDef) -> None:
        self.fields[fd.name.lower()] = fd

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship name is ``name`` (case-insensitive)."""
        lowered = name.lower()
        for fd in self.fields.values():
            if fd.type == "reference" and fd.relationship_name \
                    and fd.relationship_name.lower() == lowered:
                return fd
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label + "s",
            "keyPrefix": self.key_prefix,
            "custom": self.name.endswith("__c"),
            "createable": True, "updateable": True, "deletable": True,
            "queryable": True, "retrieveable": True, "searchable": True,
            "fields": [fd.describe() for fd in self.fields.values()],
            "urls": {
                "sobject": f"/services/data/vXX.X/sobjects/{self.name}",
                "describe": f"/services/data/vXX.X/sobjects/{self.name}/describe",
                "rowTemplate": f"/services/data/vXX.X/sobjects/{self.name}/{{ID}}",
            },
        }


class Schema:
    """The set of sObjects an org has. Lookups are case-insensitive."""

    def __init__(self, objects: Iterable[SObjectDef] = ()) -> None:
        self._objects: dict[str, SObjectDef] = {}
        for obj in objects:
            self._objects[obj.name.lower()] = obj

    def get(self, sobject: str) -> SObjectDef | None:
        return self._objects.get(sobject.lower())

    def by_prefix(self, prefix: str) -> SObjectDef | None:
        for obj in self._objects.values():
            if obj.key_prefix == prefix:
                return obj
        return None

    def objects(self) -> list[SObjectDef]:
        return list(self._objects.values())

    def add_object(self, obj: SObjectDef) -> None:
        self._objects[obj.name.lower()] = obj

    def add_field(self, sobject: str, fd: FieldDef) -> None:
        obj = self.get(sobject)
        if obj is None:
            raise KeyError(f"unknown sObject {sobject!r}")
        obj.add(fd)

    def copy(self) -> "Schema":
        return Schema(copy.deepcopy(list(self._objects.values())))

    def target(self, ref: FieldDef) -> SObjectDef | None:
        """The object a relationship lands on: ``Name`` for a polymorphic one (``Who``: a Lead or
        a Contact), when the org has it (``Who.Type``, ``Who.Name``)."""
        if len(ref.reference_to) > 1 and self.get(NAME) is not None:
            return self.get(NAME)
        return self.get(ref.reference_to[0])


# --- value rendering (internal python value -> JSON value) -------------------------------

def format_datetime(value: dt.datetime) -> str:
    """Salesforce's JSON datetime format: ``2024-01-31T10:00:00.000+0000``."""
    value = value.astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def render_value(fd: FieldDef, value: Any) -> Any:
    if value is None:
        return False if fd.type == "boolean" else None
    if fd.type == "datetime":
        return format_datetime(value)
    if fd.type == "date":
        return value.isoformat()
    if fd.type in ("double", "currency", "percent"):
        return float(value)
    if fd.type == "int":
        return int(value)
    return value


