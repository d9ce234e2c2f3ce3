"""The forward planner: decide what to write to Salesforce for a batch of HubSpot contacts.

Pure functions of (contacts, mapping, state, Salesforce's answers): no clients, no clock, no
database, so every decision is testable with plain data. ``syncd.runner`` does the I/O around it:

    plan_forward -> [lookup emails] -> resolve_email_matches -> write -> reconcile
                                                             -> [converted leads] -> plan_converted
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Literal

from syncd.mapping.model import Mapping
from syncd.core.records import Contact, ExistingLead, Link, Rejection, WriteResult
from syncd.core.digest import digest as payload_hash
from syncd.mapping.transform import FieldError, qualifies, render_fields

# Salesforce per-record codes that are worth retrying later even if the contact does not change.
RETRYABLE_RECORD_CODES = frozenset({
    "UNABLE_TO_LOCK_ROW", "ALL_OR_NONE_OPERATION_ROLLED_BACK", "REQUEST_RUNNING_TOO_LONG",
    "SERVER_UNAVAILABLE", "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY",
})
CONVERTED = "CANNOT_UPDATE_CONVERTED_LEAD"

WriteKind = Literal["upsert", "lead_update", "contact_update"]


@dataclass(frozen=True)
class Write:
    """One record to send. ``upsert`` goes by external id; the updates go by Salesforce Id."""

    hubspot_id: str
    kind: WriteKind
    fields: dict[str, Any]              # Salesforce field -> value, Id excluded
    payload_hash: str
    email: str | None = None
    target_id: str | None = None        # Lead Id (lead_update) or Contact Id (contact_update)
    lead_id: str | None = None          # the Lead behind a contact_update
    via_email: bool = False             # linked to a pre-existing Lead by email
    attribution: tuple[str | None, str | None, str | None] = (None, None, None)

    def record(self, mapping: Mapping) -> dict[str, Any]:
        """The JSON record for sObject Collections."""
        sobject = "Contact" if self.kind == "contact_update" else mapping.salesforce.object
        record: dict[str, Any] = {"attributes": {"type": sobject}}
        if self.target_id:
            record["Id"] = self.target_id
        record.update(self.fields)
        return record


@dataclass
class Plan:
    writes: list[Write] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    still_rejected: list[str] = field(default_factory=list)   # rejected before, payload unchanged
    not_qualified: list[str] = field(default_factory=list)
    skipped_converted: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)    # could not be rendered at all

    def needs_email_lookup(self, mapping: Mapping) -> list[Write]:
        if not mapping.salesforce.match_by_email:
            return []
        return [w for w in self.writes if w.kind == "upsert" and w.target_id is None
                and w.email and not w.via_email and w.lead_id is None]


def _contact_write(source: Write, mapping: Mapping, contact_id: str, lead_id: str | None) -> Write:
    renames = mapping.salesforce.converted.contact_fields
    fields = {contact_field: source.fields.get(lead_field) for lead_field, contact_field in renames.items()}
    return Write(source.hubspot_id, "contact_update", fields, payload_hash(fields),
                 target_id=contact_id, lead_id=lead_id, attribution=source.attribution)


def mapping_fingerprint(mapping: Mapping) -> str:
    """Changes whenever the mapping would render anything differently."""
    return payload_hash(mapping.model_dump(mode="json", by_alias=True))


def input_hash(contact: Contact, mapping: Mapping) -> str:
    """Fingerprint of a contact's values and the mapping that reads them."""
    return payload_hash({"mapping": mapping_fingerprint(mapping),
                         "properties": contact.properties,
                         "history": {k: [(h.value, h.timestamp) for h in v] for k, v in contact.history.items()}})


def attribution(contact: Contact, mapping: Mapping) -> tuple[str | None, str | None, str | None]:
    a = mapping.attribution
    return tuple(contact.properties.get(p) or None for p in (a.source, a.campaign, a.content))  # type: ignore[return-value]


def plan_forward(contacts: Iterable[Contact], mapping: Mapping, links: dict[str, Link],
                 rejections: dict[str, Rejection]) -> Plan:
    """What to write for these contacts, given what state says was written before."""
    plan = Plan()
    for contact in contacts:
        if not qualifies(contact, mapping.filters()):
            plan.not_qualified.append(contact.id)
            continue
        previous = rejections.get(contact.id)
        try:
            fields = render_fields(contact, mapping)
        except FieldError as exc:
            # Fingerprint the input instead of a payload: the same contact under the same mapping
            # fails the same way, so it is "still rejected", not rejected again.
            fingerprint = input_hash(contact, mapping)
            if previous is not None and previous.payload_hash == fingerprint:
                plan.still_rejected.append(contact.id)
            else:
                plan.rejected.append(Rejection(contact.id, exc.code, str(exc), fingerprint))
            continue
        link = links.get(contact.id)
        write = Write(contact.id, "upsert", fields, payload_hash(fields), email=contact.email,
                      lead_id=link.lead_id if link else None, attribution=attribution(contact, mapping))
        if link is not None and link.converted:
            if mapping.salesforce.converted.action == "skip" or not link.contact_id:
                plan.skipped_converted.append(contact.id)
                continue
            write = _contact_write(write, mapping, link.contact_id, link.lead_id)
        if link is not None and link.payload_hash == write.payload_hash:
            plan.unchanged.append(contact.id)
            continue
        if previous is not None and not previous.retryable and previous.payload_hash == write.payload_hash:
            plan.still_rejected.append(contact.id)
            continue
        plan.writes.append(write)
    return plan


