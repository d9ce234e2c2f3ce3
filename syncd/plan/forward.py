"""The forward planner: what to write to Salesforce for a page of HubSpot contacts.

Pure functions of plain data: no clients, no clock, no database, so every decision is testable
with plain data. ``syncd.run.forward`` does the I/O around them, once per page:

    needs_reading / email_lookups  (what to gather)  ->  gather  ->  plan  ->  write  ->  confirm  ->  commit

``plan`` is the one entry that decides; the only second rounds are ``follow_converted``, for the
rare Lead Sales converted since syncd last wrote it (Salesforce refuses the write, and only then
do we know to look its Contact up), and ``follow_deleted``, for a Lead deleted or merged away
(``syncd.plan.lead_moves``). A Lead syncd already knows is written by Id, never upserted by the
external id, so one deleted in Salesforce is never re-created by accident.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from syncd.agreement.model import Agreement
from syncd.agreement.parts import parts_met
from syncd.core.digest import digest
from syncd.core.records import Contact, ExistingLead, LeadWrite, Link, Move, Rejection, WriteResult
from syncd.mapping.model import Mapping as LeadMapping
from syncd.mapping.templates import RenderStopped
from syncd.mapping.transform import FieldError, qualifies, render_fields
from syncd.plan import lead_moves

CONVERTED = "CANNOT_UPDATE_CONVERTED_LEAD"
Attribution = tuple[str | None, str | None, str | None]


@dataclass(frozen=True)
class Write:
    """One record to send, with what state records once Salesforce accepts it."""

    hubspot_id: str
    kind: str                           # upsert (by external id) | lead_update | contact_update (by Id)
    fields: dict[str, Any]              # Salesforce field -> value, Id excluded
    payload_hash: str
    email: str | None = None
    target_id: str | None = None        # Lead Id (lead_update) or Contact Id (contact_update)
    lead_id: str | None = None          # the Lead behind a contact_update, or the linked Lead
    via_email: bool = False             # linked to a pre-existing Lead by email
    attribution: Attribution = (None, None, None)
    source_modified: str | None = None  # the contact's lastmodifieddate this was rendered from
    mapping_fp: str | None = None
    unmarked: bool | None = None        # the Lead does not carry our external id (a contact_update's Lead)
    former_lead_id: str | None = None   # the Lead this write follows away from (deleted or merged)
    move: str | None = None             # merged | recreated: the event to log once Salesforce accepts it
    replaces: str | None = None         # takes over this merged-away contact's Lead (itself: relinks it)
    agreement_parts: dict[str, bool] | None = None   # a first hand-over: the definition parts it meets

    def lead_write(self) -> LeadWrite:
        return LeadWrite(self.kind, self.fields, self.target_id)


@dataclass(frozen=True)
class ForwardFacts:
    """What the runner gathered for one page before planning it."""

    links: Mapping[str, Link] = field(default_factory=dict)
    rejections: Mapping[str, Rejection] = field(default_factory=dict)
    existing: Sequence[ExistingLead] = ()          # Leads found by the emails ``email_lookups`` named
    # Rejected contacts an admin asked to re-send now (`syncd rejected retry`): whatever the fix
    # was (in Salesforce, say), they are written even when their payload is the one refused.
    resend: frozenset[str] = frozenset()
    # Contacts planned even when their payload is the one last accepted: `syncd backfill` compares
    # the planned write with what Salesforce holds now itself (Sales may have changed it since).
    refresh: frozenset[str] = frozenset()


@dataclass
class ForwardPlan:
    writes: list[Write] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)            # recorded without a write
    rejections: list[Rejection] = field(default_factory=list)  # the mapping could not render these
    resolved: list[str] = field(default_factory=list)          # rejected before; nothing left to write
    unchanged: list[str] = field(default_factory=list)
    still_rejected: list[str] = field(default_factory=list)    # rejected before, payload unchanged
    not_qualified: list[str] = field(default_factory=list)
    skipped_converted: list[str] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)          # the Lead was deleted; the mapping says unlink
    held: list[str] = field(default_factory=list)              # merged into another contact's Lead
    # Contacts whose email matched several unclaimed Leads (duplicates in Salesforce, often differing
    # only in case): hubspot id -> (the Lead linked: the oldest, the others). Linked, but said aloud.
    ambiguous: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    stopped: bool = False              # a stop request cut rendering short: an empty plan, write nothing

    def counts(self) -> Counter:
        return Counter(unchanged=len(self.unchanged), still_rejected=len(self.still_rejected),
                       not_qualified=len(self.not_qualified), skipped_converted=len(self.skipped_converted),
                       rejected=len(self.rejections), skipped_unlinked=len(self.unlinked),
                       skipped_held=len(self.held), ambiguous_email=len(self.ambiguous))


# -- what to gather ------------------------------------------------------------------------------
def needs_reading(contacts: Iterable[Contact], links: Mapping[str, Link], rejections: Mapping[str, Rejection],
                  fingerprint: str) -> list[str]:
    """Incomplete contacts that must be read in full: all but those provably unchanged since the
    write Salesforce accepted (same lastmodifieddate, same mapping, nothing to retry)."""
    return [c.id for c in contacts if not c.complete and (
        c.id in rejections or (link := links.get(c.id)) is None or not link.unchanged_since(c, fingerprint))]


def email_lookups(contacts: Iterable[Contact], links: Mapping[str, Link], mapping: LeadMapping) -> list[str]:
    """Emails of contacts with no Lead yet: an existing Lead with one of them is linked, not duplicated."""
    if not mapping.salesforce.match_by_email:
        return []
    return sorted({c.email.strip() for c in contacts if c.email and c.id not in links})


# -- the plan ---------------------------------------------------------------------------------------
def input_hash(contact: Contact, mapping: LeadMapping) -> str:
    """Fingerprint of a contact's values and the mapping that reads them."""
    return digest({"mapping": mapping.fingerprint, "properties": contact.properties,
                   "history": {k: [(h.value, h.timestamp) for h in v] for k, v in contact.history.items()}})


