"""Plain records passed between connectors, the planners and the state store.

Connectors turn remote payloads into these; the planners only ever see these. No SDK types, no
database types. The forward leg's records come first, then the back leg's (Salesforce outcomes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Filter:
    """One condition on a contact property, as plain data a contact source can push down.

    ``operator`` is one of equals, not_equals, in, not_in, gt, gte, lt, lte, exists,
    contains_token; ``operand`` is a value, a tuple of values (in, not_in) or a bool (exists)."""

    property: str
    operator: str
    operand: Any


@dataclass(frozen=True)
class HistoryEntry:
    value: str | None
    timestamp: str          # ISO 8601, as HubSpot returns it


@dataclass(frozen=True)
class Contact:
    """A marketing contact as syncd reads it. ``complete`` is False for a contact a source listed
    without every property asked for (HubSpot search with property history: the history comes
    from a batch read, which the runner makes only for contacts that may have changed)."""

    id: str
    properties: dict[str, str | None]
    history: dict[str, tuple[HistoryEntry, ...]] = field(default_factory=dict)
    complete: bool = True
    merged_ids: tuple[str, ...] = ()    # contacts merged into this one (their ids now name it)

    @property
    def email(self) -> str | None:
        return self.properties.get("email") or None

    @property
    def modified_at(self) -> dt.datetime | None:
        raw = self.properties.get("lastmodifieddate")
        if not raw:
            return None
        if raw.isdigit():
            return dt.datetime.fromtimestamp(int(raw) / 1000, tz=dt.timezone.utc)
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Link:
    """What state remembers about one HubSpot contact handed to Salesforce."""

    hubspot_id: str
    lead_id: str | None
    contact_id: str | None = None       # set once Sales converted the Lead
    converted: bool = False
    payload_hash: str | None = None     # hash of the last payload Salesforce accepted
    attribution: tuple[str | None, str | None, str | None] = (None, None, None)  # source, campaign, content
    source_modified: str | None = None  # the contact's lastmodifieddate that payload was rendered from
    mapping_fingerprint: str | None = None  # ... under this mapping (first 16 hex digits)
    moved: str | None = None            # deleted (unlinked: lead_id None) | held (merged into another's Lead)
    former_lead_id: str | None = None   # the Lead this link pointed at before it moved
    unmarked: bool | None = None        # the Lead lacks our external id (read back by Id); None: unknown
    agreement_parts: dict[str, bool] | None = None   # definition parts met at hand-over (None: not judged)

    def unchanged_since(self, contact: Contact, mapping_fingerprint: str) -> bool:
        """True when rendering ``contact`` again cannot give another payload: nothing in the
        contact moved since the accepted write, and the mapping is the one it was rendered with."""
        modified = contact.properties.get("lastmodifieddate")
        return (self.payload_hash is not None and modified is not None and self.source_modified == modified
                and self.mapping_fingerprint == mapping_fingerprint[:16])


@dataclass(frozen=True)
class Rejection:
    hubspot_id: str
    code: str
    message: str
    payload_hash: str | None
    retryable: bool = False             # transient failure: re-read next run even if unchanged


@dataclass(frozen=True)
class RecordError:
    code: str                           # e.g. STRING_TOO_LONG
    message: str
    fields: tuple[str, ...] = ()
    retryable: bool = False             # a passing refusal (the error table says): retry next run


@dataclass(frozen=True)
class WriteResult:
    """Salesforce's answer for one record of a collections call, in request order."""

    ok: bool
    id: str | None = None
    created: bool = False
    errors: tuple[RecordError, ...] = ()

    @property
    def first_error(self) -> RecordError | None:
        return self.errors[0] if self.errors else None


@dataclass(frozen=True)
class LeadWrite:
    """One record to send to the sales CRM. ``upsert`` creates or updates a Lead by the external
    id (``fields`` carries it); ``lead_update`` and ``contact_update`` update by ``target_id``."""

    kind: str                           # upsert | lead_update | contact_update
    fields: dict[str, Any]              # field API name -> value
    target_id: str | None = None


