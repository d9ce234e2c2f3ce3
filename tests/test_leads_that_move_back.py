"""Records that move in Salesforce (issue #8, acceptance 5), back leg: the outcome query reads
deleted and merged-away Leads too (queryAll), so a move Sales made is seen before any forward write
runs into it; a deleted Opportunity leaves no stale "won"; a contact linked by email to a Lead Sales
had already converted (which never carries our external id) gets its outcomes back."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from syncd.core.errors import ExitCode
from tests.conftest import qualified
from tests.feedback_helpers import (  # noqa: F401 - clock, syncd and ready are fixtures
    PIPELINE,
    clock,
    cycle,
    hand_over,
    lock_contact_once,
    props,
    ready,
    syncd,
)
from tests.test_leads_that_move import EXTERNAL_ID, events


def link_row(syncd, hubspot_id: str):
    store = syncd.store()
    try:
        (row,) = [row for row in store.all_links(PIPELINE) if row.hubspot_id == hubspot_id]
    finally:
        store.close()
    return row


def test_a_lead_deleted_in_salesforce_is_unlinked_by_the_back_leg_and_never_re_created(ready):
    ids, leads = hand_over(ready, 2)
    gone = leads[ids[0]]["Id"]
    ready.salesforce.update("Lead", gone, {"Status": "Working - Contacted"})
    assert cycle(ready).back.counts["updated"] == 1
    assert props(ready, ids[0])["syncd_outcome"] == "contacted"
    ready.salesforce.delete("Lead", gone)
    with capture_logs() as logs:
        back = cycle(ready).back
    assert back.exit_code == ExitCode.OK and back.counts["leads_unlinked"] == 1 and back.counts["updated"] == 0
    assert events(logs, "salesforce.lead_deleted") == [{"hubspot_id": ids[0], "former_lead_id": gone,
                                                        "action": "unlink", "merge_chain": [], "leg": "back"}]
    row = link_row(ready, ids[0])
    assert (row.lead_id, row.lead_moved, row.former_lead_id) == (None, "deleted", gone)
    assert props(ready, ids[0])["syncd_outcome"] == "contacted"      # what Sales did before deleting it
    # The contact's next edit creates no Lead and sends no write to the deleted one.
    ready.hubspot.update_contact(ids[0], {"pain_points": "changed"})
    forward = cycle(ready).forward
    assert (forward.counts["skipped_unlinked"], forward.counts["created"], forward.counts["rejected"]) == (1, 0, 0)
    assert [lead["Id"] for lead in ready.salesforce.all("Lead") if lead[EXTERNAL_ID] == ids[0]] == []


def test_a_lead_merged_in_salesforce_is_relinked_by_the_back_leg_and_the_masters_outcome_counts(ready):
    ids, leads = hand_over(ready, 1)
    loser = leads[ids[0]]["Id"]
    master = ready.salesforce.insert("Lead", {"LastName": "Kept", "Company": "Acme", "Email": "kept@example.com"})
    ready.salesforce.merge_leads(master, [loser])
    ready.salesforce.update("Lead", master, {"Status": "Working - Contacted"})
    with capture_logs() as logs:
        back = cycle(ready).back
    assert back.counts["leads_merged"] == 1 and back.counts["updated"] == 1
    assert events(logs, "salesforce.lead_merged") == [{"hubspot_id": ids[0], "former_lead_id": loser,
                                                       "lead_id": master, "merge_chain": [loser], "leg": "back"}]
    contact = props(ready, ids[0])
    assert (contact["syncd_outcome"], contact["syncd_salesforce_lead_id"]) == ("contacted", master)
    row = link_row(ready, ids[0])
    assert (row.lead_id, row.lead_moved, row.former_lead_id, row.lead_unmarked) == (master, None, loser, True)
    # The contact's next edit lands on the master by Id (stamping our id on it); no Lead is re-created.
    ready.hubspot.update_contact(ids[0], {"pain_points": "after the merge"})
    forward = cycle(ready).forward
    assert (forward.counts["updated"], forward.counts["created"]) == (1, 0)
    kept = ready.salesforce.get("Lead", master)
    assert (kept[EXTERNAL_ID], kept["Pain_Points__c"]) == (ids[0], "after the merge")
    assert [lead["Id"] for lead in ready.salesforce.all("Lead") if lead[EXTERNAL_ID] == ids[0]] == [master]
    assert link_row(ready, ids[0]).lead_unmarked is False
    # Sales wins it later: the outcome comes back through the ordinary outcome query.
    won = ready.salesforce.convert_lead(master, opportunity={"StageName": "Closed Won", "Amount": 700})
    assert cycle(ready).back.counts["updated"] == 1
    contact = props(ready, ids[0])
    assert (contact["syncd_outcome"], contact["syncd_salesforce_opportunity_id"]) == ("won", won["opportunity_id"])


def test_a_deleted_opportunity_leaves_no_stale_won(ready):
    ids, leads = hand_over(ready, 1)
    won = ready.salesforce.convert_lead(leads[ids[0]]["Id"], opportunity={"StageName": "Closed Won", "Amount": 10})
    cycle(ready)
    assert props(ready, ids[0])["syncd_outcome"] == "won"
    ready.salesforce.delete("Opportunity", won["opportunity_id"])
    back = cycle(ready).back
    assert back.exit_code == ExitCode.OK and back.counts["updated"] == 1
    contact = props(ready, ids[0])
    assert contact["syncd_outcome"] == "contacted"            # converted, and no Opportunity any more
    assert not contact.get("syncd_salesforce_opportunity_id") and not contact.get("syncd_opportunity_amount")


@pytest.mark.parametrize("linked_before_v4", [False, True], ids=["linked-now", "linked-before-schema-v4"])
def test_a_contact_linked_by_email_to_an_already_converted_lead_gets_its_outcome(ready, linked_before_v4):
    sf = ready.salesforce
    existing = sf.insert("Lead", {"LastName": "Known", "Company": "Acme", "Email": "lead0@example.com"})
    converted = sf.convert_lead(existing, opportunity={"StageName": "Prospecting", "Amount": 5000})
    (contact_id,) = ready.hubspot.create_contacts(qualified(1))
    first = cycle(ready)
    assert first.forward.counts["contact_updates"] == 1 and first.forward.counts["linked_by_email"] == 1
    assert sf.get("Lead", existing)[EXTERNAL_ID] is None        # a converted Lead cannot take our id
    row = link_row(ready, contact_id)
    assert (row.lead_id, row.converted, row.lead_unmarked) == (existing, True, True)
    if linked_before_v4:      # state from before schema v4 cannot say: the back leg reads the Lead once to learn
        store = ready.store()
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE links SET lead_unmarked = NULL"))
        store.close()
    sf.update("Opportunity", converted["opportunity_id"], {"StageName": "Closed Won", "Amount": 5200})
    back = cycle(ready).back
    assert back.exit_code == ExitCode.OK and back.counts["updated"] == 1
    contact = props(ready, contact_id)
    assert (contact["syncd_outcome"], contact["syncd_opportunity_amount"]) == ("won", "5200")
    assert contact["syncd_salesforce_lead_id"] == existing
    assert link_row(ready, contact_id).lead_unmarked is True


def test_an_outcome_hubspot_refused_for_an_email_linked_converted_lead_is_retried_by_id(ready):
    sf = ready.salesforce
    existing = sf.insert("Lead", {"LastName": "Known", "Company": "Acme", "Email": "lead0@example.com"})
    converted = sf.convert_lead(existing, opportunity={"StageName": "Prospecting"})
    (contact_id,) = ready.hubspot.create_contacts(qualified(1))
    cycle(ready)
    sf.update("Opportunity", converted["opportunity_id"], {"StageName": "Closed Lost", "Loss_Reason__c": "Price"})
    lock_contact_once(ready, contact_id)
    first = cycle(ready).back
    assert [(r.hubspot_id, r.code) for r in first.rejections] == [(contact_id, "LOCKED")]
    # No look-back: the Lead is outside the next window; the retry queue reads it by Id, through the link.
    again = cycle(ready, env={"SYNCD_SYNC__LOOKBACK_MINUTES": "0"}).back
    assert again.exit_code == ExitCode.OK and again.counts["updated"] == 1
    assert (props(ready, contact_id)["syncd_outcome"], props(ready, contact_id)["syncd_outcome_reason"]) == (
        "lost", "price")
