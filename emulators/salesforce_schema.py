"""The demo org's object schema, as data: what the Salesforce emulator validates and describes.

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
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

# Field types, as ``describe`` reports them.
STRING_TYPES = frozenset({"id", "reference", "string", "textarea", "email", "phone", "url",
                          "picklist", "multipicklist", "combobox"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
ALL_TYPES = STRING_TYPES | NUMBER_TYPES | {"boolean", "date", "datetime"}

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
            ],
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


# --- the demo org ----------------------------------------------------------------------------

LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Advertisement",
                "Email", "Social Media", "Search", "Event", "Other")
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted")
INDUSTRIES = ("Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals",
              "Communications", "Construction", "Consulting", "Education", "Electronics",
              "Energy", "Engineering", "Entertainment", "Environmental", "Finance",
              "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance",
              "Machinery", "Manufacturing", "Media", "Not For Profit", "Recreation",
              "Retail", "Shipping", "Technology", "Telecommunications", "Transportation",
              "Utilities", "Other")
UNQUALIFIED_REASONS = ("No Budget", "No Authority", "No Need", "Bad Timing", "Competitor",
                       "Unresponsive", "Bad Data", "Other")
OPPORTUNITY_STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
                      "Negotiation/Review", "Closed Won", "Closed Lost")
#: Default Probability per stage, as in a fresh org.
STAGE_PROBABILITY = {"Prospecting": 10, "Qualification": 10, "Needs Analysis": 20,
                     "Proposal/Price Quote": 75, "Negotiation/Review": 90, "Closed Won": 100,
                     "Closed Lost": 0}
LOSS_REASONS = ("Price", "Competitor", "No Decision", "Timing", "Product Fit", "Other")

KEY_PREFIXES = {"Account": "001", "Contact": "003", "User": "005", "Opportunity": "006",
                "Lead": "00Q"}


def _system_fields(sobject: str, owner: bool = True) -> list[FieldDef]:
    ro = dict(createable=False, updateable=False)
    fields = [
        FieldDef("Id", "id", label=f"{sobject} ID", **ro),
        FieldDef("IsDeleted", "boolean", label="Deleted", **ro),
        FieldDef("CreatedDate", "datetime", nillable=False, **ro),
        FieldDef("CreatedById", "reference", reference_to=("User",), nillable=False, **ro),
        FieldDef("LastModifiedDate", "datetime", nillable=False, **ro),
        FieldDef("LastModifiedById", "reference", reference_to=("User",), nillable=False, **ro),
        FieldDef("SystemModstamp", "datetime", nillable=False, **ro),
    ]
    if owner:
        fields.append(FieldDef("OwnerId", "reference", reference_to=("User",), nillable=False,
                               label="Owner ID"))
    return fields


def _marketing_fields(contact: bool) -> list[FieldDef]:
    return [
        FieldDef("HubSpot_Contact_Id__c", "string", 50, external_id=True, unique=not contact,
                 label="HubSpot Contact Id"),
        FieldDef("HubSpot_Source__c", "string", 100),
        FieldDef("HubSpot_Source_Detail__c", "string", 255),
        FieldDef("HubSpot_Campaign__c", "string", 255),
        FieldDef("UTM_Source__c", "string", 255, label="UTM Source"),
        FieldDef("UTM_Medium__c", "string", 255, label="UTM Medium"),
        FieldDef("UTM_Campaign__c", "string", 255, label="UTM Campaign"),
        FieldDef("First_Touch_URL__c", "url", 255, label="First Touch URL"),
        FieldDef("Last_Touch_URL__c", "url", 255, label="Last Touch URL"),
        FieldDef("First_Conversion__c", "string", 255),
        FieldDef("Recent_Conversion__c", "string", 255),
        FieldDef("Content_Consumed__c", "textarea", 32768),
        FieldDef("Conversion_Count__c", "double", precision=18, scale=0),
        FieldDef("Page_Views__c", "double", precision=18, scale=0),
        FieldDef("Last_Marketing_Email__c", "string", 255),
        FieldDef("Pain_Points__c", "textarea", 32768),
        FieldDef("HubSpot_Lifecycle_Stage__c", "string", 100),
    ]


def demo_schema() -> Schema:
    """A fresh copy of the demo org's schema (Lead, Contact, Account, Opportunity, User)."""
    ro = dict(createable=False, updateable=False)

    lead = SObjectDef("Lead", KEY_PREFIXES["Lead"], "Lead")
    for fd in _system_fields("Lead") + [
        FieldDef("FirstName", "string", 40),
        FieldDef("LastName", "string", 80, required=True),
        FieldDef("Name", "string", 121, label="Full Name", calculated=True, **ro),
        FieldDef("Company", "string", 255, required=True),
        FieldDef("Email", "email", 80, id_lookup=True),
        FieldDef("Phone", "phone", 40),
        FieldDef("Title", "string", 128),
        FieldDef("Website", "url", 255),
        FieldDef("Industry", "picklist", 255, picklist_values=INDUSTRIES),
        FieldDef("LeadSource", "picklist", 255, picklist_values=LEAD_SOURCES,
                 restricted_picklist=True),
        FieldDef("Status", "picklist", 255, picklist_values=LEAD_STATUSES,
                 restricted_picklist=True, nillable=False, default="Open - Not Contacted"),
        FieldDef("Description", "textarea", 32000),
        FieldDef("City", "string", 40),
        FieldDef("Country", "string", 80),
        FieldDef("NumberOfEmployees", "int", precision=8),
        FieldDef("IsConverted", "boolean", label="Converted", default=False, **ro),
        FieldDef("ConvertedDate", "date", **ro),
        FieldDef("ConvertedContactId", "reference", reference_to=("Contact",), **ro),
        FieldDef("ConvertedAccountId", "reference", reference_to=("Account",), **ro),
        FieldDef("ConvertedOpportunityId", "reference", reference_to=("Opportunity",), **ro),
    ] + _marketing_fields(contact=False) + [
        FieldDef("Unqualified_Reason__c", "picklist", 255, picklist_values=UNQUALIFIED_REASONS),
    ]:
        lead.add(fd)

    contact = SObjectDef("Contact", KEY_PREFIXES["Contact"], "Contact")
    for fd in _system_fields("Contact") + [
        FieldDef("FirstName", "string", 40),
        FieldDef("LastName", "string", 80, required=True),
        FieldDef("Name", "string", 121, label="Full Name", calculated=True, **ro),
        FieldDef("Email", "email", 80, id_lookup=True),
        FieldDef("Phone", "phone", 40),
        FieldDef("Title", "string", 128),
        FieldDef("AccountId", "reference", reference_to=("Account",)),
        FieldDef("Description", "textarea", 32000),
        FieldDef("LeadSource", "picklist", 255, picklist_values=LEAD_SOURCES,
                 restricted_picklist=True),
    ] + _marketing_fields(contact=True):
        contact.add(fd)

    account = SObjectDef("Account", KEY_PREFIXES["Account"], "Account")
    for fd in _system_fields("Account") + [
        FieldDef("Name", "string", 255, required=True, id_lookup=True),
        FieldDef("Website", "url", 255),
        FieldDef("Industry", "picklist", 255, picklist_values=INDUSTRIES),
        FieldDef("Description", "textarea", 32000),
        FieldDef("NumberOfEmployees", "int", precision=8),
    ]:
        account.add(fd)

    opportunity = SObjectDef("Opportunity", KEY_PREFIXES["Opportunity"], "Opportunity")
    for fd in _system_fields("Opportunity") + [
        FieldDef("Name", "string", 120, required=True),
        FieldDef("StageName", "picklist", 255, picklist_values=OPPORTUNITY_STAGES,
                 restricted_picklist=True, required=True, label="Stage"),
        FieldDef("CloseDate", "date", required=True),
        FieldDef("Amount", "currency", precision=18, scale=2),
        FieldDef("AccountId", "reference", reference_to=("Account",)),
        FieldDef("IsClosed", "boolean", label="Closed", calculated=True, **ro),
        FieldDef("IsWon", "boolean", label="Won", calculated=True, **ro),
        FieldDef("Probability", "percent", precision=3, scale=0),
        FieldDef("Loss_Reason__c", "picklist", 255, picklist_values=LOSS_REASONS),
        FieldDef("LeadSource", "picklist", 255, picklist_values=LEAD_SOURCES,
                 restricted_picklist=True),
        FieldDef("Description", "textarea", 32000),
    ]:
        opportunity.add(fd)

    user = SObjectDef("User", KEY_PREFIXES["User"], "User")
    for fd in _system_fields("User", owner=False) + [
        FieldDef("Username", "string", 80, required=True, unique=True, id_lookup=True),
        FieldDef("FirstName", "string", 40),
        FieldDef("LastName", "string", 80, required=True),
        FieldDef("Name", "string", 121, label="Full Name", calculated=True, **ro),
        FieldDef("Email", "email", 128, required=True),
        FieldDef("IsActive", "boolean", label="Active", default=True),
    ]:
        user.add(fd)

    return Schema([lead, contact, account, opportunity, user])


