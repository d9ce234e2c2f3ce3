"""The back leg's cost: one SOQL query per 2,000 Leads for the outcome read (Opportunities come
with their Leads), 100 contacts per HubSpot update, nothing at all for Leads nobody worked."""

from __future__ import annotations

import datetime as dt
import math

from simple_salesforce import format_soql

from connectors.salesforce.outcomes import outcome_soql
from syncd import app
from syncd.app.connectors import Connectors
from syncd.app.cycle import run_back
from syncd.core.records import Link
from syncd.core.window import Window
from syncd.mapping import load_mapping
from syncd.run.back import outcome_query
from tests.conftest import qualified
from tests.feedback_helpers import clock, cycle, syncd  # noqa: F401 - fixtures: Salesforce 2 s behind

PIPELINE = "hubspot-to-salesforce"


def back(syncd):  # noqa: F811 - the fixture's value
    loaded = app.load(syncd.stack.config_path, env={})
    store = app.open_store(loaded.settings)
    connectors = Connectors.build(loaded)
    try:
        return run_back(loaded, store, connectors)
    finally:
        connectors.close()
        store.close()


def test_outcomes_of_1000_linked_leads_cost_the_documented_minimum_of_calls(syncd):  # noqa: F811
    """README "Closing the loop": ⌈M/2000⌉ outcome queries (M Leads whose outcome may have changed,
    their Opportunities included) + 1 login; HubSpot: 1 property check + ⌈S/100⌉ lifecycle reads
    + ⌈W/100⌉ batch updates. The Leads nobody worked are not read at all."""
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

    result = back(syncd)
    written, converted, with_stage_move = 800, 300, 200          # won -> customer, open -> opportunity
    assert result.error is None and result.counts["updated"] == written
    assert result.counts["leads_read"] == written and result.counts["opportunities_read"] == converted
    assert sf.requests.count(path_contains="/query") == math.ceil(written / 2000)
    assert sf.requests.count(path_contains="/oauth2/token") == 1 and len(sf.requests.entries()) == 1 + 1
    hs = syncd.hubspot.requests
    assert hs.count(method="POST", path_contains="/batch/update") == math.ceil(written / 100)
    assert hs.count(method="POST", path_contains="/batch/read") == math.ceil(with_stage_move / 100)
    assert hs.count(method="GET", path_contains="/crm/v3/properties/contacts") == 1
    assert len(hs.entries()) == 8 + 2 + 1
    assert result.api_calls == {"hubspot": 11, "salesforce": 1}           # the login is not an API call

    # Nothing changed (the look-back reads the same Leads again): one outcome query, and, since
    # state now knows Opportunities, one queryAll for Opportunities deleted in the window (README
    # "Records that move"); no HubSpot call at all.
    hs.clear()
    sf.requests.clear()
    again = back(syncd)
    assert again.counts["unchanged"] == written and hs.entries() == []
    assert sf.requests.count(path_contains="/queryAll") == 2
    assert sum("FROM+Opportunity+WHERE+IsDeleted" in e.query for e in sf.requests.entries()) == 1


def test_more_than_2000_changed_leads_are_read_page_by_page(syncd):  # noqa: F811
    """Leads syncd linked (seeded straight into Salesforce and state), touched by a rep but still
    open: their outcome may have changed (to none), so they are read, and nothing is written."""
    n = 2100
    store = syncd.store()
    try:
        links = []
        for i in range(n):
            # the control API writes as a salesperson, not as syncd's integration user
            syncd.salesforce.insert("Lead", {"LastName": f"L{i}", "Company": "C", "HubSpot_Contact_Id__c": str(i + 1)})
            links.append(Link(str(i + 1), None))
        store.commit_batch(PIPELINE, links=links)
    finally:
        store.close()
    result = back(syncd)
    assert result.error is None and result.counts["leads_read"] == n and result.counts["no_outcome"] == n
    assert syncd.salesforce.requests.count(path_contains="/query") == math.ceil(n / 2000)   # query + queryMore
    assert syncd.hubspot.requests.entries() == []


def test_every_literal_in_the_outcome_query_is_escaped():
    mapping = load_mapping()
    feedback = mapping.feedback.model_copy(update={"lead": mapping.feedback.lead.model_copy(
        update={"open_statuses": ["Open' OR Name != '"]})})
    query = outcome_query(mapping, feedback)
    hostile_user = "005' OR Id != '"
    window = Window(dt.datetime(2026, 3, 1, 11, tzinfo=dt.timezone.utc),
                    dt.datetime(2026, 3, 1, 12, 0, 0, 999000, tzinfo=dt.timezone.utc))
    soql = outcome_soql(query, window, hostile_user)
    assert format_soql("{}", ["Open' OR Name != '"]) in soql and "('Open\\' OR Name != \\'')" in soql
    assert format_soql("{}", hostile_user) in soql
    # The window: changed since its start, the Lead or its Opportunity; no upper bound (the
    # cursor takes Salesforce's own time, syncd.run.clock).
    assert "HubSpot_Contact_Id__c != null AND (SystemModstamp >= 2026-03-01T11:00:00+00:00 OR " \
           "ConvertedOpportunity.SystemModstamp >= 2026-03-01T11:00:00+00:00) AND " in soql
    assert soql.endswith("ORDER BY SystemModstamp, Id")
