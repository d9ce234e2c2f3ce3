"""The back leg end to end: Salesforce emulator -> syncd (real SDKs) -> HubSpot emulator.

Each test states one acceptance point of issue #3 ("close the loop").
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

from rich.console import Console
from structlog.testing import capture_logs

from state.outcomes import OutcomeStore
from syncd import app
from syncd.cli import console
from syncd.core.errors import ExitCode
from syncd.run.back import OUTCOMES_CURSOR
from tests.feedback_helpers import (  # noqa: F401 - clock, syncd and ready are fixtures
    BEHIND,
    PIPELINE,
    clock,
    cycle,
    hand_over,
    hubspot_writes,
    lock_contact_once,
    props,
    ready,
    syncd,
)


def test_disqualified_won_and_lost_outcomes_land_on_the_contacts_after_one_run(ready):
    sf = ready.salesforce
    ids, leads = hand_over(ready, 5)
    sf.update("Lead", leads[ids[0]]["Id"], {"Status": "Closed - Not Converted", "Unqualified_Reason__c": "No Budget"})
    won = sf.convert_lead(leads[ids[1]]["Id"], opportunity={"StageName": "Closed Won", "Amount": 48000,
                                                            "CloseDate": "2026-03-31"})
    lost = sf.convert_lead(leads[ids[2]]["Id"], opportunity={"StageName": "Closed Lost", "Amount": 9000,
                                                             "CloseDate": "2026-02-27", "Loss_Reason__c": "Competitor"})
    sf.update("Lead", leads[ids[3]]["Id"], {"Status": "Working - Contacted"})
    back = cycle(ready).back
    assert back.exit_code == ExitCode.OK and back.counts["updated"] == 4
    assert back.counts["leads_read"] == 4                 # the Lead nobody touched is not even read

    disqualified, closed_won, closed_lost, contacted, untouched = (props(ready, i) for i in ids)
    assert (disqualified["syncd_outcome"], disqualified["syncd_outcome_reason"]) == ("disqualified", "no_budget")
    assert disqualified["syncd_lead_status"] == "Closed - Not Converted"
    assert disqualified["syncd_salesforce_lead_id"] == leads[ids[0]]["Id"]
    assert disqualified["syncd_outcome_date"] and disqualified["syncd_first_contacted"]
    assert closed_won["syncd_outcome"] == "won" and closed_won["syncd_opportunity_amount"] == "48000"
    assert closed_won["syncd_close_date"] == "2026-03-31" and closed_won["syncd_opportunity_stage"] == "Closed Won"
    assert closed_won["syncd_salesforce_opportunity_id"] == won["opportunity_id"]
    assert closed_won["lifecyclestage"] == "customer"
    assert (closed_lost["syncd_outcome"], closed_lost["syncd_outcome_reason"]) == ("lost", "competitor")
    assert closed_lost["syncd_salesforce_opportunity_id"] == lost["opportunity_id"]
    assert closed_lost["lifecyclestage"] == "marketingqualifiedlead"          # lost moves no stage
    assert contacted["syncd_outcome"] == "contacted" and contacted.get("syncd_outcome_reason") is None
    assert untouched.get("syncd_outcome") is None


def test_an_opportunity_reopened_or_moved_later_is_followed_even_when_its_lead_did_not_change(ready, clock):
    syncd = ready
    clock.offset = dt.timedelta(hours=-3)
    ids, leads = hand_over(syncd, 3)
    lost = syncd.salesforce.convert_lead(leads[ids[0]]["Id"], opportunity={
        "StageName": "Closed Lost", "Loss_Reason__c": "Price", "Amount": 1000})
    open_ = syncd.salesforce.convert_lead(leads[ids[1]]["Id"], opportunity={"StageName": "Prospecting",
                                                                            "Amount": 2000})
    assert cycle(syncd, full=True).back.counts["updated"] == 2               # --full: every linked Lead
    assert props(syncd, ids[0])["syncd_outcome"] == "lost"
    assert props(syncd, ids[1])["lifecyclestage"] == "opportunity"
    # Hours later: Sales reopens the lost deal and wins the open one. The Leads are untouched and
    # older than the look-back, so only the Opportunity query can see this.
    clock.offset = BEHIND
    syncd.salesforce.update("Opportunity", lost["opportunity_id"], {"StageName": "Negotiation/Review"})
    syncd.salesforce.update("Opportunity", open_["opportunity_id"], {"StageName": "Closed Won", "Amount": 2500})
    syncd.salesforce.requests.clear()
    back = cycle(syncd).back
    # The Leads come back with their Opportunities, in the one outcome query, although only the
    # Opportunities changed (the other query asks for Opportunities deleted in the window).
    assert back.counts["leads_read"] == 2 and back.counts["opportunities_read"] == 2
    assert back.counts["updated"] == 2
    assert syncd.salesforce.requests.count(path_contains="/query") == 2
    assert sum("FROM+Opportunity+WHERE+IsDeleted" in e.query for e in syncd.salesforce.requests.entries()) == 1
    reopened, won = props(syncd, ids[0]), props(syncd, ids[1])
    assert reopened["syncd_outcome"] == "opportunity" and reopened.get("syncd_outcome_reason") is None
    assert reopened["syncd_opportunity_stage"] == "Negotiation/Review"
    assert reopened["lifecyclestage"] == "opportunity"                       # moved forward from MQL
    assert won["syncd_outcome"] == "won" and won["syncd_opportunity_amount"] == "2500"
    assert won["lifecyclestage"] == "customer"


def test_a_second_run_with_nothing_changed_makes_zero_hubspot_writes(ready):
    ids, leads = hand_over(ready, 4)
    ready.salesforce.update("Lead", leads[ids[0]]["Id"], {"Status": "Working - Contacted"})
    ready.salesforce.convert_lead(leads[ids[1]]["Id"], opportunity={"StageName": "Closed Won", "Amount": 10})
    assert cycle(ready).back.counts["updated"] == 2
    before = hubspot_writes(ready)
    again = cycle(ready).back
    assert hubspot_writes(ready) == before
    assert again.counts["updated"] == 0 and again.counts["unchanged"] == 2
    assert again.api_calls["hubspot"] == 0                   # not even the property check


def test_salesforce_records_syncd_did_not_hand_over_are_ignored(ready):
    sf = ready.salesforce
    ids, leads = hand_over(ready, 2)
    typed_in = sf.insert("Lead", {"LastName": "Rep", "Company": "Typed In", "Status": "Working - Contacted"})
    foreign = sf.insert("Lead", {"LastName": "Other", "Company": "Tool", "Status": "Closed - Not Converted",
                                 "HubSpot_Contact_Id__c": "987654"})
    sf.convert_lead(typed_in, opportunity={"StageName": "Closed Won", "Amount": 1})
    sf.update("Lead", leads[ids[0]]["Id"], {"Status": "Working - Contacted"})
    back = cycle(ready).back
    assert back.exit_code == ExitCode.OK
    assert back.counts["ignored"] == 1 and back.counts["updated"] == 1      # the foreign Lead was read, not used
    store = ready.store()
    try:
        assert sorted(OutcomeStore(store).states_for(PIPELINE, ids + ["987654"])) == [ids[0]]   # not the foreign one
    finally:
        store.close()
    assert foreign and props(ready, ids[1]).get("syncd_outcome") is None


def test_a_contact_deleted_in_hubspot_since_hand_over_is_reported_not_crashed_on(ready, capsys):
    sf = ready.salesforce
    ids, leads = hand_over(ready, 3)
    sf.update("Lead", leads[ids[0]]["Id"], {"Status": "Closed - Not Converted", "Unqualified_Reason__c": "Bad Data"})
    sf.convert_lead(leads[ids[1]]["Id"], opportunity={"StageName": "Closed Won", "Amount": 700})
    sf.update("Lead", leads[ids[2]]["Id"], {"Status": "Working - Contacted"})
    ready.hubspot.archive_contact(ids[0])            # found out by the batch update (207)
    ready.hubspot.archive_contact(ids[1])            # found out by the lifecycle-stage read
    with capture_logs() as logs:
        back = cycle(ready).back
    assert back.exit_code == ExitCode.RECORDS_REJECTED and back.error is None
    assert sorted((r.hubspot_id, r.code) for r in back.rejections) == sorted(
        [(ids[0], "OBJECT_NOT_FOUND"), (ids[1], "OBJECT_NOT_FOUND")])
    assert "no longer exists" in back.rejections[0].message
    assert back.counts["updated"] == 1 and props(ready, ids[2])["syncd_outcome"] == "contacted"
    rejected = [e for e in logs if e["event"] == "record.rejected"]          # the forward leg rejected none
    assert sorted(e["hubspot_id"] for e in rejected) == sorted(ids[:2])
    # The outcome is still known (the report counts it), and the contact is not retried until it changes.
    store = ready.store()
    try:
        assert OutcomeStore(store).states_for(PIPELINE, [ids[1]])[ids[1]].outcome == "won"
        assert {r.code for r in OutcomeStore(store).list_rejections(PIPELINE)} == {"OBJECT_NOT_FOUND"}
    finally:
        store.close()
    again = cycle(ready).back
    assert again.exit_code == ExitCode.OK and again.counts["still_rejected"] == 2 and again.counts["rejected"] == 0
    # `syncd status` shows them, apart from the forward leg's rejections.
    capsys.readouterr()
    assert ready.cli("status", "--json") == ExitCode.OK
    status = json.loads(capsys.readouterr().out)
    assert status["rejections"] == []
    assert sorted((r["hubspot_id"], r["code"]) for r in status["feedback_rejections"]) == sorted(
        [(ids[0], "OBJECT_NOT_FOUND"), (ids[1], "OBJECT_NOT_FOUND")])


def test_missing_hubspot_properties_fail_the_run_naming_them_and_setup_fixes_it_safely_twice(syncd, capsys):
    ids, leads = hand_over(syncd, 2)
    syncd.salesforce.update("Lead", leads[ids[0]]["Id"], {"Status": "Working - Contacted"})
    capsys.readouterr()
    writes = hubspot_writes(syncd)
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    failed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"run.failed"' in line]
    (event,) = failed
    assert event["leg"] == "back" and "syncd setup hubspot" in event["error"]
    assert "syncd_outcome" in event["error"] and "syncd_salesforce_opportunity_id" in event["error"]
    assert hubspot_writes(syncd) == writes                                  # nothing written

    assert syncd.cli("setup", "hubspot") == ExitCode.OK
    first = json.loads(capsys.readouterr().out)
    assert first["group_created"] is True and "syncd_outcome" in first["created"] and len(first["created"]) == 10
    definition = syncd.hubspot.registry.get("syncd_outcome_reason")
    assert definition["groupName"] == "syncd" and definition["type"] == "enumeration"
    assert {"no_budget", "competitor", "other"} <= {o["value"] for o in definition["options"]}
    assert syncd.hubspot.registry.get("syncd_opportunity_amount")["type"] == "number"
    creates = syncd.hubspot.requests.count(method="POST", path_contains="/crm/v3/properties")
    assert syncd.cli("setup", "hubspot") == ExitCode.OK                     # safe to run twice
    second = json.loads(capsys.readouterr().out)
    assert second["created"] == [] and second["group_created"] is False and len(second["existing"]) == 10
    assert syncd.hubspot.requests.count(method="POST", path_contains="/crm/v3/properties") == creates

    assert syncd.cli("run", "--once") == ExitCode.OK
    assert props(syncd, ids[0])["syncd_outcome"] == "contacted"


def test_setup_adds_an_option_the_mapping_needs_to_an_existing_property(ready, tmp_path, capsys):
    text = Path(app.load(ready.stack.config_path, env={}).mapping.source).read_text()
    custom = tmp_path / "more-reasons.yaml"
    custom.write_text(text.replace("        Other: other\n", "        Other: other\n        Legal: legal_review\n"))
    ready.write_config(mapping=custom)
    capsys.readouterr()
    assert ready.cli("setup", "hubspot") == ExitCode.OK
    report = json.loads(capsys.readouterr().out)
    assert report["options_added"] == {"syncd_outcome_reason": ["legal_review"]} and report["created"] == []
    assert "legal_review" in {o["value"] for o in ready.hubspot.registry.get("syncd_outcome_reason")["options"]}


def test_a_failure_after_some_batches_keeps_the_cursor_and_the_rerun_lands_every_outcome_exactly_once(ready):
    ids, leads = hand_over(ready, 250)
    for hubspot_id in ids:
        ready.salesforce.update("Lead", leads[hubspot_id]["Id"], {"Status": "Working - Contacted"})
    store = ready.store()
    cursor = store.get_cursor(PIPELINE, OUTCOMES_CURSOR)
    store.close()
    assert cursor is not None
    ready.hubspot.inject_fault("POST", "/batch/update", 503, after=1)       # batch 2 of 3 fails
    failed = cycle(ready, env={"SYNCD_HUBSPOT__MAX_RETRIES": "0"}).back
    # Batches go out side by side: the one after the failed one may have landed too. Whatever
    # landed is recorded, nothing else is, and the cursor stays.
    landed = sum(1 for i in ids if props(ready, i).get("syncd_outcome") == "contacted")
    assert failed.exit_code == ExitCode.REMOTE_UNAVAILABLE and 100 <= landed <= 200
    assert failed.counts["updated"] == landed
    store = ready.store()
    assert store.get_cursor(PIPELINE, OUTCOMES_CURSOR) == cursor
    store.close()
    first_calls = ready.hubspot.requests.count(method="POST", path_contains="/batch/update")
    rerun = cycle(ready).back
    assert rerun.exit_code == ExitCode.OK
    assert (rerun.counts["updated"], rerun.counts["unchanged"]) == (250 - landed, landed)
    for hubspot_id in ids:
        history = ready.hubspot.get_contact(hubspot_id)["propertiesWithHistory"]["syncd_outcome"]
        assert [h["value"] for h in history] == ["contacted"], hubspot_id
    assert ready.hubspot.requests.count(method="POST", path_contains="/batch/update") == first_calls + 1


def test_dry_run_plans_the_outcomes_but_writes_nothing_and_keeps_the_cursor(ready):
    ids, leads = hand_over(ready, 2)
    ready.salesforce.convert_lead(leads[ids[0]]["Id"], opportunity={"StageName": "Prospecting"})
    store = ready.store()
    cursor = store.get_cursor(PIPELINE, OUTCOMES_CURSOR)
    store.close()
    writes = hubspot_writes(ready)
    back = cycle(ready, dry_run=True).back
    assert back.status == "dry_run" and [u.hubspot_id for u in back.planned_updates] == [ids[0]]
    assert back.planned_updates[0].properties["lifecyclestage"] == "opportunity"
    assert hubspot_writes(ready) == writes
    store = ready.store()
    assert store.get_cursor(PIPELINE, OUTCOMES_CURSOR) == cursor
    store.close()
    assert cycle(ready).back.counts["updated"] == 1


def test_run_once_reports_both_legs(ready, capsys):
    ids, leads = hand_over(ready, 2)
    ready.salesforce.update("Lead", leads[ids[0]]["Id"], {"Status": "Working - Contacted"})
    capsys.readouterr()
    assert ready.cli("run", "--once") == ExitCode.OK
    finished = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"run.finished"' in line]
    assert [e.get("leg", "forward") for e in finished] == ["forward", "back"]
    assert finished[1]["updated"] == 1 and finished[1]["leads_read"] == 1     # the untouched Lead is not read
    # On a terminal each leg gets its summary table.
    back = cycle(ready).back
    text = io.StringIO()
    Console(file=text, width=120).print(console.run_summary(back))
    assert "(back leg)" in text.getvalue() and "Leads read from Salesforce" in text.getvalue()


def test_an_outcome_hubspot_refused_for_a_passing_reason_is_retried_next_run_though_nothing_changed(ready):
    (hubspot_id,), leads = hand_over(ready, 1)
    ready.salesforce.update("Lead", leads[hubspot_id]["Id"], {"Status": "Working - Contacted"})
    lock_contact_once(ready, hubspot_id)
    first = cycle(ready).back
    assert [(r.hubspot_id, r.code, r.retryable) for r in first.rejections] == [(hubspot_id, "LOCKED", True)]
    assert props(ready, hubspot_id).get("syncd_outcome") in (None, "")
    # No look-back: the Lead is outside the next window; only the retry queue brings it back.
    again = cycle(ready, env={"SYNCD_SYNC__LOOKBACK_MINUTES": "0"}).back
    assert again.exit_code == ExitCode.OK and again.counts["updated"] == 1
    assert props(ready, hubspot_id)["syncd_outcome"] == "contacted"
    assert cycle(ready, env={"SYNCD_SYNC__LOOKBACK_MINUTES": "0"}).back.counts["updated"] == 0
