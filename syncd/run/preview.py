"""The reads behind a dry run's list and `syncd preview`: the targets' current values, and one
contact planned exactly as a run would plan it.

Reads only. The forward leg's own ``prepare`` gathers and plans (``syncd.plan.forward.plan``
decides, never a second implementation); ``syncd.plan.preview`` compares each write with what
Salesforce holds now, read in one query per 200 records and per kind of target.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from syncd.core.ports import LeadSink, Page
from syncd.core.records import ExistingLead
from syncd.mapping.model import Mapping
from syncd.plan import forward as planner
from syncd.plan.forward import Write
from syncd.plan.preview import CONVERTED_SKIP, Decision, Skip, decide, skipped
from syncd.run.forward import ForwardLeg


def explain(sink: LeadSink, mapping: Mapping, planned: Sequence[Any], skips: Sequence[Skip] = ()) -> list[Decision]:
    """Each planned write against its target's current values, then the skips, in the plan's order.
    A Lead Sales converted since syncd last wrote it is followed to its Contact (or skipped) by the
    planner's own ``follow_converted``, as the real run does when Salesforce refuses the write."""
    sobject = mapping.salesforce.object
    external_id_field = mapping.salesforce.external_id_field
    lead_writes = [w for w in planned if w.kind == "lead_update"]
    upserts = [w for w in planned if w.kind == "upsert"]
    lead_fields = sorted({name for w in [*lead_writes, *upserts] for name in w.fields}
                         | {"Email", "IsConverted", "ConvertedContactId", "CreatedDate", external_id_field})
    leads = sink.current_values(sobject=sobject, fields=lead_fields,
                                ids=[w.target_id for w in lead_writes]) if lead_writes else {}
    # A new contact's write is an upsert: it creates a Lead unless one carries its id already
    # (state lost, or a Lead written by another tool).
    claimed = sink.current_values(sobject=sobject, fields=lead_fields, key_field=external_id_field,
                                  ids=[w.hubspot_id for w in upserts]) if upserts else {}

    def lead_of(write: Any) -> dict[str, Any] | None:
        return claimed.get(write.hubspot_id) if write.kind == "upsert" else leads.get(write.target_id)

    refused = [w for w in [*lead_writes, *upserts] if isinstance(w, Write) and (lead_of(w) or {}).get("IsConverted")]
    followed, skipped_links = planner.follow_converted(
        refused, [_existing(lead_of(w), external_id_field) for w in refused], mapping)
    instead: dict[str, Any] = {w.hubspot_id: w for w in followed}
    skips = [*skips, *(Skip(link.hubspot_id, "skipped_converted", CONVERTED_SKIP) for link in skipped_links)]
    dropped = {link.hubspot_id for link in skipped_links}
    planned = [instead.get(w.hubspot_id, w) if w in refused else w for w in planned
               if not (w in refused and w.hubspot_id in dropped)]
    contact_writes = [w for w in planned if w.kind == "contact_update"]
    contacts = sink.current_values(sobject="Contact", fields=sorted({n for w in contact_writes for n in w.fields}),
                                   ids=[w.target_id for w in contact_writes]) if contact_writes else {}
    decisions = []
    for write in planned:
        current = contacts.get(write.target_id) if write.kind == "contact_update" else lead_of(write)
        decisions.append(decide(write, current, sobject))
    return decisions + [skipped(skip) for skip in skips]


def _existing(row: dict[str, Any] | None, external_id_field: str) -> ExistingLead:
    row = row or {}
    return ExistingLead(str(row.get("Id")), row.get("Email"), row.get(external_id_field), True,
                        row.get("ConvertedContactId"), row.get("CreatedDate") or "")


def preview(leg: ForwardLeg, keys: Sequence[str]) -> tuple[list[Decision], list[str]]:
    """These contacts (HubSpot ids, or emails: a key with an @), planned as the next run would plan
    them. Returns the decisions and the keys HubSpot has no contact for."""
    ids = [k for k in keys if "@" not in k]
    emails = [k for k in keys if "@" in k]
    contacts = leg.source.read_contacts(ids, leg.properties, leg.history) if ids else []
    if emails:
        known = {c.id for c in contacts}
        contacts += [c for c in leg.source.read_contacts_by_email(emails, leg.properties, leg.history)
                     if c.id not in known]
    found_ids = {c.id for c in contacts}
    found_emails = {(c.email or "").strip().lower() for c in contacts}
    missing = [k for k in keys if k not in found_ids and k.strip().lower() not in found_emails]
    if not contacts:
        return [], missing
    prepared = leg.prepare(Page(contacts))
    decisions = explain(leg.sink, leg.mapping, prepared.planned, prepared.skipped)
    order = {c.id: i for i, c in enumerate(contacts)}
    return sorted(decisions, key=lambda d: order.get(d.hubspot_id, len(order))), missing
