"""The back leg's cost: batched SOQL for the outcome read, 100 contacts per HubSpot update."""

from __future__ import annotations

import datetime as dt
import math

from simple_salesforce import format_soql

from connectors.salesforce_outcomes import OPPORTUNITY_ID_CHUNK, lead_soql, opportunity_soql
from syncd import app
from syncd.core.window import Window
from syncd.feedback_runner import back_sync
from syncd.mapping import load_mapping
from syncd.core.records import Link
from tests.conftest import qualified
from tests.feedback_helpers import clock, cycle, syncd  # noqa: F401 - fixtures: Salesforce 2 s behind

PIPELINE = "hubspot-to-salesforce"


def run_back(syncd):  # noqa: F811 - the fixture's value
    loaded = app.load(syncd.stack.config_path, env={})
    store = app.open_store(loaded.settings)
    try:
        return back_sync(loaded, store).run()
    finally:
        store.close()


def test_outcomes_of_1000_linked_leads_cost_the_documented_minimum_of_calls(syncd):  # noqa: F811
    """README "Closing the loop": ⌈L/2000⌉ Lead pages + ⌈C/1000⌉ Opportunity queries + 1 login;
    HubSpot: 1 property check + ⌈M/100⌉ lifecycle reads + ⌈W/100⌉ batch updates."""
    n = 1000
    assert syncd.cli("setup", "hubspot") == 0
    ids = syncd.hubspot.create_contacts(qualified(n))
    assert cycle(syncd).forward.counts["created"] == n
    leads = syncd.leads_by_hubspot_id()
    sf = syncd.salesforce
    for i, hubspot_id in enumerate(ids[:800]):
        lead_id = leads[hubspot_id]["Id"]
        if i < 400:
            sf.update("Lead", lead_id, {"Status": "Working - Contacted"})
        elif i < 500:
            sf.update("Lead", lead_id, {"Status": "Closed - Not Converted", "Unqualified_Reason__c": "No Need"})
        else:
            stage = ("Closed Won", "Closed Lost", "Prospecting")[(i - 500) // 100]
            sf.convert_lead(lead_id, opportunity={"StageName": stage, "Amount": 1000, "Loss_Reason__c": "Price"
                                                  if stage == "Closed Lost" else None})
    syncd.hubspot.requests.clear()
    sf.requests.clear()

    back = run_back(syncd)
    written, converted, with_stage_move = 800, 300, 200          # won -> customer, open -> opportunity
    assert back.error is None and back.counts["updated"] == written and back.counts["no_outcome"] == n - written
    assert sf.requests.count(path_contains="/query") == math.ceil(n / 2000) + math.ceil(converted / OPPORTUNITY_ID_CHUNK)
    assert sf.requests.count(path_contains="/oauth2/token") == 1 and len(sf.requests.entries()) == 1 + 2
    hs = syncd.hubspot.requests
    assert hs.count(method="POST", path_contains="/batch/update") == math.ceil(written / 100)
    assert hs.count(method="POST", path_contains="/batch/read") == math.ceil(with_stage_move / 100)
    assert hs.count(method="GET", path_contains="/crm/v3/properties/contacts") == 1
    assert len(hs.entries()) == 8 + 2 + 1
    assert back.api_calls == {"hubspot": 11, "salesforce": 2}             # the login is not an API call

    # Nothing changed: the same reads, no HubSpot call at all.
    hs.clear()
    sf.requests.clear()
    again = run_back(syncd)
    assert again.counts["unchanged"] == written and hs.entries() == []
    assert sf.requests.count(path_contains="/query") == 2


def test_more_than_2000_changed_leads_are_read_page_by_page(syncd):  # noqa: F811
    """Leads syncd linked (seeded straight into Salesforce and state), none worked yet."""
    n = 2100
    store = syncd.store()
    try:
        links = []
        for i in range(n):
            syncd.salesforce.insert("Lead", {"LastName": f"L{i}", "Company": "C", "HubSpot_Contact_Id__c": str(i + 1)})
            links.append(Link(str(i + 1), None))
        store.commit_batch(PIPELINE, links=links)
    finally:
        store.close()
    back = run_back(syncd)
    assert back.error is None and back.counts["leads_read"] == n and back.counts["no_outcome"] == n
    assert syncd.salesforce.requests.count(path_contains="/query") == math.ceil(n / 2000)   # query + queryMore
    assert syncd.hubspot.requests.entries() == []


def test_every_literal_in_the_outcome_queries_is_escaped():
    feedback = load_mapping().feedback
    hostile = "006' OR Name != '"
    soql = opportunity_soql(feedback, [hostile], None)
    assert format_soql("{}", [hostile]) in soql and "Id IN ('006\\' OR Name != \\'')" in soql
    window = Window(None, dt.datetime(2026, 3, 1, 12, 0, 0, 999000, tzinfo=dt.timezone.utc))
    lead = lead_soql("HubSpot_Contact_Id__c", feedback, window)
    assert "HubSpot_Contact_Id__c != null AND SystemModstamp <= 2026-03-01T12:00:00+00:00" in lead
    assert lead.endswith("ORDER BY SystemModstamp, Id")
