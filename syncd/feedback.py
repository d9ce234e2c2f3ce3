"""The back-leg planner: what Sales learned in Salesforce, as writes to HubSpot contacts.

Pure functions of (Salesforce records, mapping, state): no clients, no clock, no database.
``syncd.feedback_runner`` does the I/O around it:

    plan_feedback -> [read current lifecycle stages] -> resolve_lifecycle -> write -> reconcile

**Outcome rules** (first match wins; stated in the README "Closing the loop"):

1. the Lead was converted with an Opportunity, and the Opportunity is closed and won -> ``won``;
2. ... closed and not won -> ``lost`` (reason: the Opportunity's loss-reason field);
3. ... not closed -> ``opportunity`` (so a reopened Opportunity goes back to ``opportunity``);
4. the Lead was converted without an Opportunity -> ``contacted``;
5. the Lead's status is a disqualified status -> ``disqualified`` (reason: the Lead's reason field);
6. the Lead's status is not an open status -> ``contacted`` (Sales worked it);
7. otherwise (still open) -> no outcome: nothing is written for a Lead Sales has not touched.

An outcome mirrors Salesforce now: if the Lead goes back to an open status, the outcome
properties are cleared. The lifecycle stage only ever moves forward.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping as MappingType
from dataclasses import dataclass, field, replace
from typing import Any

from syncd.core.records import (
    ContactWriteResult,
    OutcomeState,
    Rejection,
    SalesforceLead,
    SalesforceOpportunity,
    parse_datetime,
)
from syncd.core.digest import digest as payload_hash
from syncd.mapping.feedback import Feedback, FeedbackProperty

NOT_FOUND = "OBJECT_NOT_FOUND"
INVALID_VALUE = "INVALID_VALUE"
# HubSpot per-record answers worth retrying on the next run even if the outcome did not change.
RETRYABLE_CODES = frozenset({"RATE_LIMITS", "INTERNAL_ERROR", "LOCKED", "TIMEOUT"})


class ValueProblem(ValueError):
    """A Salesforce value that cannot become the HubSpot property's type."""


@dataclass(frozen=True)
class ContactUpdate:
    """One HubSpot contact to update. ``lifecycle_target`` is the stage the outcome asks for;
    ``resolve_lifecycle`` adds it to ``properties`` only when it moves the contact forward."""

    hubspot_id: str
    properties: dict[str, str]
    payload_hash: str
    outcome: str | None
    lifecycle_target: str | None = None


@dataclass
class FeedbackPlan:
    updates: list[ContactUpdate] = field(default_factory=list)
    states: dict[str, OutcomeState] = field(default_factory=dict)   # every touched contact, hash as before
    unchanged: list[str] = field(default_factory=list)
    no_outcome: list[str] = field(default_factory=list)             # Lead still open, nothing written yet
    still_rejected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)                # Lead ids not linked to a handed-over contact
    rejected: list[Rejection] = field(default_factory=list)         # a value could not be converted


# -- outcome ---------------------------------------------------------------------------------
def derive_outcome(state: OutcomeState, feedback: Feedback) -> tuple[str | None, str | None]:
    """(outcome, reason) for what Salesforce says now (rules in the module docstring)."""
    if state.opportunity_id:
        if state.closed:
            return ("won", None) if state.won else ("lost", state.loss_reason or None)
        return "opportunity", None
    if state.converted:
        return "contacted", None
    status = state.lead_status
    if status in feedback.lead.disqualified_statuses:
        return "disqualified", state.disqualified_reason or None
    if status is None or status in feedback.lead.open_statuses:
        return None, None
    return "contacted", None


def _worked(state: OutcomeState, feedback: Feedback) -> bool:
    return state.converted or bool(state.opportunity_id) or (
        state.lead_status is not None and state.lead_status not in feedback.lead.open_statuses)


_NO_OPPORTUNITY = dict(stage=None, closed=False, won=False, amount=None, close_date=None, loss_reason=None,
                       opportunity_fields={}, closed_at=None)


