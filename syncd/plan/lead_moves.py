"""Leads that move in Salesforce: merged into another Lead, or deleted. Pure, like the planners.

A merge deletes the losers and sets their ``MasterRecordId`` (queryAll shows them); a deletion
without a master leaves only ``IsDeleted``. syncd learns of either in two ways: a write by Id
refused with ``ENTITY_IS_DELETED`` (the forward leg, ``follow_deleted``), or the back leg's
outcome query, which reads deleted Leads too (``relink``). Both ask the connector to trace the
Leads (their master chains, a few hops) and then decide here:

- merged, the master alive and free (or ours): the link moves to the master and the contact's
  writes go there by Id (the first one stamps our external id on it);
- merged into a Lead that carries *another* contact's id: the link points at the master, marked
  ``held``, and nothing more is written for this contact (two contacts would claim one Lead);
- deleted without a (live) master: unlinked (a tombstone: ``moved = "deleted"``, ``lead_id``
  None, the former Lead kept) and, only if the mapping says ``recreate``, a new Lead is created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from syncd.core.records import ExistingLead, Link, SalesforceLead
from syncd.mapping.model import Mapping as LeadMapping

DELETED = ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY")   # a write by Id to a deleted (or purged) Lead
MAX_HOPS = 5      # a merge master merged again, and again: follow a few, then treat as deleted
MERGED, HELD, UNLINKED, RECREATED = ("salesforce.lead_merged", "salesforce.lead_merge_held",
                                     "salesforce.lead_deleted", "salesforce.lead_recreated")
UNLINKED_STATE, HELD_STATE = "deleted", "held"     # links.lead_moved
COUNTS = {MERGED: "leads_merged", HELD: "leads_held", UNLINKED: "leads_unlinked", RECREATED: "leads_recreated"}


@dataclass(frozen=True)
class Move:
    """Where a Lead went: ``master`` is the live Lead at the end of its merge chain (None: deleted)."""

    lead_id: str
    master: ExistingLead | None
    chain: tuple[str, ...] = ()

    def owner_conflict(self, hubspot_id: str) -> bool:
        return self.master is not None and bool(self.master.external_id) and self.master.external_id != hubspot_id


@dataclass(frozen=True)
class Event:
    name: str
    fields: dict[str, Any]


def trace(lead_id: str, traced: Mapping[str, ExistingLead]) -> Move:
    """Follow ``lead_id``'s MasterRecordId chain through the Leads read (live and deleted)."""
    chain: list[str] = []
    lead = traced.get(lead_id)
    while lead is not None and lead.deleted and lead.master_id and len(chain) < MAX_HOPS:
        chain.append(lead.id)
        lead = traced.get(lead.master_id)
    if lead is None or lead.deleted:
        return Move(lead_id, None, tuple(chain))
    return Move(lead_id, lead, tuple(chain))


def moved_link(link: Link, move: Move, mapping: LeadMapping) -> tuple[Link, Event]:
    """The link after its Lead moved, and the event saying so. The payload hash is forgotten, so
    the contact's next write goes to where the link now points (or re-creates its Lead)."""
    base = replace(link, payload_hash=None, source_modified=None, mapping_fingerprint=None,
                   former_lead_id=move.lead_id)
    fields: dict[str, Any] = {"hubspot_id": link.hubspot_id, "former_lead_id": move.lead_id}
    master = move.master
    if master is None:
        action = mapping.salesforce.deleted_lead.action
        return (replace(base, lead_id=None, moved=UNLINKED_STATE),
                Event(UNLINKED, {**fields, "action": action, "merge_chain": list(move.chain)}))
    fields.update(lead_id=master.id, merge_chain=list(move.chain))
    if move.owner_conflict(link.hubspot_id):
        return (replace(base, lead_id=master.id, moved=HELD_STATE, unmarked=False),
                Event(HELD, {**fields, "master_hubspot_id": master.external_id,
                             "action": "linked to the master; nothing written for this contact until someone acts"}))
    return (replace(base, lead_id=master.id, moved=None, converted=master.converted,
                    contact_id=master.converted_contact_id, unmarked=master.external_id != link.hubspot_id),
            Event(MERGED, fields))


def relink(deleted: Sequence[SalesforceLead], links: Mapping[str, Link], traced: Mapping[str, ExistingLead],
           mapping: LeadMapping) -> tuple[list[Link], list[Event]]:
    """The back leg's half: Leads its outcome query found deleted or merged, whose contact's link
    still points at them, become moved links (before any forward write runs into them)."""
    moved: list[Link] = []
    events: list[Event] = []
    for lead in deleted:
        link = links.get(lead.hubspot_id)
        # A converted link writes to the Contact: its Lead deleted or merged later changes nothing.
        if link is None or link.lead_id != lead.id or link.moved is not None or link.converted:
            continue
        new, event = moved_link(link, trace(lead.id, traced), mapping)
        moved.append(new)
        events.append(event)
    return moved, events
