"""HubSpot contacts that move: merges, archived and deleted contacts, restores. Pure functions of
plain data, like ``syncd.plan.forward``, which they wrap; ``syncd.run.moves`` gathers and writes.

Merges. A contact lists the ids merged into it (``Contact.merged_ids``). When some of them have a
Lead (a link in state) and are not yet known as moved:

- the survivor has no Lead of its own: it takes over the Lead of the lowest of those ids (HubSpot
  ids grow with creation: the contact handed over first). Its write goes to that Lead by Id, with
  the survivor's payload and external id, so no second Lead is created and outcomes come back to
  the survivor; state moves the link (``Move(action="moved")``) once Salesforce accepted it;
- any other merged-away contact with a Lead (the survivor has its own, or a second one was merged
  in) is retired: its Lead gets the mapping's ``archived_contact`` action, like an archived contact.

Archived and deleted contacts (``GoneContact``) with a Lead get the action: ``leave`` records it,
``mark`` writes ``field: value`` on the Lead, ``unlink`` clears its external id; state records the
move after the write. A contact known as archived that search returns again was restored: a Lead
that was unlinked is written by Id again (relinked, never created twice), and the move is forgotten; a marked Lead is written again with the mapping's values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace

from syncd.core.records import Contact, GoneContact, LeadWrite, Link, Move
from syncd.mapping.model import ArchivedContactRule
from syncd.plan.forward import Write


@dataclass(frozen=True)
class MoveFacts:
    """What state says about the page's contacts and the contacts their merges name."""

    links: Mapping[str, Link] = field(default_factory=dict)        # the page's and the named contacts'
    moves: Mapping[str, Move] = field(default_factory=dict)        # the same ids, known as moved


@dataclass
class MovePlan:
    takeovers: dict[str, Link] = field(default_factory=dict)   # survivor -> the merged-away contact's link
    retired: list[GoneContact] = field(default_factory=list)   # merged away, their Lead gets the action
    restored: list[str] = field(default_factory=list)          # back from the recycle bin
    relinks: dict[str, str] = field(default_factory=dict)      # restored, Lead unlinked: contact -> Lead Id
    rewrites: list[str] = field(default_factory=list)          # restored, Lead marked: written again


@dataclass(frozen=True)
class GoneWrite:
    """The archived-contact action for one Lead, and the move state records once it is written."""

    move: Move
    write: LeadWrite

    # What a dry run shows, as for any planned write.
    @property
    def hubspot_id(self) -> str:
        return self.move.hubspot_id

    @property
    def kind(self) -> str:
        return self.write.kind

    @property
    def target_id(self) -> str | None:
        return self.write.target_id

    @property
    def fields(self) -> dict:
        return self.write.fields


@dataclass
class GonePlan:
    writes: list[GoneWrite] = field(default_factory=list)     # mark or unlink: a Lead update each
    recorded: list[Move] = field(default_factory=list)        # leave (or nothing to write): no call


def named_ids(contacts: Iterable[Contact]) -> list[str]:
    """Ids the contacts' merges name (the merged-away contacts whose links state may hold)."""
    return sorted({i for c in contacts for i in c.merged_ids if i != c.id}, key=lambda i: (len(i), i))


def merges(survivors: Iterable[tuple[str, Sequence[str]]], facts: MoveFacts) -> MovePlan:
    """For each (survivor, ids merged into it): whose Lead it takes over, and whose are retired."""
    plan = MovePlan()
    for survivor, merged in survivors:
        linked = sorted({i for i in merged if i != survivor and i in facts.links and i not in facts.moves
                         and facts.links[i].lead_id}, key=lambda i: (len(i), i))
        if not linked:
            continue
        if survivor not in facts.links and survivor not in plan.takeovers:
            plan.takeovers[survivor] = facts.links[linked.pop(0)]
        plan.retired += [GoneContact(i, "merged", into=survivor) for i in linked]
    return plan


