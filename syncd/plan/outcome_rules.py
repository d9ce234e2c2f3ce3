"""The outcome rules: what a Lead and its Opportunity say Sales did (README "Closing the loop").

To add or change a rule, change ``derive_outcome`` (first match wins) and its table test in
tests/test_feedback_plan.py; the vocabulary is ``syncd.core.outcomes.Outcome``.

**Outcome rules** (first match wins):

1. the Lead was converted with an Opportunity, and the Opportunity is closed and won -> ``won``;
2. ... closed and not won -> ``lost`` (reason: the Opportunity's loss-reason field);
3. ... not closed -> ``opportunity`` (so a reopened Opportunity goes back to ``opportunity``);
4. the Lead was converted without an Opportunity -> ``contacted``;
5. the Lead's status is a disqualified status -> ``disqualified`` (reason: the Lead's reason field);
6. the Lead's status is not an open status -> ``contacted`` (Sales worked it);
7. otherwise (still open) -> no outcome: nothing is written for a Lead Sales has not touched.

An outcome mirrors Salesforce now: if the Lead goes back to an open status, the outcome
properties are cleared.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from syncd.core.outcomes import Outcome
from syncd.core.records import OutcomeState, SalesforceLead, SalesforceOpportunity
from syncd.mapping.feedback import Feedback


def derive_outcome(state: OutcomeState, feedback: Feedback) -> tuple[str | None, str | None]:
    """(outcome, reason) for what Salesforce says now (rules in the module docstring)."""
    if state.opportunity_id:
        if state.closed:
            return (Outcome.WON, None) if state.won else (Outcome.LOST, state.loss_reason or None)
        return Outcome.OPPORTUNITY, None
    if state.converted:
        return Outcome.CONTACTED, None
    status = state.lead_status
    if status in feedback.lead.disqualified_statuses:
        return Outcome.DISQUALIFIED, state.disqualified_reason or None
    if status is None or status in feedback.lead.open_statuses:
        return None, None
    return Outcome.CONTACTED, None


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
    elif outcome in (Outcome.OPPORTUNITY, Outcome.WON, Outcome.LOST):
        outcome_at = opp_moment or lead_moment or base.outcome_at
    else:
        outcome_at = lead_moment or base.outcome_at
    return replace(state, outcome=outcome, reason=reason, first_contacted_at=first_contacted,
                   closed_at=closed_at, outcome_at=outcome_at)