@dataclass(frozen=True)
class ExistingLead:
    """A Salesforce Lead found by email or external id."""

    id: str
    email: str | None
    external_id: str | None
    converted: bool
    converted_contact_id: str | None
    created_date: str = ""
    deleted: bool = False               # IsDeleted (read through queryAll)
    master_id: str | None = None        # MasterRecordId: the Lead a merge kept instead of this one


@dataclass(frozen=True)
class GoneContact:
    """A contact no longer where syncd left it: ``archived`` (restorable), ``deleted`` (for good,
    e.g. a GDPR delete) or ``merged`` into the contact ``into``."""

    hubspot_id: str
    kind: str                           # archived | deleted | merged
    into: str | None = None
    at: str | None = None               # when, if the source says (ISO 8601)


@dataclass(frozen=True)
class Move:
    """What syncd did about a contact that moved, as state records it: the Lead's link ``moved``
    to the surviving contact, or the mapping's ``archived_contact`` action (leave, mark, unlink)."""

    hubspot_id: str
    kind: str                           # archived | deleted | merged
    action: str                         # moved | leave | mark | unlink
    lead_id: str | None = None
    into: str | None = None             # merged: the surviving contact


# -- the back leg: Salesforce outcomes -> HubSpot --------------------------------------------


@dataclass(frozen=True)
class SalesforceLead:
    """A syncd-linked Lead as the outcome read returns it, with the Opportunity it was converted
    into (read in the same query, through the Lead's ConvertedOpportunity relationship)."""

    id: str
    hubspot_id: str                      # the external-id field
    status: str | None
    reason: str | None                   # the mapping's disqualification reason field
    converted: bool
    opportunity_id: str | None           # ConvertedOpportunityId
    modified_at: dt.datetime             # LastModifiedDate (a person's change), else SystemModstamp
    fields: dict[str, Any] = field(default_factory=dict)   # every field read, raw JSON values
    opportunity: SalesforceOpportunity | None = None
    deleted: bool = False                # IsDeleted: deleted (or merged away) in the window
    master_id: str | None = None         # MasterRecordId: the Lead a merge kept instead


@dataclass(frozen=True)
class SalesforceOpportunity:
    id: str
    stage: str | None
    closed: bool
    won: bool
    amount: float | None
    close_date: str | None               # YYYY-MM-DD
    loss_reason: str | None              # the mapping's loss reason field
    modified_at: dt.datetime
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutcomeState:
    """What state knows about one handed-over contact's fate in Salesforce: the last observed
    Lead and Opportunity, the outcome derived from them, and the hash of the last payload HubSpot
    accepted (None: nothing written yet)."""

    hubspot_id: str
    lead_id: str | None = None
    lead_status: str | None = None
    disqualified_reason: str | None = None
    converted: bool = False
    opportunity_id: str | None = None
    stage: str | None = None
    closed: bool = False
    won: bool = False
    amount: float | None = None
    close_date: str | None = None
    loss_reason: str | None = None
    outcome: str | None = None
    reason: str | None = None
    first_contacted_at: dt.datetime | None = None
    outcome_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    lead_fields: dict[str, Any] = field(default_factory=dict)
    opportunity_fields: dict[str, Any] = field(default_factory=dict)
    feedback_hash: str | None = None


@dataclass(frozen=True)
class ContactWriteResult:
    """HubSpot's answer for one contact of a batch update, in request order."""

    hubspot_id: str
    ok: bool
    code: str | None = None              # e.g. OBJECT_NOT_FOUND, INVALID_OPTION
    message: str | None = None
    retryable: bool = False              # a passing refusal (the error table says): retry next run


def parse_datetime(value: Any) -> dt.datetime | None:
    """A Salesforce datetime (``2026-01-31T10:00:00.000+0000``), ISO text, or a datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():       # +0000 -> +00:00
            text = f"{text[:-2]}:{text[-2:]}"
        parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