def restores(contacts: Iterable[Contact], facts: MoveFacts, plan: MovePlan) -> MovePlan:
    """Contacts search returns that state knows as archived or deleted: they came back."""
    for contact in contacts:
        move = facts.moves.get(contact.id)
        if move is None or move.kind == "merged":
            continue
        plan.restored.append(contact.id)
        if move.action == "unlink" and move.lead_id:
            plan.relinks[contact.id] = move.lead_id
        elif move.action == "mark":
            plan.rewrites.append(contact.id)
    return plan


def planning_links(links: Mapping[str, Link], plan: MovePlan) -> dict[str, Link]:
    """The links the forward planner sees: survivors hold the Lead they take over and relinked
    contacts their old Lead, neither with a payload Salesforce accepted (so each is rendered and
    written, and read in full first)."""
    seen = dict(links)
    for survivor, link in plan.takeovers.items():
        seen[survivor] = replace(link, hubspot_id=survivor, payload_hash=None, source_modified=None)
    for contact_id, lead_id in plan.relinks.items():
        if contact_id in seen:
            seen[contact_id] = replace(seen[contact_id], lead_id=lead_id, payload_hash=None, source_modified=None)
    for contact_id in plan.rewrites:     # the mapping's values overwrite the mark where it maps the field
        if contact_id in seen:
            seen[contact_id] = replace(seen[contact_id], payload_hash=None, source_modified=None)
    return seen


def aim(writes: Sequence[Write], plan: MovePlan, external_id_field: str) -> list[Write]:
    """Survivors' and relinked contacts' writes go to their Lead by Id, carrying the external id;
    a survivor with nothing to write (it does not qualify, say) still relinks the Lead to itself."""
    out: list[Write] = []
    targets = {**{s: (link.lead_id, link.hubspot_id) for s, link in plan.takeovers.items()},
               **{c: (lead, c) for c, lead in plan.relinks.items()}}
    for write in writes:
        target = targets.pop(write.hubspot_id, None)
        if target is None or write.kind == "contact_update":
            out.append(replace(write, replaces=target[1]) if target else write)
            continue
        out.append(replace(write, kind="lead_update", target_id=target[0], lead_id=target[0], replaces=target[1]))
    for contact_id, (lead_id, replaces) in targets.items():
        link = plan.takeovers.get(contact_id)
        if link is not None and link.converted:
            continue          # Salesforce refuses to rewrite a converted Lead; its Contact is written on change
        out.append(Write(contact_id, "lead_update", {external_id_field: contact_id}, "", target_id=lead_id,
                         lead_id=lead_id, replaces=replaces,
                         attribution=link.attribution if link else (None, None, None)))
    return out


def confirmed(writes: Sequence[Write], accepted: Set[str]) -> tuple[list[Move], list[str]]:
    """Of the writes Salesforce accepted (their contacts' ids): the merges whose link moves, and
    the restored contacts relinked."""
    moves, restored = [], []
    for write in writes:
        if write.hubspot_id not in accepted or write.replaces is None:
            continue
        if write.replaces == write.hubspot_id:
            restored.append(write.hubspot_id)
        else:
            moves.append(Move(write.replaces, "merged", "moved", write.lead_id, into=write.hubspot_id))
    return moves, restored


def gone(contacts: Iterable[GoneContact], facts: MoveFacts, rule: ArchivedContactRule,
         external_id_field: str) -> GonePlan:
    """The archived-contact action for each linked contact that left and is not yet known as moved."""
    plan = GonePlan()
    for contact in contacts:
        link = facts.links.get(contact.hubspot_id)
        known = facts.moves.get(contact.hubspot_id)
        if link is None or not link.lead_id or (known is not None and known.kind == contact.kind):
            continue
        if known is not None and known.kind == "merged":
            continue                    # merged away: handled once, when the merge was seen
        # A converted Lead cannot be updated (Salesforce refuses): it is left as it is.
        action = "leave" if link.converted else rule.action
        move = Move(contact.hubspot_id, contact.kind, action, link.lead_id, contact.into)
        if action == "leave":
            plan.recorded.append(move)
            continue
        fields = {rule.field: rule.value} if action == "mark" else {external_id_field: None}
        plan.writes.append(GoneWrite(move, LeadWrite("lead_update", fields, link.lead_id)))
    return plan