def observe(previous: OutcomeState | None, hubspot_id: str, lead: SalesforceLead | None,
            opportunity: SalesforceOpportunity | None, feedback: Feedback) -> OutcomeState:
    """The contact's state after this run's Salesforce records (either may be None: unchanged).

    Times come from Salesforce (LastModifiedDate of the record that showed the change), never from
    the clock, so re-reading the same records after a crash gives the same state."""
    base = previous or OutcomeState(hubspot_id)
    changes: dict[str, Any] = {}
    if lead is not None:
        changes.update(lead_id=lead.id, lead_status=lead.status, disqualified_reason=lead.reason,
                       converted=lead.converted, opportunity_id=lead.opportunity_id, lead_fields=dict(lead.fields))
        if lead.opportunity_id != base.opportunity_id:
            changes.update(_NO_OPPORTUNITY)
    state = replace(base, **changes)
    if opportunity is not None and opportunity.id == state.opportunity_id:
        state = replace(state, stage=opportunity.stage, closed=opportunity.closed, won=opportunity.won,
                        amount=opportunity.amount, close_date=opportunity.close_date,
                        loss_reason=opportunity.loss_reason, opportunity_fields=dict(opportunity.fields))
    lead_moment = lead.modified_at if lead is not None else None
    opp_moment = opportunity.modified_at if opportunity is not None else None
    outcome, reason = derive_outcome(state, feedback)
    first_contacted = base.first_contacted_at
    if first_contacted is None and _worked(state, feedback):
        first_contacted = lead_moment or opp_moment
    closed_at = None
    if state.closed:
        same = base.closed and base.opportunity_id == state.opportunity_id and base.closed_at is not None
        closed_at = base.closed_at if same else (opp_moment or base.closed_at)
    if outcome is None:
        outcome_at = None
    elif outcome == base.outcome and base.outcome_at is not None:
        outcome_at = base.outcome_at
    elif outcome in ("opportunity", "won", "lost"):
        outcome_at = opp_moment or lead_moment or base.outcome_at
    else:
        outcome_at = lead_moment or base.outcome_at
    return replace(state, outcome=outcome, reason=reason, first_contacted_at=first_contacted,
                   closed_at=closed_at, outcome_at=outcome_at)


# -- values ----------------------------------------------------------------------------------
def _number_text(value: Any) -> str:
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueProblem(f"{value!r} is not a finite number")
    return str(int(number)) if number.is_integer() and abs(number) < 1e18 else repr(number)


def format_value(value: Any, prop: FeedbackProperty) -> str:
    """One HubSpot property value (text, as HubSpot takes every value). Empty clears it."""
    if value is None or value == "":
        return ""
    if prop.values is not None or prop.unmapped is not None:
        text = _text(value)
        if prop.values and text in prop.values:
            return prop.values[text]
        return prop.unmapped if prop.unmapped is not None else text
    try:
        if prop.type == "number":
            return _number_text(value)
        if prop.type == "date":
            if isinstance(value, str) and len(value) == 10:
                return dt.date.fromisoformat(value).isoformat()
            moment = parse_datetime(value)
            return moment.astimezone(dt.timezone.utc).date().isoformat() if moment else ""
        if prop.type == "datetime":
            moment = parse_datetime(value) if not (isinstance(value, str) and len(value) == 10) else \
                parse_datetime(value + "T00:00:00+00:00")
            return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z") \
                if moment else ""
    except (TypeError, ValueError) as exc:
        raise ValueProblem(f"{value!r} is not a {prop.type}") from exc
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def source_value(state: OutcomeState, source: str) -> Any:
    if source in ("outcome", "reason", "outcome_at", "first_contacted_at", "closed_at"):
        return getattr(state, source)
    obj, name = source.split(".", 1)
    if obj == "Lead":
        return state.lead_fields.get(name)
    return state.opportunity_fields.get(name) if state.opportunity_id else None


def payload(state: OutcomeState, feedback: Feedback) -> dict[str, str]:
    """HubSpot property -> value for this contact. Raises ValueProblem naming the property."""
    out: dict[str, str] = {}
    for name, prop in feedback.properties.items():
        try:
            out[name] = format_value(source_value(state, prop.from_), prop)
        except ValueProblem as exc:
            raise ValueProblem(f"{name} (from {prop.from_}): {exc}") from None
    return out


def lifecycle_target(state: OutcomeState, feedback: Feedback) -> str | None:
    if feedback.lifecycle is None or state.outcome is None:
        return None
    return feedback.lifecycle.moves.get(state.outcome)  # type: ignore[call-overload]