def _pick_lead(candidates: list[ExistingLead], hubspot_id: str) -> ExistingLead | None:
    """Prefer the Lead already carrying this contact's id; else the oldest unclaimed one."""
    for lead in candidates:
        if lead.external_id == hubspot_id:
            return lead
    unclaimed = sorted((lead for lead in candidates if not lead.external_id), key=lambda l: (l.created_date, l.id))
    return unclaimed[0] if unclaimed else None


def resolve_email_matches(plan: Plan, existing: Iterable[ExistingLead], mapping: Mapping) -> Plan:
    """Turn upserts of new contacts whose email already has a Lead into updates of that Lead."""
    by_email: dict[str, list[ExistingLead]] = {}
    for lead in existing:
        if lead.email:
            by_email.setdefault(lead.email.strip().lower(), []).append(lead)
    lookup = {id(w) for w in plan.needs_email_lookup(mapping)}
    writes: list[Write] = []
    for write in plan.writes:
        match = None
        if id(write) in lookup and write.email:
            match = _pick_lead(by_email.get(write.email.strip().lower(), []), write.hubspot_id)
        if match is None:
            writes.append(write)
        elif match.converted:
            if mapping.salesforce.converted.action == "skip" or not match.converted_contact_id:
                plan.skipped_converted.append(write.hubspot_id)
            else:
                writes.append(replace(_contact_write(write, mapping, match.converted_contact_id, match.id),
                                      via_email=True))
        else:
            writes.append(replace(write, kind="lead_update", target_id=match.id, lead_id=match.id,
                                  via_email=True))
    plan.writes = writes
    return plan


@dataclass
class Outcome:
    """What one batch of writes means for state."""

    links: list[Link] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)          # hubspot ids no longer rejected
    converted: list[Write] = field(default_factory=list)       # refused as converted: look up the Contact
    created: int = 0
    updated: int = 0                 # Leads updated (including those first linked by email)
    contact_updates: int = 0         # converted Leads' Contacts updated
    linked_by_email: int = 0
    skipped_converted: int = 0


def reconcile(writes: list[Write], results: list[WriteResult], links: dict[str, Link]) -> Outcome:
    """Pair each write with Salesforce's answer (same order) and say what state should record."""
    if len(writes) != len(results):
        raise ValueError(f"{len(writes)} writes but {len(results)} results")
    outcome = Outcome()
    for write, result in zip(writes, results):
        previous = links.get(write.hubspot_id)
        if result.ok:
            if write.kind == "contact_update":
                link = Link(write.hubspot_id, write.lead_id or (previous.lead_id if previous else None),
                            contact_id=write.target_id, converted=True, payload_hash=write.payload_hash,
                            attribution=write.attribution)
            else:
                link = Link(write.hubspot_id, result.id or write.target_id, payload_hash=write.payload_hash,
                            attribution=write.attribution)
            outcome.links.append(link)
            outcome.resolved.append(write.hubspot_id)
            if write.kind == "contact_update":
                outcome.contact_updates += 1
            elif result.created:
                outcome.created += 1
            else:
                outcome.updated += 1
            outcome.linked_by_email += int(write.via_email)
            continue
        error = result.first_error
        code = error.code if error else "UNKNOWN_ERROR"
        if code == CONVERTED and write.kind != "contact_update":
            outcome.converted.append(write)
            continue
        message = error.message if error else "Salesforce gave no reason"
        if error and error.fields:
            message = f"{message} (fields: {', '.join(error.fields)})"
        outcome.rejections.append(Rejection(write.hubspot_id, code, message, write.payload_hash,
                                            retryable=code in RETRYABLE_RECORD_CODES))
    return outcome


def plan_converted(refused: list[Write], leads: Iterable[ExistingLead], mapping: Mapping) -> tuple[list[Write], list[Link]]:
    """For upserts Salesforce refused because the Lead was converted: write to the Contact instead
    (or skip, per the mapping). Returns (contact writes, links to record for skipped ones)."""
    by_external_id = {lead.external_id: lead for lead in leads if lead.external_id}
    by_id = {lead.id: lead for lead in leads}
    writes: list[Write] = []
    skipped: list[Link] = []
    for write in refused:
        lead = by_external_id.get(write.hubspot_id) or by_id.get(write.target_id or "")
        if lead is None:
            continue
        if mapping.salesforce.converted.action == "skip" or not lead.converted_contact_id:
            skipped.append(Link(write.hubspot_id, lead.id, lead.converted_contact_id, True, write.payload_hash,
                                write.attribution))
            continue
        writes.append(_contact_write(write, mapping, lead.converted_contact_id, lead.id))
    return writes, skipped