def with_overrides(fd: FieldDef, **changes: Any) -> FieldDef:
    """A copy of ``fd`` with some attributes changed (``FieldDef`` is frozen)."""
    return replace(fd, **changes)


# --- record ids ------------------------------------------------------------------------------

_ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID15 = re.compile(r"[0-9A-Za-z]{15}")


def id_checksum(id15: str) -> str:
    """The 3-character suffix that turns a case-sensitive 15-char id into the 18-char form."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += _CHECKSUM_CHARS[bits]
    return suffix


def normalize_id(value: Any) -> str | None:
    """The 18-char form of a 15- or 18-char record id, or None when ``value`` isn't one."""
    if not isinstance(value, str):
        return None
    if len(value) == 15 and _ID15.fullmatch(value):
        return value + id_checksum(value)
    if len(value) == 18 and _ID15.fullmatch(value[:15]):
        if value[15:].upper() == id_checksum(value[:15]):
            return value[:15] + id_checksum(value[:15])
    return None


def make_id(key_prefix: str, sequence: int, pod: str = "Dm0000") -> str:
    """An 18-char id: 3-char key prefix, 6-char pod/reserved part, 6-char base62 counter."""
    digits = ""
    n = sequence
    for _ in range(6):
        n, r = divmod(n, 62)
        digits = _ID_CHARS[r] + digits
    id15 = key_prefix + pod + digits
    return id15 + id_checksum(id15)
