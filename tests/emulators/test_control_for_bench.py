"""What the benchmark needs from the emulators beyond the public APIs: seeding, bulk edits and
bulk Lead conversion through the control API, search counted in HubSpot's burst window, and
search results that follow every change (they are cached per store version)."""

from __future__ import annotations

import datetime as dt
import json

from werkzeug.test import Client

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator

UTC = dt.timezone.utc
TOKEN = "pat-emulator-token"


def _search(client: Client, **body: object) -> dict:
    response = client.post("/crm/v3/objects/contacts/search", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_seeded_contacts_qualify_and_carry_their_form_history() -> None:
    emulator = HubSpotEmulator(rate_limits=False)
    client = Client(emulator)
    at = dt.datetime(2026, 1, 1, 12, tzinfo=UTC)
    seeded = client.post("/__emulator/seed", json={"count": 250, "at": at.isoformat(), "forms": 3}).get_json()
    assert seeded == {"count": 250, "first_id": "1", "last_id": "250"}
    contact = emulator.get_contact(7)
    assert contact["properties"]["lastmodifieddate"] == "2026-01-01T12:00:00.000Z"
    assert contact["properties"]["lifecyclestage"] in ("marketingqualifiedlead", "salesqualifiedlead")
    history = contact["propertiesWithHistory"]["recent_conversion_event_name"]
    assert len(history) == 3 and history[0]["value"] == contact["properties"]["recent_conversion_event_name"]
    assert history[0]["timestamp"] > history[-1]["timestamp"]
    page = _search(client, filterGroups=[{"filters": [
        {"propertyName": "lifecyclestage", "operator": "IN", "values": ["marketingqualifiedlead", "salesqualifiedlead"]},
        {"propertyName": "email", "operator": "HAS_PROPERTY"}]}], limit=200)
    assert page["total"] == 250


def test_search_follows_edits_made_after_a_cached_search() -> None:
    emulator = HubSpotEmulator(rate_limits=False)
    client = Client(emulator)
    emulator.seed_contacts(3000, at=dt.datetime(2026, 1, 1, tzinfo=UTC))
    mql = {"filterGroups": [{"filters": [{"propertyName": "jobtitle", "operator": "EQ", "value": "CFO"}]}],
           "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 200}
    assert _search(client, **mql)["total"] == 0
    client.post("/__emulator/contacts/batch-update", json={"updates": [
        {"id": str(i), "properties": {"jobtitle": "CFO"}} for i in (5, 2500)]})
    page = _search(client, **mql)
    assert (page["total"], [r["id"] for r in page["results"]]) == (2, ["5", "2500"])
    emulator.archive_contact(5)
    assert [r["id"] for r in _search(client, **mql)["results"]] == ["2500"]


def test_search_in_burst_makes_searches_draw_on_the_ten_second_window() -> None:
    emulator = HubSpotEmulator(rate_limits=True, burst_limit=3, search_limit_per_second=100, search_in_burst=True)
    client = Client(emulator)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    statuses = [client.post("/crm/v3/objects/contacts/search", json={}, headers=auth).status_code for _ in range(3)]
    refused = client.get("/crm/v3/objects/contacts", headers=auth)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429 and refused.get_json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert client.post("/__emulator/config", json={"search_in_burst": False}).get_json()["search_in_burst"] is False


def test_leads_convert_in_bulk_by_external_id_and_report_each_one() -> None:
    emulator = SalesforceEmulator()
    for hid in ("1", "2"):
        emulator.insert("Lead", {"LastName": f"L{hid}", "Company": "Acme", "HubSpot_Contact_Id__c": hid})
    client = Client(emulator)
    answer = client.post("/__emulator/leads/convert", json={"by": "HubSpot_Contact_Id__c", "conversions": [
        {"key": "1", "opportunity": {"StageName": "Closed Won", "Amount": 100}},
        {"key": "2", "opportunity": {"StageName": "Closed Lost", "Loss_Reason__c": "Price"}},
        {"key": "3"}]}).get_json()["results"]
    assert [bool(r.get("opportunity_id")) for r in answer[:2]] == [True, True]
    assert answer[2]["errors"][0]["errorCode"] == "NOT_FOUND"
    won = emulator.get("Opportunity", answer[0]["opportunity_id"])
    assert (won["IsWon"], won["CreatedById"]) == (True, emulator.sales_user_id)
    counts = json.loads(client.get("/__emulator/health").get_data(as_text=True))["counts"]
    assert (counts["Lead"], counts["Opportunity"], counts["Account"]) == (2, 2, 2)
