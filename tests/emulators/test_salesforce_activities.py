"""Tasks, Events and Lead field history in the Salesforce emulator, through the real SDK: Tasks and
Events are created over REST (sObject Collections) on a Lead or a Contact (``WhoId`` is
polymorphic, filtered with ``Who.Type``), ``TaskSubtype`` is set on create only, and a Lead's Status
change writes a read-only ``LeadHistory`` row at the write's time, by its user. A Task or Event
deleted over REST goes to the recycle bin (``IsDeleted``, ``SystemModstamp`` moved): ``queryAll``
sees it, ``query`` does not, and an undelete brings it back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from emulators.salesforce import SalesforceEmulator
from emulators.salesforce.errors import SalesforceEmulatorError
from emulators.salesforce.recycle_bin import undelete
from tests.salesforce_org import ServedOrg, served_org

UTC = dt.timezone.utc
START = dt.datetime(2026, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SalesforceEmulator, Salesforce, Clock, ServedOrg]]:
    clock = Clock()
    with served_org(tmp_path_factory.mktemp("activities-tls"), clock) as served:
        yield served.emulator, served.sf, clock, served


def _create(sf: Salesforce, *records: dict) -> list[dict]:
    return sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": list(records)})


def test_tasks_and_events_are_created_over_collections_and_only_lead_calls_and_emails_match_who_type(org) -> None:
    emulator, sf, clock, _ = org
    lead = emulator.insert("Lead", {"LastName": "Ada", "Company": "Acme"})
    contact = emulator.insert("Contact", {"LastName": "Bob"})
    answers = _create(
        sf,
        {"attributes": {"type": "Task"}, "WhoId": lead, "Subject": "Call", "TaskSubtype": "Call"},
        {"attributes": {"type": "Task"}, "WhoId": lead, "Subject": "Email", "TaskSubtype": "Email"},
        {"attributes": {"type": "Task"}, "WhoId": lead, "Subject": "Prepare a quote"},
        {"attributes": {"type": "Task"}, "WhoId": contact, "Subject": "Call", "TaskSubtype": "Call"},
        {"attributes": {"type": "Event"}, "WhoId": lead, "Subject": "Demo",
         "StartDateTime": "2026-03-02T10:00:00Z", "EndDateTime": "2026-03-02T11:00:00Z"},
        {"attributes": {"type": "Task"}, "WhoId": lead, "TaskSubtype": "Meeting"})
    assert [a["success"] for a in answers] == [True, True, True, True, True, False]
    assert answers[5]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    call, email, plain, on_contact, event = (a["id"] for a in answers[:5])
    assert (call[:3], event[:3]) == ("00T", "00U")
    assert emulator.get("Task", plain)["TaskSubtype"] == "Task"          # no subtype given: a plain task
    rows = sf.query("SELECT Id, WhoId, OwnerId, TaskSubtype, CreatedDate FROM Task WHERE Who.Type = 'Lead' "
                    "AND TaskSubtype IN ('Call','Email') AND SystemModstamp >= 2026-03-01T00:00:00Z "
                    "ORDER BY SystemModstamp, Id")["records"]
    assert [(r["Id"], r["WhoId"], r["TaskSubtype"]) for r in rows] == [(call, lead, "Call"), (email, lead, "Email")]
    assert rows[0]["CreatedDate"] == "2026-03-01T00:00:00.000+0000" and rows[0]["OwnerId"].startswith("005")
    assert on_contact not in {r["Id"] for r in rows}
    events = sf.query("SELECT Id, Who.Type FROM Event WHERE Who.Type = 'Lead'")["records"]
    assert [(r["Id"], r["Who"]["Type"]) for r in events] == [(event, "Lead")]
    with pytest.raises(SalesforceMalformedRequest) as refused:          # TaskSubtype: set on create only
        sf.Task.update(call, {"TaskSubtype": "Email"})
    assert refused.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_a_lead_status_change_writes_one_read_only_history_row_at_the_writes_time(org) -> None:
    emulator, sf, clock, _ = org
    lead = emulator.insert("Lead", {"LastName": "Cy", "Company": "Acme"})
    clock.now = START + dt.timedelta(hours=2)
    sf.Lead.update(lead, {"Status": "Working - Contacted"})
    sf.Lead.update(lead, {"Title": "CTO"})                              # not a tracked field: no row
    rows = sf.query(f"SELECT Id, LeadId, Field, OldValue, NewValue, CreatedDate, CreatedById FROM LeadHistory "
                    f"WHERE Field = 'Status' AND LeadId = '{lead}'")["records"]
    assert [(r["LeadId"], r["Field"], r["OldValue"], r["NewValue"], r["CreatedDate"]) for r in rows] == [
        (lead, "Status", "Open - Not Contacted", "Working - Contacted", "2026-03-01T02:00:00.000+0000")]
    assert rows[0]["CreatedById"] == emulator.default_user_id            # the session's user made the change
    answers = _create(sf, {"attributes": {"type": "LeadHistory"}, "LeadId": lead, "Field": "Status"})
    assert answers[0]["errors"][0]["statusCode"] == "INVALID_TYPE_FOR_OPERATION"
    clock.now = START


def test_the_control_api_seeds_a_task_at_a_given_created_date(org) -> None:
    emulator, sf, _, served = org
    lead = emulator.insert("Lead", {"LastName": "Di", "Company": "Acme"})
    answer = served.http.post(f"{served.server.url}/__emulator/sobjects/Task", json={
        "WhoId": lead, "TaskSubtype": "Call", "CreatedDate": "2026-02-27T09:30:00Z", "validate": False})
    assert answer.status_code == 201
    row = sf.query(f"SELECT CreatedDate, TaskSubtype FROM Task WHERE Id = '{answer.json()['id']}'")["records"][0]
    assert (row["CreatedDate"], row["TaskSubtype"]) == ("2026-02-27T09:30:00.000+0000", "Call")


def test_a_task_or_event_deleted_over_rest_goes_to_the_recycle_bin_seen_by_query_all_only(org) -> None:
    emulator, sf, clock, _ = org
    lead = emulator.insert("Lead", {"LastName": "Eve", "Company": "Acme"})
    clock.now = START + dt.timedelta(hours=3)
    call, demo = (a["id"] for a in _create(
        sf, {"attributes": {"type": "Task"}, "WhoId": lead, "Subject": "Call", "TaskSubtype": "Call"},
        {"attributes": {"type": "Event"}, "WhoId": lead, "Subject": "Demo",
         "StartDateTime": "2026-03-02T10:00:00Z", "EndDateTime": "2026-03-02T11:00:00Z"}))
    clock.now = START + dt.timedelta(hours=4)
    assert sf.Task.delete(call) == 204 and sf.Event.delete(demo) == 204     # logged by mistake
    soql = (f"SELECT Id, IsDeleted, SystemModstamp, CreatedDate FROM {{kind}} WHERE Who.Type = 'Lead' "
            f"AND WhoId = '{lead}' AND SystemModstamp >= 2026-03-01T04:00:00Z")
    for kind, rid in (("Task", call), ("Event", demo)):
        assert sf.query(soql.format(kind=kind))["records"] == []             # query: live records only
        [row] = sf.query_all(soql.format(kind=kind), include_deleted=True)["records"]
        assert (row["Id"], row["IsDeleted"]) == (rid, True)
        assert (row["SystemModstamp"], row["CreatedDate"]) == ("2026-03-01T04:00:00.000+0000",
                                                               "2026-03-01T03:00:00.000+0000")
        assert emulator.get(kind, rid) is None
    with pytest.raises(SalesforceResourceNotFound):                           # deleted: not again
        sf.Task.delete(call)
    # Restored from the recycle bin (SOAP/Apex undelete, the UI): live again, SystemModstamp moved.
    clock.now = START + dt.timedelta(hours=5)
    with emulator.lock:
        undelete(emulator.store, "Task", call)
        with pytest.raises(SalesforceEmulatorError):                          # not in the recycle bin
            undelete(emulator.store, "Task", call)
    [row] = sf.query(soql.format(kind="Task"))["records"]
    assert (row["Id"], row["IsDeleted"], row["SystemModstamp"]) == (call, False, "2026-03-01T05:00:00.000+0000")
    clock.now = START