# -- the plan --------------------------------------------------------------------------------
def plan_feedback(leads: Iterable[SalesforceLead], opportunities: Iterable[SalesforceOpportunity],
                  linked: Iterable[str], previous: MappingType[str, OutcomeState], feedback: Feedback,
                  rejections: MappingType[str, Rejection] | None = None) -> FeedbackPlan:
    """What to write to HubSpot for these Salesforce records.

    ``linked``: HubSpot ids syncd handed over (state links); a Lead whose external id is not one
    of them was not created or linked by syncd and is ignored. ``previous``: state per contact
    (its Opportunity id is how an Opportunity read on its own finds its contact)."""
    plan = FeedbackPlan()
    linked = set(linked)
    rejections = rejections or {}
    by_contact: dict[str, SalesforceLead] = {}
    for lead in leads:
        if lead.hubspot_id in linked:
            by_contact[lead.hubspot_id] = lead
        else:
            plan.ignored.append(lead.id)
    # Sales can convert several Leads into one existing Opportunity: every contact behind an
    # Opportunity hears when it moves.
    owners: dict[str, list[str]] = {}
    for hubspot_id, state in previous.items():
        if state.opportunity_id:
            owners.setdefault(state.opportunity_id, []).append(hubspot_id)
    for hubspot_id, lead in by_contact.items():
        if lead.opportunity_id and hubspot_id not in owners.get(lead.opportunity_id, []):
            owners.setdefault(lead.opportunity_id, []).append(hubspot_id)
    by_opportunity = {opp.id: opp for opp in opportunities}
    touched = list(by_contact) + [h for o in by_opportunity for h in owners.get(o, []) if h not in by_contact]
    for hubspot_id in dict.fromkeys(touched):
        before = previous.get(hubspot_id)
        lead = by_contact.get(hubspot_id)
        opportunity_id = lead.opportunity_id if lead is not None else (before.opportunity_id if before else None)
        state = observe(before, hubspot_id, lead, by_opportunity.get(opportunity_id or ""), feedback)
        plan.states[hubspot_id] = state
        try:
            properties = payload(state, feedback)
        except ValueProblem as exc:
            plan.rejected.append(Rejection(hubspot_id, INVALID_VALUE, str(exc), None))
            continue
        target = lifecycle_target(state, feedback)
        digest = payload_hash({"properties": properties, "lifecycle": target})
        previous_hash = before.feedback_hash if before else None
        if state.outcome is None and previous_hash is None:
            plan.no_outcome.append(hubspot_id)
        elif digest == previous_hash:
            plan.unchanged.append(hubspot_id)
        elif (rejected := rejections.get(hubspot_id)) is not None and not rejected.retryable \
                and rejected.payload_hash == digest:
            plan.still_rejected.append(hubspot_id)
        else:
            plan.updates.append(ContactUpdate(hubspot_id, properties, digest, state.outcome, target))
    return plan


def resolve_lifecycle(updates: list[ContactUpdate], stages: MappingType[str, str | None], missing: set[str],
                      feedback: Feedback) -> tuple[list[ContactUpdate], list[Rejection], int, int]:
    """Add each lifecycle move that goes forward from the contact's current stage; never move one
    backwards, and never touch a stage not in ``order``. Contacts HubSpot no longer has are
    rejected here instead of being sent. Returns (updates, rejections, moved, kept)."""
    lifecycle = feedback.lifecycle
    out: list[ContactUpdate] = []
    rejected: list[Rejection] = []
    moved = kept = 0
    for update in updates:
        if update.hubspot_id in missing:
            rejected.append(gone(update.hubspot_id, update.payload_hash))
            continue
        if lifecycle is None or update.lifecycle_target is None:
            out.append(update)
            continue
        current = stages.get(update.hubspot_id) or None
        order = lifecycle.order
        if current is None or (current in order and order.index(update.lifecycle_target) > order.index(current)):
            out.append(replace(update, properties={**update.properties, lifecycle.property: update.lifecycle_target}))
            moved += 1
        else:
            out.append(update)
            kept += 1
    return out, rejected, moved, kept


def gone(hubspot_id: str, digest: str | None) -> Rejection:
    return Rejection(hubspot_id, NOT_FOUND, f"HubSpot contact {hubspot_id} no longer exists (deleted or merged "
                                            "since it was handed over); its outcome is kept in state and the report",
                     digest)


@dataclass
class Confirmed:
    """What one batch of HubSpot answers means for state."""

    states: list[OutcomeState] = field(default_factory=list)     # written: new hash recorded
    rejections: list[Rejection] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


def reconcile(updates: list[ContactUpdate], results: list[ContactWriteResult],
              states: MappingType[str, OutcomeState]) -> Confirmed:
    """Pair each update with HubSpot's answer (same order)."""
    if len(updates) != len(results):
        raise ValueError(f"{len(updates)} updates but {len(results)} results")
    confirmed = Confirmed()
    for update, result in zip(updates, results):
        state = states[update.hubspot_id]
        if result.ok:
            confirmed.states.append(replace(state, feedback_hash=update.payload_hash))
            confirmed.resolved.append(update.hubspot_id)
            continue
        code = result.code or "UNKNOWN_ERROR"
        rejection = gone(update.hubspot_id, update.payload_hash) if code == NOT_FOUND else Rejection(
            update.hubspot_id, code, result.message or "HubSpot gave no reason", update.payload_hash,
            retryable=code in RETRYABLE_CODES)
        confirmed.rejections.append(rejection)
        confirmed.states.append(state)          # observed, not written: the hash stays as it was
    return confirmed