def attribution(contact: Contact, mapping: LeadMapping) -> Attribution:
    a = mapping.attribution
    return tuple(contact.properties.get(p) or None for p in (a.source, a.campaign, a.content))  # type: ignore[return-value]


def _contact_write(source: Write, mapping: LeadMapping, contact_id: str, lead_id: str | None) -> Write:
    renames = mapping.salesforce.converted.contact_fields
    fields = {contact_field: source.fields.get(lead_field) for lead_field, contact_field in renames.items()}
    return replace(source, kind="contact_update", fields=fields, payload_hash=digest(fields), target_id=contact_id,
                   lead_id=lead_id)


def _pick_lead(candidates: list[ExistingLead], hubspot_id: str) -> ExistingLead | None:
    """Prefer the Lead already carrying this contact's id; else the oldest unclaimed one."""
    for lead in candidates:
        if lead.external_id == hubspot_id:
            return lead
    unclaimed = sorted((lead for lead in candidates if not lead.external_id), key=lambda lead: (lead.created_date, lead.id))
    return unclaimed[0] if unclaimed else None


def _by_email(existing: Iterable[ExistingLead]) -> dict[str, list[ExistingLead]]:
    found: dict[str, list[ExistingLead]] = {}
    for lead in existing:
        if lead.email:
            found.setdefault(lead.email.strip().lower(), []).append(lead)
    return found


def _target(write: Write, lead: ExistingLead, mapping: LeadMapping, plan: ForwardPlan) -> Write | None:
    """The write aimed at a Lead found by email (or at its Contact, once converted); None: skip it."""
    if not lead.converted:
        return replace(write, kind="lead_update", target_id=lead.id, lead_id=lead.id, via_email=True)
    if mapping.salesforce.converted.action == "skip" or not lead.converted_contact_id:
        plan.skipped_converted.append(write.hubspot_id)
        return None
    # A converted Lead cannot be updated, so it never gets our external id: the back leg reads it by Id.
    return replace(_contact_write(write, mapping, lead.converted_contact_id, lead.id), via_email=True,
                   unmarked=lead.external_id != write.hubspot_id)


