"""The back leg's outcome query, answered as a real org answers it: parent-relationship fields
in SELECT and WHERE (a null parent is ``"ConvertedOpportunity": null``), OR across a Lead's and
its Opportunity's SystemModstamp, and ``LastModifiedById`` telling syncd's writes (the session's
user) from Sales' work (the control API acts as the org's salesperson unless told otherwise)."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

import pytest
from simple_salesforce import Salesforce

from emulators.salesforce import SalesforceEmulator
from tests.salesforce_org import served_org

UTC = dt.timezone.utc
WINDOW_START = dt.datetime(2026, 1, 1, tzinfo=UTC)
OUTCOME_QUERY = (
    "SELECT Id, Status, IsConverted, ConvertedOpportunityId, ConvertedContactId, LastModifiedDate, "
    "SystemModstamp, HubSpot_Contact_Id__c, Unqualified_Reason__c, ConvertedOpportunity.StageName, "
    "ConvertedOpportunity.IsClosed, ConvertedOpportunity.IsWon, ConvertedOpportunity.Amount, "
    "ConvertedOpportunity.CloseDate, ConvertedOpportunity.Loss_Reason__c, ConvertedOpportunity.LastModifiedDate, "
    "ConvertedOpportunity.SystemModstamp FROM Lead WHERE HubSpot_Contact_Id__c != null AND "
    "((SystemModstamp >= 2026-01-01T00:00:00Z AND SystemModstamp <= 2026-01-02T00:00:00Z) OR "
    "(ConvertedOpportunity.SystemModstamp >= 2026-01-01T00:00:00Z AND "
    "ConvertedOpportunity.SystemModstamp <= 2026-01-02T00:00:00Z)) AND "
    "(Status NOT IN ('Open - Not Contacted') OR IsConverted = true OR LastModifiedById != '{syncd_user}') "
    "ORDER BY SystemModstamp, Id")


class Clock:
    def __init__(self) -> None:
        self.now = WINDOW_START

    def __call__(self) -> dt.datetime:
        return self.now

    def at(self, **delta: float) -> None:
        self.now = WINDOW_START + dt.timedelta(**delta)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SalesforceEmulator, Salesforce, Clock]]:
    clock = Clock()
    with served_org(tmp_path_factory.mktemp("outcome-tls"), clock) as served:
        yield served.emulator, served.sf, clock


def _lead(sf: Salesforce, hubspot_id: str | None) -> str:
    fields = {"LastName": f"Lead {hubspot_id}", "Company": "Acme", "Email": f"l{hubspot_id}@example.com"}
    if hubspot_id:
        return sf.Lead.upsert(f"HubSpot_Contact_Id__c/{hubspot_id}", fields, raw_response=True).json()["id"]
    return sf.Lead.create(fields)["id"]


def test_the_outcome_query_returns_what_sales_changed_with_its_opportunity(org) -> None:
    emulator, sf, clock = org
    clock.at(days=-3)
    untouched, worked, won, no_opp, opp_moved, not_linked, touched_by_syncd = (
        _lead(sf, hid) for hid in ("1", "2", "3", "4", "5", None, "7"))
    opp_moved_ids = emulator.convert_lead(opp_moved, opportunity={"StageName": "Negotiation/Review"})
    clock.at(hours=1)
    emulator.update("Lead", worked, {"Status": "Working - Contacted"})
    clock.at(hours=2)
    emulator.convert_lead(won, opportunity={"StageName": "Closed Won", "Amount": 5000})
    clock.at(hours=3)
    emulator.convert_lead(no_opp)
    clock.at(hours=4)
    emulator.update("Opportunity", opp_moved_ids["opportunity_id"], {"StageName": "Closed Lost",
                                                                     "Loss_Reason__c": "Price"})
    emulator.update("Lead", not_linked, {"Status": "Working - Contacted"})
    emulator.update("Lead", touched_by_syncd, {"Title": "CFO"}, as_user=emulator.default_user_id)
    emulator.update("Lead", untouched, {"Title": "CEO"}, as_user=emulator.default_user_id)
    clock.at(days=3)  # the query runs later: nothing after the window may leak in

    rows = sf.query_all(OUTCOME_QUERY.replace("{syncd_user}", emulator.default_user_id))["records"]

    # ORDER BY SystemModstamp, Id: the Lead let in by its Opportunity kept its older SystemModstamp
    assert [r["Id"] for r in rows] == [opp_moved, worked, won, no_opp]
    by_id = {r["Id"]: r for r in rows}
    assert by_id[worked]["ConvertedOpportunity"] is None
    assert by_id[worked]["Status"] == "Working - Contacted"
    assert by_id[no_opp]["ConvertedOpportunity"] is None and by_id[no_opp]["IsConverted"] is True
    assert by_id[no_opp]["ConvertedContactId"].startswith("003")
    opportunity = by_id[won]["ConvertedOpportunity"]
    assert opportunity["attributes"]["type"] == "Opportunity"
    assert (opportunity["StageName"], opportunity["IsClosed"], opportunity["IsWon"], opportunity["Amount"]) == \
        ("Closed Won", True, True, 5000.0)
    assert opportunity["CloseDate"] == "2026-01-31" and opportunity["Loss_Reason__c"] is None
    moved = by_id[opp_moved]
    assert moved["SystemModstamp"] < "2026-01-01"  # in only through its Opportunity
    assert moved["ConvertedOpportunity"]["SystemModstamp"] == "2026-01-01T04:00:00.000+0000"
    assert (moved["ConvertedOpportunity"]["IsWon"], moved["ConvertedOpportunity"]["Loss_Reason__c"]) == \
        (False, "Price")


def test_last_modified_by_is_the_session_user_for_api_writes_and_sales_for_control_writes(org) -> None:
    emulator, sf, clock = org
    clock.at(days=5)
    lead = _lead(sf, "100")
    assert emulator.get("Lead", lead)["LastModifiedById"] == emulator.default_user_id
    emulator.update("Lead", lead, {"Status": "Working - Contacted"})
    assert emulator.get("Lead", lead)["LastModifiedById"] == emulator.sales_user_id
    emulator.update("Lead", lead, {"Title": "CTO"}, as_user="rep@syncd.example")
    rep = emulator.get("Lead", lead)["LastModifiedById"]
    assert rep not in (emulator.default_user_id, emulator.sales_user_id)
    assert emulator.find("User", Username="rep@syncd.example")[0]["Id"] == rep
    converted = emulator.convert_lead(lead, opportunity={"StageName": "Prospecting"})
    assert emulator.get("Lead", lead)["LastModifiedById"] == emulator.sales_user_id
    assert emulator.get("Opportunity", converted["opportunity_id"])["CreatedById"] == emulator.sales_user_id
