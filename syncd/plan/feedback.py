"""The back-leg planner: what Sales learned in Salesforce, as writes to HubSpot contacts.

Pure functions of plain data (Salesforce records, the feedback mapping, state). ``syncd.run.back``
does the I/O around them, once per page of Leads:

    lifecycle_candidates (what to gather)  ->  gather  ->  plan  ->  write  ->  confirm  ->  commit

Each Lead arrives with the Opportunity it was converted into (one query reads both), so every
contact behind a shared Opportunity hears when it moves. The outcome rules are in
``syncd.plan.outcome_rules``; the lifecycle stage only ever moves forward.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from syncd.core.digest import digest
from syncd.core.records import ContactWriteResult, OutcomeState, Rejection, SalesforceLead
from syncd.mapping.feedback import Feedback
from syncd.plan.feedback_values import ValueProblem, lifecycle_target, payload
from syncd.plan.outcome_rules import observe

NOT_FOUND = "OBJECT_NOT_FOUND"
INVALID_VALUE = "INVALID_VALUE"


@dataclass(frozen=True)
class ContactUpdate:
    """One HubSpot contact to update. ``lifecycle_target`` is the stage the outcome asks for; the
    plan adds it to ``properties`` only when it moves the contact forward."""

    hubspot_id: str
    properties: dict[str, str]
    payload_hash: str
    outcome: str | None
    lifecycle_target: str | None = None


@dataclass(frozen=True)
class FeedbackFacts:
    """What the runner gathered for one page before planning it."""

    linked: frozenset[str] = frozenset()                       # contacts syncd handed over
    previous: Mapping[str, OutcomeState] = field(default_factory=dict)
    rejections: Mapping[str, Rejection] = field(default_factory=dict)
    stages: Mapping[str, str | None] = field(default_factory=dict)   # current stage of lifecycle candidates
    missing: frozenset[str] = frozenset()                      # candidates HubSpot no longer has
    resend: frozenset[str] = frozenset()    # refused contacts an admin asked to re-send now (`rejected retry`)


@dataclass
class FeedbackPlan:
    updates: list[ContactUpdate] = field(default_factory=list)
    states: dict[str, OutcomeState] = field(default_factory=dict)   # every touched contact, hash as before
    rejections: list[Rejection] = field(default_factory=list)       # a value could not be converted, or gone
    unchanged: list[str] = field(default_factory=list)
    no_outcome: list[str] = field(default_factory=list)             # Lead still open, nothing written yet
    still_rejected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)                # Lead ids not linked to a handed-over contact
    lifecycle_moved: int = 0
    lifecycle_kept: int = 0

    def quiet(self) -> list[OutcomeState]:
        """Observations with nothing to write: recorded now (the report reads them)."""
        writing = {u.hubspot_id for u in self.updates}
        return [s for h, s in self.states.items() if h not in writing]

    def resolved(self) -> list[str]:
        """Contacts back to what HubSpot accepted (or with no outcome): no longer refused."""
        return self.unchanged + self.no_outcome

    def counts(self) -> Counter:
        return Counter(ignored=len(self.ignored), unchanged=len(self.unchanged), no_outcome=len(self.no_outcome),
                       still_rejected=len(self.still_rejected), rejected=len(self.rejections),
                       lifecycle_moved=self.lifecycle_moved, lifecycle_kept=self.lifecycle_kept)


def gone(hubspot_id: str, digest_: str | None) -> Rejection:
    return Rejection(hubspot_id, NOT_FOUND, f"HubSpot contact {hubspot_id} no longer exists (deleted or merged "
                                            "since it was handed over); its outcome is kept in state and the report",
                     digest_)


def _linked(leads: Iterable[SalesforceLead], linked: frozenset[str]) -> tuple[dict[str, SalesforceLead], list[str]]:
    by_contact: dict[str, SalesforceLead] = {}
    ignored: list[str] = []
    for lead in leads:
        if lead.hubspot_id in linked:
            by_contact[lead.hubspot_id] = lead
        else:
            ignored.append(lead.id)
    return by_contact, ignored


def _observed(hubspot_id: str, lead: SalesforceLead, facts: FeedbackFacts,
              feedback: Feedback) -> tuple[OutcomeState, dict[str, str] | str, str | None]:
    """(state, properties or the reason they cannot be made, lifecycle target)."""
    state = observe(facts.previous.get(hubspot_id), hubspot_id, lead, lead.opportunity, feedback)
    try:
        properties: dict[str, str] | str = payload(state, feedback)
    except ValueProblem as exc:
        properties = str(exc)
    return state, properties, lifecycle_target(state, feedback)


def _write_needed(hubspot_id: str, state: OutcomeState, properties: dict[str, str], target: str | None,
                  facts: FeedbackFacts) -> tuple[str, str]:
    """(verdict, payload hash); verdict: write, unchanged, no_outcome or still_rejected."""
    hashed = digest({"properties": properties, "lifecycle": target})
    before = facts.previous.get(hubspot_id)
    previous_hash = before.feedback_hash if before else None
    rejected = facts.rejections.get(hubspot_id)
    if state.outcome is None and previous_hash is None:
        return "no_outcome", hashed
    if hashed == previous_hash:
        return "unchanged", hashed
    if rejected is not None and not rejected.retryable and rejected.payload_hash == hashed \
            and hubspot_id not in facts.resend:
        return "still_rejected", hashed
    return "write", hashed


def lifecycle_candidates(leads: Iterable[SalesforceLead], facts: FeedbackFacts, feedback: Feedback) -> list[str]:
    """Contacts whose update would carry a lifecycle move: their current stage must be read first
    (a stage only moves forward, and HubSpot has no conditional update)."""
    if feedback.lifecycle is None:
        return []
    wanted = []
    for hubspot_id, lead in _linked(leads, facts.linked)[0].items():
        state, properties, target = _observed(hubspot_id, lead, facts, feedback)
        if target and isinstance(properties, dict) and \
                _write_needed(hubspot_id, state, properties, target, facts)[0] == "write":
            wanted.append(hubspot_id)
    return wanted


def _move(update: ContactUpdate, facts: FeedbackFacts, feedback: Feedback) -> tuple[ContactUpdate, bool]:
    """The update with its lifecycle move when it goes forward; (update, moved)."""
    lifecycle = feedback.lifecycle
    if lifecycle is None or update.lifecycle_target is None:
        return update, False
    current = facts.stages.get(update.hubspot_id) or None
    order = lifecycle.order
    if current is None or (current in order and order.index(update.lifecycle_target) > order.index(current)):
        return replace(update, properties={**update.properties, lifecycle.property: update.lifecycle_target}), True
    return update, False


def plan(leads: Iterable[SalesforceLead], facts: FeedbackFacts, feedback: Feedback) -> FeedbackPlan:
    """What to write to HubSpot for these Leads (a Lead not linked to a handed-over contact is ignored)."""
    result = FeedbackPlan()
    by_contact, result.ignored = _linked(leads, facts.linked)
    for hubspot_id, lead in by_contact.items():
        state, properties, target = _observed(hubspot_id, lead, facts, feedback)
        result.states[hubspot_id] = state
        if isinstance(properties, str):
            result.rejections.append(Rejection(hubspot_id, INVALID_VALUE, properties, None))
            continue
        verdict, hashed = _write_needed(hubspot_id, state, properties, target, facts)
        if verdict != "write":
            getattr(result, verdict).append(hubspot_id)
            continue
        if hubspot_id in facts.missing:
            result.rejections.append(gone(hubspot_id, hashed))
            continue
        update, moved = _move(ContactUpdate(hubspot_id, properties, hashed, state.outcome, target), facts, feedback)
        if target is not None:
            result.lifecycle_moved += int(moved)
            result.lifecycle_kept += int(not moved)
        result.updates.append(update)
    return result


@dataclass
class FeedbackCommit:
    """What one batch of HubSpot answers means for state."""

    states: list[OutcomeState] = field(default_factory=list)     # written ones carry the new hash
    rejections: list[Rejection] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


def confirm(updates: list[ContactUpdate], results: list[ContactWriteResult],
            states: Mapping[str, OutcomeState]) -> FeedbackCommit:
    """Pair each update with HubSpot's answer (same order)."""
    if len(updates) != len(results):
        raise ValueError(f"{len(updates)} updates but {len(results)} results")
    commit = FeedbackCommit()
    for update, result in zip(updates, results):
        state = states[update.hubspot_id]
        if result.ok:
            commit.states.append(replace(state, feedback_hash=update.payload_hash))
            commit.resolved.append(update.hubspot_id)
            continue
        code = result.code or "UNKNOWN_ERROR"
        rejection = gone(update.hubspot_id, update.payload_hash) if code == NOT_FOUND else Rejection(
            update.hubspot_id, code, result.message or "HubSpot gave no reason", update.payload_hash,
            retryable=result.retryable)
        commit.rejections.append(rejection)
        commit.states.append(state)          # observed, not written: the hash stays as it was
    return commit