def plan(contacts: Iterable[Contact], facts: ForwardFacts, mapping: LeadMapping, *,
         stop: Callable[[], bool] | None = None, agreement: Agreement | None = None) -> ForwardPlan:
    """What to write for these contacts, given what state says was written before. ``stop`` is
    asked while templates render (a runaway one must not hold up a stop): once it says so, the
    plan is empty and ``stopped``; the runner, asked the same, writes no page after a stop. With an
    ``agreement``, a contact handed over for the first time carries the definition parts it meets."""
    result = ForwardPlan()
    matches = _by_email(facts.existing)
    fingerprint = mapping.fingerprint
    filters = mapping.filters()
    for contact in contacts:
        link = facts.links.get(contact.id)
        previous = facts.rejections.get(contact.id)
        if not contact.complete:          # not read in full: needs_reading judged it unchanged
            result.unchanged.append(contact.id)
            continue
        if not qualifies(contact, filters):
            result.not_qualified.append(contact.id)
            if previous is not None:       # no longer handed over: nothing left to refuse
                result.resolved.append(contact.id)
            continue
        # The mapping could not render this contact before (a SYNCD_ code, fingerprinted by its
        # input): the same contact under the same mapping fails the same way, so it is "still
        # rejected" without being rendered again (a runaway template would spend its budget again).
        if previous is not None and previous.code.startswith("SYNCD_") and contact.id not in facts.resend \
                and previous.payload_hash == input_hash(contact, mapping):
            result.still_rejected.append(contact.id)
            continue
        try:
            fields = render_fields(contact, mapping, stop=stop)
        except RenderStopped:
            return ForwardPlan(stopped=True)
        except FieldError as exc:
            result.rejections.append(Rejection(contact.id, exc.code, str(exc), input_hash(contact, mapping)))
            continue
        write = Write(contact.id, "upsert", fields, digest(fields), email=contact.email,
                      lead_id=link.lead_id if link else None, attribution=attribution(contact, mapping),
                      source_modified=contact.properties.get("lastmodifieddate"), mapping_fp=fingerprint[:16],
                      unmarked=link.unmarked if link else None)
        if link is None and agreement is not None:
            write = replace(write, agreement_parts=parts_met(contact, agreement))
        if link is not None and link.moved == lead_moves.HELD_STATE:
            result.held.append(contact.id)
            continue
        if link is not None and link.moved == lead_moves.UNLINKED_STATE:
            if mapping.salesforce.deleted_lead.action != "recreate":
                result.unlinked.append(contact.id)
                continue
            write = replace(write, former_lead_id=link.former_lead_id, move="recreated")   # an upsert creates it
        elif link is not None and link.converted:
            if mapping.salesforce.converted.action == "skip" or not link.contact_id:
                result.skipped_converted.append(contact.id)
                if previous is not None:   # the mapping says leave it: nothing left to refuse
                    result.resolved.append(contact.id)
                continue
            write = _contact_write(write, mapping, link.contact_id, link.lead_id)
        elif link is not None and link.lead_id:
            # By Id, carrying the external id: a Lead deleted in Salesforce is refused, never re-created.
            write = replace(write, kind="lead_update", target_id=link.lead_id)
        if link is not None and link.payload_hash == write.payload_hash and contact.id not in facts.refresh:
            result.unchanged.append(contact.id)
            if previous is not None:
                result.resolved.append(contact.id)
            if (link.source_modified, link.mapping_fingerprint) != (write.source_modified, write.mapping_fp):
                # Nothing to write, but remember what it was rendered from: the next look-back
                # re-read of this contact can then skip its batch read.
                result.links.append(replace(link, source_modified=write.source_modified,
                                            mapping_fingerprint=write.mapping_fp))
            continue
        if previous is not None and not previous.retryable and previous.payload_hash == write.payload_hash \
                and contact.id not in facts.resend:
            result.still_rejected.append(contact.id)
            continue
        if link is None and write.email and mapping.salesforce.match_by_email:
            candidates = matches.get(write.email.strip().lower(), [])
            lead = _pick_lead(candidates, contact.id)
            others = [c.id for c in candidates if lead is not None and c.id != lead.id and not c.external_id]
            if others and lead is not None and lead.external_id != contact.id:
                result.ambiguous[contact.id] = (lead.id, others)
            if lead is not None:
                aimed = _target(write, lead, mapping, result)
                if aimed is None:
                    continue
                write = aimed
        result.writes.append(write)
    return result


# -- after the write ---------------------------------------------------------------------------------
@dataclass
class ForwardCommit:
    """What one batch of Salesforce answers means for state."""

    links: list[Link] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)          # hubspot ids no longer rejected
    converted: list[Write] = field(default_factory=list)       # refused as converted: follow to the Contact
    deleted: list[Write] = field(default_factory=list)         # refused as deleted: follow to the master
    events: list[lead_moves.Event] = field(default_factory=list)    # Leads that moved, for the runner to log
    counts: Counter = field(default_factory=Counter)
    moves: list[Move] = field(default_factory=list)            # contacts that moved (syncd.plan.contact_moves)
    restored: list[str] = field(default_factory=list)          # contacts back from the recycle bin
    scanned_at: str | None = None                              # the archived scan listed the recycle bin


