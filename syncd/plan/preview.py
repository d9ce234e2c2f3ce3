"""What a dry run and `syncd preview` show: per record, the write the forward planner decided (or
why it skips), against what Salesforce holds now.

Pure: ``syncd.plan.forward.plan`` decides; this only names its decisions (``skips``) and compares
a planned write with the target's current values (``decide``). The current values are read by the
caller, one query per 200 records (``syncd.run.preview``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncd.core.records import Contact
from syncd.mapping.model import Mapping as LeadMapping
from syncd.mapping.transform import qualifies
from syncd.plan.forward import ForwardPlan, Write

# Which write each action is, as the README's "Commands" section lists them.
CREATE = "create"                  # a new Lead (upsert by external id; no Lead carries it yet)
UPDATE = "update"                  # an existing Lead: by Id, or by external id when state had no link
UPDATE_CONTACT = "update_contact"  # the converted Lead's Contact, by Id
SKIP = "skip"
REJECT = "reject"                  # the mapping cannot render this contact


@dataclass(frozen=True)
class Skip:
    """A contact the plan writes nothing for, and why."""

    hubspot_id: str
    reason: str           # not_qualified | unchanged | still_rejected | skipped_converted | unlinked | held | rejected
    detail: str


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass
class Decision:
    """One record of a dry run or a preview."""

    hubspot_id: str
    action: str                           # create | update | update_contact | skip | reject
    how: str = ""                         # by external id | by Id (linked) | by Id (matched by email) | …
    sobject: str | None = None            # Lead | Contact
    target_id: str | None = None
    reason: str | None = None             # a skip's or a rejection's reason
    detail: str = ""
    fields: dict[str, Any] = field(default_factory=dict)      # what the write sends
    current: dict[str, Any] | None = None                     # what Salesforce holds now (None: no record)
    changes: list[Change] = field(default_factory=list)       # only the fields whose value changes
    unchanged: list[str] = field(default_factory=list)

    def as_json(self, show_unchanged: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"hubspot_id": self.hubspot_id, "action": self.action}
        if self.action in (SKIP, REJECT):
            return {**out, "reason": self.reason, "detail": self.detail}
        out.update(how=self.how, sobject=self.sobject, target_id=self.target_id,
                   changes={c.field: {"old": c.old, "new": c.new} for c in self.changes})
        if show_unchanged:
            out["unchanged"] = {name: self.fields.get(name) for name in self.unchanged}
        return out


CONVERTED_SKIP = "its Lead was converted and the mapping says converted.action: skip"
_SKIP_DETAILS = {
    "unchanged": "what it would send equals the last write Salesforce accepted",
    "still_rejected": "rejected before, and nothing changed since (see `syncd status`)",
    "skipped_converted": CONVERTED_SKIP,
    "unlinked": "its Lead was deleted in Salesforce and the mapping says deleted_lead.action: unlink",
    "held": "its Lead was merged into another contact's Lead (held)",
}


def failed_condition(contact: Contact, mapping: LeadMapping) -> str:
    """The first qualification condition this contact does not meet, in the mapping's words."""
    for condition in mapping.filters():
        if not qualifies(contact, [condition]):
            operand = list(condition.operand) if isinstance(condition.operand, tuple) else condition.operand
            return (f"{condition.property} {condition.operator} {operand!r} "
                    f"(it is {contact.properties.get(condition.property)!r})")
    return "qualifies"


def skips(plan: ForwardPlan, contacts: Iterable[Contact], mapping: LeadMapping) -> list[Skip]:
    """Every contact of the page the plan writes nothing for, with its reason."""
    by_id = {c.id: c for c in contacts}
    found = [Skip(i, "not_qualified", failed_condition(by_id[i], mapping)) for i in plan.not_qualified if i in by_id]
    for reason in ("unchanged", "still_rejected", "skipped_converted", "unlinked", "held"):
        found += [Skip(i, reason, _SKIP_DETAILS[reason]) for i in getattr(plan, reason)]
    found += [Skip(r.hubspot_id, "rejected", f"{r.code}: {r.message}") for r in plan.rejections]
    return found


def same(old: Any, new: Any) -> bool:
    """Whether Salesforce's value equals what the write sends: empty is empty, numbers by value."""
    if old in (None, "") or new in (None, ""):
        return old in (None, "") and new in (None, "")
    if isinstance(old, bool) or isinstance(new, bool):
        return str(old).lower() == str(new).lower()
    try:
        return float(old) == float(new)
    except (TypeError, ValueError):
        return str(old) == str(new)


def decide(write: Write | Any, current: Mapping[str, Any] | None, sobject: str) -> Decision:
    """The write as the admin reads it: which record, which kind of write, what changes. ``write``:
    a planned ``Write``, or the archived-contact action's ``GoneWrite`` (the same attributes)."""
    if write.kind == "contact_update":
        action, how, target = UPDATE_CONTACT, "by Id (the converted Lead's Contact)", "Contact"
    elif write.kind == "lead_update":
        action, target = UPDATE, sobject
        how = "by Id (matched by email)" if getattr(write, "via_email", False) else "by Id (linked)"
    else:
        action, how, target = (UPDATE if current is not None else CREATE), "by external id", sobject
    changes, unchanged = [], []
    for name, new in write.fields.items():
        old = current.get(name) if current is not None else None
        if current is not None and same(old, new):
            unchanged.append(name)
        elif current is not None or new not in (None, ""):
            changes.append(Change(name, old, new))
    if write.kind != "upsert" and current is None:
        # Deleted or merged away since syncd wrote it: the run follows it (syncd.plan.lead_moves).
        how += "; not in Salesforce now: the run follows its merge, or applies deleted_lead"
    target_id = write.target_id or (current or {}).get("Id")
    return Decision(write.hubspot_id, action, how, target, target_id, fields=dict(write.fields),
                    current=dict(current) if current is not None else None, changes=changes, unchanged=unchanged)


def skipped(skip: Skip) -> Decision:
    return Decision(skip.hubspot_id, REJECT if skip.reason == "rejected" else SKIP, reason=skip.reason,
                    detail=skip.detail)


def tally(decisions: Sequence[Decision]) -> Counter:
    """Counts from the list itself, so the summary and the list always agree."""
    return Counter(d.action if d.action not in (SKIP,) else f"skip:{d.reason}" for d in decisions)
