"""The back-leg planner with plain data: outcome rules, value maps, lifecycle, no rewrites."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.core.outcomes import Outcome
from syncd.core.records import (
    ContactWriteResult,
    OutcomeState,
    Rejection,
    SalesforceLead,
    SalesforceOpportunity,
)
from syncd.mapping.feedback import Feedback
from syncd.plan import feedback as fb
from syncd.plan.feedback import FeedbackFacts
from syncd.plan.feedback_values import format_value

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

FEEDBACK = Feedback.model_validate({
    "lead": {"open_statuses": ["Open - Not Contacted"], "disqualified_statuses": ["Closed - Not Converted"],
             "reason_field": "Unqualified_Reason__c"},
    "opportunity": {"loss_reason_field": "Loss_Reason__c"},
    "properties": {
        "syncd_outcome": {"from": "outcome", "type": "enumeration"},
        "syncd_reason": {"from": "reason", "type": "enumeration",
                         "values": {"No Budget": "no_budget", "Price": "price"}, "unmapped": "other"},
        "syncd_amount": {"from": "Opportunity.Amount", "type": "number"},
        "syncd_close_date": {"from": "Opportunity.CloseDate", "type": "date"},
        "syncd_outcome_date": {"from": "outcome_at", "type": "datetime"},
        "syncd_lead_id": {"from": "Lead.Id"},
    },
    "lifecycle": {"moves": {"opportunity": "opportunity", "won": "customer"}},
})


def lead(status: str = "Open - Not Contacted", *, hubspot_id: str = "101", reason: str | None = None,
         opportunity: str | None = None, at: dt.datetime = T0, id: str = "00Q000000000001AAA") -> SalesforceLead:
    return SalesforceLead(id, hubspot_id, "Closed - Converted" if opportunity else status, reason,
                          opportunity is not None, opportunity, at,
                          {"Id": id, "Status": status, "Unqualified_Reason__c": reason})


def opp(stage: str = "Prospecting", *, id: str = "006000000000001AAA", amount: float | None = 5000.0,
        loss: str | None = None, at: dt.datetime = T0, close: str = "2026-04-30") -> SalesforceOpportunity:
    closed, won = stage in ("Closed Won", "Closed Lost"), stage == "Closed Won"
    return SalesforceOpportunity(id, stage, closed, won, amount, close, loss, at,
                                 {"Id": id, "StageName": stage, "Amount": amount, "CloseDate": close})


def as_read(leads, opps, previous) -> list[SalesforceLead]:
    """The Leads as the outcome query returns them: each with the Opportunity it was converted into.
    An Opportunity that moved on its own brings back every Lead converted into it, unchanged."""
    by_id = {o.id: o for o in opps}
    read = [replace(lead, opportunity=by_id.get(lead.opportunity_id or "")) for lead in leads]
    listed = {lead.hubspot_id for lead in leads}
    for hubspot_id, state in previous.items():
        if hubspot_id not in listed and state.opportunity_id in by_id:
            read.append(SalesforceLead(state.lead_id or f"00Q{hubspot_id}", hubspot_id, state.lead_status,
                                       state.disqualified_reason, state.converted, state.opportunity_id, T0,
                                       dict(state.lead_fields), by_id[state.opportunity_id]))
    return read


def plan(leads=(), opps=(), previous=None, linked=("101", "102"), rejections=None, stages=None, missing=(),
         feedback=FEEDBACK) -> fb.FeedbackPlan:
    previous = previous or {}
    facts = FeedbackFacts(frozenset(linked), previous, rejections or {}, stages or {}, frozenset(missing))
    return fb.plan(as_read(leads, opps, previous), facts, feedback)


@pytest.mark.parametrize("records,outcome,reason", [
    ((lead("Open - Not Contacted"),), None, None),
    ((lead("Working - Contacted"),), "contacted", None),
    ((lead("Nurturing"),), "contacted", None),                       # a custom status: Sales worked it
    ((lead("Closed - Not Converted", reason="No Budget"),), "disqualified", "No Budget"),
    ((lead("Closed - Not Converted"),), "disqualified", None),
    ((lead(opportunity="006000000000001AAA"), opp("Prospecting")), "opportunity", None),
    ((lead(opportunity="006000000000001AAA"), opp("Closed Won")), "won", None),
    ((lead(opportunity="006000000000001AAA"), opp("Closed Lost", loss="Price")), "lost", "Price"),
    ((SalesforceLead("00Q000000000001AAA", "101", "Closed - Converted", None, True, None, T0),),
     "contacted", None),                                             # converted without an Opportunity
], ids=["open", "working", "custom-status", "disqualified", "disqualified-no-reason", "open-opportunity",
        "won", "lost", "converted-no-opportunity"])
def test_the_outcome_rules(records, outcome, reason):
    leads = [r for r in records if isinstance(r, SalesforceLead)]
    opps = [r for r in records if isinstance(r, SalesforceOpportunity)]
    state = plan(leads, opps).states["101"]
    assert (state.outcome, state.reason) == (outcome, reason)


def test_a_lead_sales_has_not_touched_is_not_written_but_is_recorded():
    result = plan([lead("Open - Not Contacted")])
    assert result.updates == [] and result.no_outcome == ["101"] and "101" in result.states


def test_values_are_mapped_to_hubspot_options_and_formatted_by_type():
    result = plan([lead(opportunity="006000000000001AAA")],
                  [opp("Closed Lost", loss="Price", amount=12000.0, close="2026-04-30")])
    (update,) = result.updates
    assert update.properties == {
        "syncd_outcome": "lost", "syncd_reason": "price", "syncd_amount": "12000",
        "syncd_close_date": "2026-04-30", "syncd_outcome_date": "2026-03-02T09:00:00.000Z",
        "syncd_lead_id": "00Q000000000001AAA"}
    assert update.lifecycle_target is None                           # lost moves no stage


def test_a_reason_not_in_the_value_map_becomes_the_unmapped_option_and_no_reason_stays_empty():
    unknown = plan([lead("Closed - Not Converted", reason="Reorganisation")]).updates[0]
    assert unknown.properties["syncd_reason"] == "other"
    won = plan([lead(opportunity="006000000000001AAA")], [opp("Closed Won")]).updates[0]
    assert won.properties["syncd_reason"] == "" and won.properties["syncd_outcome"] == "won"


def test_an_unchanged_outcome_is_never_rewritten():
    first = plan([lead("Working - Contacted")])
    (update,) = first.updates
    written = {"101": replace(first.states["101"], feedback_hash=update.payload_hash)}
    again = plan([lead("Working - Contacted")], previous=written)
    assert again.updates == [] and again.unchanged == ["101"]


def test_an_opportunity_read_on_its_own_finds_its_contact_and_a_reopened_one_goes_back_to_opportunity():
    first = plan([lead(opportunity="006000000000001AAA")], [opp("Closed Lost", loss="Price")])
    state = replace(first.states["101"], feedback_hash=first.updates[0].payload_hash)
    assert state.closed_at == T0
    later = T0 + dt.timedelta(days=3)
    reopened = plan([], [opp("Negotiation/Review", at=later)], previous={"101": state})
    (update,) = reopened.updates
    assert update.outcome == "opportunity" and update.properties["syncd_reason"] == ""
    assert update.lifecycle_target == "opportunity"
    assert reopened.states["101"].closed_at is None and reopened.states["101"].outcome_at == later


def test_every_contact_behind_a_shared_opportunity_hears_when_it_closes():
    """Sales may convert two Leads into one existing Opportunity."""
    shared = "006000000000001AAA"
    first = plan([lead(opportunity=shared), lead(opportunity=shared, hubspot_id="102", id="00Q000000000002AAA")],
                 [opp("Prospecting")])
    previous = {h: replace(first.states[h], feedback_hash=u.payload_hash)
                for h, u in ((u.hubspot_id, u) for u in first.updates)}
    assert sorted(previous) == ["101", "102"]
    won = plan([], [opp("Closed Won", at=T0 + dt.timedelta(days=2))], previous=previous)
    assert sorted((u.hubspot_id, u.outcome) for u in won.updates) == [("101", "won"), ("102", "won")]


def test_first_contact_time_is_the_first_time_a_worked_status_was_seen_and_then_sticks():
    worked = plan([lead("Working - Contacted", at=T0)]).states["101"]
    later = plan([lead("Closed - Not Converted", reason="No Budget", at=T0 + dt.timedelta(days=2))],
                 previous={"101": worked}).states["101"]
    assert worked.first_contacted_at == T0 and later.first_contacted_at == T0
    assert later.outcome_at == T0 + dt.timedelta(days=2)


def test_leads_syncd_did_not_hand_over_are_ignored():
    result = plan([lead("Working - Contacted", hubspot_id="999", id="00Q000000000009AAA")])
    assert result.ignored == ["00Q000000000009AAA"] and result.states == {} and result.updates == []


def test_a_contact_rejected_for_the_same_payload_is_not_sent_again_until_it_changes():
    first = plan([lead("Working - Contacted")]).updates[0]
    rejections = {"101": fb.gone("101", first.payload_hash)}
    assert plan([lead("Working - Contacted")], rejections=rejections).still_rejected == ["101"]
    changed = plan([lead("Closed - Not Converted", reason="No Budget")], rejections=rejections)
    assert [u.hubspot_id for u in changed.updates] == ["101"]


@pytest.mark.parametrize("current,target,moved", [
    (None, "opportunity", True),
    ("marketingqualifiedlead", "opportunity", True),
    ("salesqualifiedlead", "customer", True),
    ("opportunity", "opportunity", False),                       # already there
    ("customer", "opportunity", False),                          # never backwards
    ("evangelist", "customer", False),
    ("other", "customer", False),                                # a stage not in `order`: never touched
], ids=["empty", "mql-to-opportunity", "sql-to-customer", "same", "customer-stays", "evangelist-stays",
        "unknown-stays"])
def test_the_lifecycle_stage_only_moves_forward(current, target, moved):
    records = ([lead(opportunity="006000000000001AAA")],
               [opp("Closed Won" if target == "customer" else "Prospecting")])
    result = plan(*records, stages={"101": current})
    (out,) = result.updates
    assert out.lifecycle_target == target and result.rejections == []
    assert (result.lifecycle_moved, result.lifecycle_kept) == (int(moved), int(not moved))
    assert out.properties.get("lifecyclestage") == (target if moved else None)
    # the hash is of the target, not of the move: the same outcome never reads as a change
    assert out.payload_hash == plan(*records).updates[0].payload_hash


def test_only_contacts_whose_update_moves_a_stage_have_their_stage_read():
    leads = [lead(opportunity="006000000000001AAA"), lead("Working - Contacted", hubspot_id="102",
                                                          id="00Q000000000002AAA")]
    read = as_read(leads, [opp("Closed Won")], {})
    facts = FeedbackFacts(frozenset({"101", "102"}))
    assert fb.lifecycle_candidates(read, facts, FEEDBACK) == ["101"]        # contacted moves no stage
    written = plan(leads, [opp("Closed Won")])
    previous = {u.hubspot_id: replace(written.states[u.hubspot_id], feedback_hash=u.payload_hash)
                for u in written.updates}
    assert fb.lifecycle_candidates(read, replace(facts, previous=previous), FEEDBACK) == []   # unchanged


def test_a_contact_missing_in_hubspot_is_rejected_before_sending():
    result = plan([lead(opportunity="006000000000001AAA")], [opp("Closed Won")], missing={"101"})
    assert result.updates == [] and [(r.hubspot_id, r.code) for r in result.rejections] == [("101", "OBJECT_NOT_FOUND")]


def test_confirm_records_the_new_hash_only_for_what_hubspot_accepted():
    states = {"101": OutcomeState("101", feedback_hash="old"), "102": OutcomeState("102", feedback_hash="old")}
    updates = [fb.ContactUpdate("101", {}, "new1", "won"), fb.ContactUpdate("102", {}, "new2", "lost")]
    result = fb.confirm(updates, [ContactWriteResult("101", True),
                                    ContactWriteResult("102", False, "OBJECT_NOT_FOUND", "gone")], states)
    assert [s.feedback_hash for s in result.states] == ["new1", "old"]
    assert result.resolved == ["101"]
    assert [(r.hubspot_id, r.code, r.payload_hash) for r in result.rejections] == [("102", "OBJECT_NOT_FOUND", "new2")]


@pytest.mark.parametrize("kind,value,expected", [
    ("number", 12000.0, "12000"),
    ("number", 99.5, "99.5"),
    ("date", "2026-04-30", "2026-04-30"),
    ("date", "2026-04-30T23:30:00.000+0000", "2026-04-30"),
    ("datetime", "2026-04-30T23:30:00.000+0000", "2026-04-30T23:30:00.000Z"),
    ("datetime", dt.datetime(2026, 4, 30, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))), "2026-04-30T10:00:00.000Z"),
    ("string", True, "true"),
    ("string", None, ""),
], ids=["integer-amount", "decimal-amount", "date", "datetime-to-date", "sf-datetime", "aware-datetime",
        "boolean", "empty-clears"])
def test_salesforce_values_become_hubspot_text(kind, value, expected):
    prop = FEEDBACK.properties["syncd_lead_id"].model_copy(update={"type": kind})
    assert format_value(value, prop) == expected


def test_a_value_that_cannot_be_converted_rejects_that_contact_only():
    scored = FEEDBACK.model_copy(update={"properties": {
        **FEEDBACK.properties, "syncd_score": FEEDBACK.properties["syncd_amount"].model_copy(
            update={"from_": "Lead.Score__c"})}})
    good, bad = lead("Working - Contacted"), lead("Working - Contacted", hubspot_id="102", id="00Q000000000002AAA")
    good = replace(good, fields={**good.fields, "Score__c": 42})
    bad = replace(bad, fields={**bad.fields, "Score__c": "high"})
    result = plan([good, bad], feedback=scored)
    assert [u.properties["syncd_score"] for u in result.updates] == ["42"]
    (rejection,) = result.rejections
    assert isinstance(rejection, Rejection) and (rejection.hubspot_id, rejection.code) == ("102", "INVALID_VALUE")
    assert "syncd_score (from Lead.Score__c)" in rejection.message


# -- properties -------------------------------------------------------------------------------

STATUSES = ["Open - Not Contacted", "Working - Contacted", "Nurturing", "Closed - Not Converted"]
STAGES = ["Prospecting", "Negotiation/Review", "Closed Won", "Closed Lost"]
event = st.one_of(
    st.tuples(st.just("status"), st.sampled_from(STATUSES), st.sampled_from([None, "No Budget", "Odd"])),
    st.tuples(st.just("convert"), st.sampled_from(STAGES), st.sampled_from([None, "Price"])),
    st.tuples(st.just("stage"), st.sampled_from(STAGES), st.sampled_from([None, "Price", "Odd"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(event, min_size=1, max_size=8), st.sampled_from([None, *FEEDBACK.lifecycle.order]))
def test_any_history_rereads_idempotently_and_never_moves_the_stage_backwards(events, start_stage):
    """Whatever Sales does, in any order: reading the same records again changes nothing (what a
    rerun after a crash does), and the lifecycle stage syncd sets only ever goes forward."""
    order = FEEDBACK.lifecycle.order
    state: OutcomeState | None = None
    stage, converted_to = start_stage, None
    at = T0
    for kind, value, reason in events:
        at += dt.timedelta(hours=1)
        if kind == "status" and converted_to is None:
            records = ([lead(value, reason=reason, at=at)], [])
        elif kind == "convert" and converted_to is None:
            converted_to = "006000000000001AAA"
            records = ([lead(opportunity=converted_to, at=at)], [opp(value, loss=reason, at=at)])
        elif converted_to is not None:
            records = ([], [opp(value, loss=reason, at=at)])
        else:
            continue
        previous = {"101": state} if state else {}
        result = plan(*records, previous=previous, linked={"101"}, stages={"101": stage})
        new = result.states["101"]
        assert new.outcome in (None, *Outcome)
        again = plan(*records, previous={"101": new}, linked={"101"}, stages={"101": stage}).states["101"]
        assert again == new                                            # idempotent re-read
        for update in result.updates:
            target = update.properties.get("lifecyclestage")
            if target is not None:
                assert stage is None or order.index(target) > order.index(stage)
                stage = target
            new = replace(new, feedback_hash=update.payload_hash)
        state = new