def confirm(writes: Sequence[Write], results: Sequence[WriteResult]) -> ForwardCommit:
    """Pair each write with Salesforce's answer (same order) and say what state should record."""
    if len(writes) != len(results):
        raise ValueError(f"{len(writes)} writes but {len(results)} results")
    commit = ForwardCommit()
    for write, result in zip(writes, results):
        if result.ok:
            converted = write.kind == "contact_update"
            lead_id = write.lead_id if converted else (result.id or write.target_id)
            commit.links.append(Link(write.hubspot_id, lead_id,
                                     contact_id=write.target_id if converted else None, converted=converted,
                                     payload_hash=write.payload_hash, attribution=write.attribution,
                                     source_modified=write.source_modified, mapping_fingerprint=write.mapping_fp,
                                     former_lead_id=write.former_lead_id,
                                     unmarked=write.unmarked if converted else False,
                                     agreement_parts=write.agreement_parts))
            if write.move is not None:
                name = lead_moves.MERGED if write.move == "merged" else lead_moves.RECREATED
                commit.events.append(lead_moves.Event(name, {"hubspot_id": write.hubspot_id,
                                                        "former_lead_id": write.former_lead_id, "lead_id": lead_id}))
                commit.counts[lead_moves.COUNTS[name]] += 1
            commit.resolved.append(write.hubspot_id)
            kind = "contact_updates" if converted else ("created" if result.created else "updated")
            commit.counts[kind] += 1
            commit.counts["linked_by_email"] += int(write.via_email)
            continue
        error = result.first_error
        code = error.code if error else "UNKNOWN_ERROR"
        if code == CONVERTED and write.kind != "contact_update":
            commit.converted.append(write)
            continue
        if code in lead_moves.DELETED and write.kind == "lead_update" and write.target_id:
            commit.deleted.append(write)
            continue
        message = error.message if error else "Salesforce gave no reason"
        if error and error.fields:
            message = f"{message} (fields: {', '.join(error.fields)})"
        commit.rejections.append(Rejection(write.hubspot_id, code, message, write.payload_hash,
                                           retryable=bool(error and error.retryable)))
        commit.counts["rejected"] += 1
    return commit


def follow_converted(refused: Sequence[Write], leads: Iterable[ExistingLead],
                     mapping: LeadMapping) -> tuple[list[Write], list[Link]]:
    """For writes Salesforce refused because the Lead was converted: write to its Contact instead
    (or skip, per the mapping). Returns (contact writes, links to record for skipped ones)."""
    leads = list(leads)
    by_external_id = {lead.external_id: lead for lead in leads if lead.external_id}
    by_id = {lead.id: lead for lead in leads}
    writes: list[Write] = []
    skipped: list[Link] = []
    for write in refused:
        aimed = by_id.get(write.target_id or "") if write.kind != "upsert" else None
        lead = aimed or by_external_id.get(write.hubspot_id) or by_id.get(write.target_id or "")
        if lead is None:
            continue
        if mapping.salesforce.converted.action == "skip" or not lead.converted_contact_id:
            skipped.append(Link(write.hubspot_id, lead.id, lead.converted_contact_id, True, write.payload_hash,
                                write.attribution, write.source_modified, write.mapping_fp,
                                unmarked=lead.external_id != write.hubspot_id))
            continue
        writes.append(replace(_contact_write(write, mapping, lead.converted_contact_id, lead.id),
                              unmarked=lead.external_id != write.hubspot_id))
    return writes, skipped


def follow_deleted(refused: Sequence[Write], traced: Mapping[str, ExistingLead],
                   mapping: LeadMapping) -> tuple[list[Write], list[Link], list[lead_moves.Event]]:
    """For writes Salesforce refused because their Lead was deleted (``syncd.plan.lead_moves``): write to
    the merge master by Id (its Contact, once converted), hold a contact whose master carries another
    contact's id, unlink or re-create one whose Lead is gone. Returns (writes, links recorded without
    a write, events to log now; a write's event is logged once Salesforce accepts it)."""
    writes: list[Write] = []
    links: list[Link] = []
    events: list[lead_moves.Event] = []
    for write in refused:
        move = lead_moves.trace(write.target_id or "", traced)
        link, event = lead_moves.moved_link(Link(write.hubspot_id, write.target_id, attribution=write.attribution,
                                            source_modified=write.source_modified), move, mapping)
        master = move.master
        if master is None and mapping.salesforce.deleted_lead.action == "recreate":
            writes.append(replace(write, kind="upsert", target_id=None, lead_id=None, via_email=False,
                                  former_lead_id=move.lead_id, move="recreated"))
            continue
        if master is None or link.moved is not None:
            links.append(link)
            events.append(event)
            continue
        aimed = replace(write, kind="lead_update", target_id=master.id, lead_id=master.id, via_email=False,
                        former_lead_id=move.lead_id, move="merged")
        if master.converted:
            if mapping.salesforce.converted.action == "skip" or not master.converted_contact_id:
                links.append(replace(link, payload_hash=write.payload_hash))
                events.append(event)
                continue
            aimed = replace(_contact_write(aimed, mapping, master.converted_contact_id, master.id),
                            unmarked=master.external_id != write.hubspot_id)
        writes.append(aimed)
    return writes, links, events
