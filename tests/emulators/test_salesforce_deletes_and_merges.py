"""Deleted and merged records in the Salesforce emulator, as a real org shows them: invisible to
``query``, visible to ``queryAll`` with ``IsDeleted`` and ``MasterRecordId``, refused per record
(``ENTITY_IS_DELETED``) by a write by Id, ignored by an upsert by external id; a merge (Apex/SOAP,
here the control API) keeps the master's values and deletes the losers pointing at it."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from emulators.salesforce import SalesforceEmulator, SalesforceEmulatorError
from emulators.server import EmulatorServer
from tests.salesforce_org import served_org

UTC = dt.timezone.utc
START = dt.datetime(2026, 3, 1, tzinfo=UTC)
UPSERT = "composite/sobjects/Lead/HubSpot_Contact_Id__c"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: float = 60) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SalesforceEmulator, EmulatorServer,
                                                                       Salesforce, requests.Session, Clock]]:
    clock = Clock()
    with served_org(tmp_path_factory.mktemp("moves-tls"), clock) as served:
        yield served.emulator, served.server, served.sf, served.http, clock


@pytest.fixture
def org(served) -> tuple[SalesforceEmulator, Salesforce, Clock]:
    emulator, _, sf, _, clock = served
    for lead in emulator.all("Lead", include_deleted=True):
        emulator.store.records["Lead"].pop(lead["Id"])
    emulator.store.index.clear()
    clock.now = START
    return emulator, sf, clock


def _lead(emulator: SalesforceEmulator, name: str, hubspot_id: str | None = None, **fields) -> str:
    return emulator.insert("Lead", {"LastName": name, "Company": "Acme", "Email": f"{name.lower()}@example.com",
                                    "HubSpot_Contact_Id__c": hubspot_id, **fields})


def test_a_deleted_lead_is_seen_only_by_queryall_with_isdeleted_and_a_moved_systemmodstamp(org) -> None:
    emulator, sf, clock = org
    gone = _lead(emulator, "Gone", "7")
    clock.tick()
    sf.Lead.delete(gone)
    assert sf.query(f"SELECT Id FROM Lead WHERE Id = '{gone}'")["records"] == []
    rows = sf.query_all("SELECT Id, IsDeleted, MasterRecordId, SystemModstamp FROM Lead WHERE IsDeleted = true",
                        include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"], r["MasterRecordId"]) for r in rows] == [(gone, True, None)]
    assert rows[0]["SystemModstamp"].startswith("2026-03-01T00:01:00")


def test_a_write_by_id_to_a_deleted_lead_is_refused_per_record_and_an_upsert_by_external_id_creates_anew(org) -> None:
    emulator, sf, _ = org
    gone, alive = _lead(emulator, "Gone", "7"), _lead(emulator, "Alive", "8")
    emulator.delete("Lead", gone)
    answers = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Lead"}, "Id": gone, "Title": "CTO"},
        {"attributes": {"type": "Lead"}, "Id": alive, "Title": "CEO"}]})
    assert answers[0] == {"id": gone, "success": False, "errors": [
        {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}
    assert answers[1]["success"] is True
    upserted = sf.restful(UPSERT, method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Lead"}, "HubSpot_Contact_Id__c": "7", "LastName": "Again", "Company": "Acme"}]})
    assert upserted[0]["created"] is True and upserted[0]["id"] != gone
    assert [lead["LastName"] for lead in emulator.all("Lead") if lead["HubSpot_Contact_Id__c"] == "7"] == ["Again"]


def test_a_merge_keeps_the_masters_values_and_deletes_the_losers_pointing_at_it(org, served) -> None:
    emulator, sf, clock = org
    _, server, _, http, _ = served
    master = _lead(emulator, "Master", None, Title="Head of Ops")
    loser = _lead(emulator, "Loser", "7", Title="CTO")
    clock.tick()
    answer = http.post(f"{server.url}/__emulator/leads/merge", json={"master": master, "losers": [loser]})
    assert answer.status_code == 200 and answer.json() == {"master": master, "merged": [loser]}
    assert [r["Id"] for r in sf.query("SELECT Id FROM Lead")["records"]] == [master]
    rows = sf.query_all("SELECT Id, IsDeleted, MasterRecordId, Title, HubSpot_Contact_Id__c, SystemModstamp "
                        "FROM Lead WHERE MasterRecordId != null", include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"], r["MasterRecordId"]) for r in rows] == [(loser, True, master)]
    kept = emulator.get("Lead", master)
    assert (kept["Title"], kept["HubSpot_Contact_Id__c"]) == ("Head of Ops", None)
    assert kept["SystemModstamp"].startswith("2026-03-01T00:01:00")


@pytest.mark.parametrize("case", ["converted master", "three losers", "deleted loser"])
def test_a_merge_salesforce_refuses_is_refused_and_changes_nothing(org, case: str) -> None:
    emulator, _, _ = org
    master, a, b, c = (_lead(emulator, name) for name in ("Master", "A", "B", "C"))
    losers = [a]
    if case == "converted master":
        emulator.convert_lead(master)
    elif case == "three losers":
        losers = [a, b, c]
    else:
        emulator.delete("Lead", a)
    before = emulator.all("Lead", include_deleted=True)
    with pytest.raises(SalesforceEmulatorError) as refused:
        emulator.merge_leads(master, losers)
    code = {"converted master": "CANNOT_UPDATE_CONVERTED_LEAD", "three losers": "INVALID_OPERATION",
            "deleted loser": "ENTITY_IS_DELETED"}[case]
    assert refused.value.errors[0]["statusCode"] == code
    assert emulator.all("Lead", include_deleted=True) == before


def test_a_converted_lead_merges_into_an_unconverted_master(org) -> None:
    emulator, _, _ = org
    master, converted = _lead(emulator, "Master"), _lead(emulator, "Converted", "7")
    emulator.convert_lead(converted)
    assert emulator.merge_leads(master, [converted]) == {"master": master, "merged": [converted]}


def test_a_deleted_opportunity_leaves_the_leads_id_and_reads_as_a_null_relationship(org) -> None:
    emulator, sf, _ = org
    lead = _lead(emulator, "Won", "7")
    opportunity = emulator.convert_lead(lead, opportunity={"StageName": "Closed Won"})["opportunity_id"]
    emulator.delete("Opportunity", opportunity)
    row = sf.query(f"SELECT ConvertedOpportunityId, ConvertedOpportunity.IsWon FROM Lead WHERE Id = '{lead}'")
    assert row["records"][0]["ConvertedOpportunityId"] == opportunity
    assert row["records"][0]["ConvertedOpportunity"] is None
    gone = sf.query_all("SELECT Id FROM Opportunity WHERE IsDeleted = true", include_deleted=True)["records"]
    assert [r["Id"] for r in gone] == [opportunity]
