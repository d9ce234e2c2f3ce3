"""Rejected records you can act on (issue #9, acceptance 4): `syncd rejected list|retry|clear`, and
rejections that clear themselves once their record lands or is unchanged, on both legs, against
the emulators."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from mappings import __file__ as mappings_init
from state.lease import holding
from state.rejections import RejectedRecord
from syncd.cli.rejected import field_of
from syncd.core.errors import ExitCode
from tests.conftest import Syncd, qualified
from tests.feedback_helpers import (
    PIPELINE,
    clock,
    cycle,
    lock_contact_once,
    props,
    ready,
    syncd,
)

BUNDLED = Path(mappings_init).parent / "hubspot-to-salesforce.yaml"
DETAIL = "template: \"{{ [hs_analytics_source_data_1, hs_analytics_source_data_2] | select | join(' / ') }}\""


def listed(syncd: Syncd, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    capsys.readouterr()
    assert syncd.cli("rejected", "list", "--format", "json", *args) == ExitCode.OK
    return json.loads(capsys.readouterr().out)


def widen(syncd: Syncd, sobject: str, name: str, length: int) -> None:
    """An admin makes a Salesforce field longer (the fix is in Salesforce, not in the data)."""
    fd = syncd.salesforce.schema.get(sobject).field(name)
    syncd.salesforce.add_field(sobject, dataclasses.replace(fd, length=length))


def test_a_refused_record_is_listed_with_its_code_and_field_and_retry_lands_it_after_the_fix(syncd, capsys):
    contacts = qualified(3)
    contacts[1]["company"] = "C" * 300                  # Lead.Company holds 255 characters
    ids = syncd.hubspot.create_contacts(contacts)
    assert syncd.run().exit_code == ExitCode.RECORDS_REJECTED
    (row,) = listed(syncd, capsys)
    assert (row["leg"], row["hubspot_id"], row["field"], row["code"], row["attempts"]) == (
        "forward", ids[1], "Company", "STRING_TOO_LONG", 1)
    assert "max length=255" in row["message"] and row["name"] is None     # no HubSpot call without --details
    assert syncd.run().counts["still_rejected"] == 1      # the same payload is not sent again by a cycle
    widen(syncd, "Lead", "Company", 400)
    cursors_before = {c.name: c.value for c in syncd.store().cursors(PIPELINE)}
    searches, writes = syncd.hubspot.requests.count(path_contains="/search"), syncd.salesforce_writes()
    capsys.readouterr()
    assert syncd.cli("rejected", "retry", ids[1]) == ExitCode.OK
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["landed"] == [{"leg": "forward", "hubspot_id": ids[1]}] and out["still_refused"] == []
    assert syncd.leads_by_hubspot_id()[ids[1]]["Company"] == "C" * 300
    # Exactly that record: read by id (no search), one write call, and no cursor moved.
    assert syncd.hubspot.requests.count(path_contains="/search") == searches
    assert syncd.salesforce_writes() == writes + 1
    assert {c.name: c.value for c in syncd.store().cursors(PIPELINE)} == cursors_before
    assert listed(syncd, capsys) == []
    assert syncd.run().counts["unchanged"] == 3


def test_a_retry_still_refused_exits_3_and_a_dry_run_writes_nothing(syncd, capsys):
    contacts = qualified(2)
    contacts[0]["company"] = "C" * 300
    ids = syncd.hubspot.create_contacts(contacts)
    syncd.run()
    writes = syncd.salesforce_writes()
    assert syncd.cli("rejected", "retry", "--all", "--dry-run") == ExitCode.OK
    assert syncd.salesforce_writes() == writes
    capsys.readouterr()
    assert syncd.cli("rejected", "retry", "--all", "--code", "STRING_TOO_LONG") == ExitCode.RECORDS_REJECTED
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert [(r["hubspot_id"], r["field"], r["code"]) for r in out["still_refused"]] == [
        (ids[0], "Company", "STRING_TOO_LONG")]
    assert syncd.salesforce_writes() == writes + 1        # sent again, refused again
    (row,) = listed(syncd, capsys)
    assert row["attempts"] == 2
    assert syncd.cli("rejected", "retry") == ExitCode.USAGE      # neither ids nor --all


def test_retry_takes_the_pipelines_lease_and_exits_6_while_another_syncer_holds_it(syncd):
    contacts = qualified(1)
    contacts[0]["company"] = "C" * 300
    syncd.hubspot.create_contacts(contacts)
    syncd.run()
    store = syncd.store()
    try:
        with holding(store, PIPELINE, "daemon"):
            assert syncd.cli("rejected", "retry", "--all") == ExitCode.LOCKED
    finally:
        store.close()


def test_the_issues_finding_a_fixed_template_clears_its_rejections_without_a_retry(syncd, tmp_path, capsys):
    """Break a template, run --full (all rejected), restore the mapping, run again: every
    rejection is gone, and one whose contact then changes lands and clears as well."""
    ids = syncd.hubspot.create_contacts(qualified(5))
    assert syncd.run().counts["created"] == 5
    text = BUNDLED.read_text()
    assert DETAIL in text
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace(DETAIL, 'template: "{{ hs_analytics_source_data_1 / 2 }}"'))
    syncd.write_config(mapping=broken)
    assert syncd.run(full=True).counts["rejected"] == 5
    rows = listed(syncd, capsys, "--code", "SYNCD_TEMPLATE_ERROR")
    assert sorted(r["hubspot_id"] for r in rows) == sorted(ids)
    assert {r["field"] for r in rows} == {"HubSpot_Source_Detail__c"}
    syncd.write_config(mapping=BUNDLED)
    again = syncd.run()
    assert again.counts["unchanged"] == 5 and again.counts["rejected"] == 0
    assert listed(syncd, capsys) == []
    # A record that lands clears its rejection too, with no retry.
    syncd.write_config(mapping=broken)
    syncd.run(full=True)
    syncd.write_config(mapping=BUNDLED)
    syncd.hubspot.update_contact(ids[0], {"company": "Renamed Ltd"})
    landed = syncd.run()
    assert landed.counts["updated"] == 1 and listed(syncd, capsys) == []


def test_back_leg_refusals_are_listed_retried_and_cleared(ready, capsys):
    sf = ready.salesforce
    ids = ready.hubspot.create_contacts(qualified(3))
    assert cycle(ready).forward.counts["created"] == 3
    leads = ready.leads_by_hubspot_id()
    sf.update("Lead", leads[ids[0]]["Id"], {"Status": "Working - Contacted"})
    ready.hubspot.archive_contact(ids[0])               # refused for good: OBJECT_NOT_FOUND
    assert cycle(ready).back.exit_code == ExitCode.RECORDS_REJECTED
    sf.update("Lead", leads[ids[1]]["Id"], {"Status": "Working - Contacted"})
    lock_contact_once(ready, ids[1])                    # refused for a passing reason: LOCKED
    assert cycle(ready).back.exit_code == ExitCode.RECORDS_REJECTED
    rows = listed(ready, capsys, "--leg", "back")
    assert sorted((r["leg"], r["hubspot_id"], r["code"]) for r in rows) == sorted(
        [("back", ids[0], "OBJECT_NOT_FOUND"), ("back", ids[1], "LOCKED")])
    assert listed(ready, capsys, "--leg", "forward") == []
    assert [r["hubspot_id"] for r in listed(ready, capsys, "--code", "LOCKED")] == [ids[1]]
    capsys.readouterr()
    assert ready.cli("rejected", "retry", "--all") == ExitCode.RECORDS_REJECTED
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["landed"] == [{"leg": "back", "hubspot_id": ids[1]}]
    assert [(r["hubspot_id"], r["code"]) for r in out["still_refused"]] == [(ids[0], "OBJECT_NOT_FOUND")]
    assert props(ready, ids[1])["syncd_outcome"] == "contacted"
    capsys.readouterr()
    assert ready.cli("rejected", "clear", ids[0]) == ExitCode.OK
    (event,) = [e for e in map(json.loads, capsys.readouterr().out.splitlines()) if e["event"] == "rejected.cleared"]
    assert (event["leg"], event["hubspot_ids"], event["codes"]) == ("back", [ids[0]], ["OBJECT_NOT_FOUND"])
    assert listed(ready, capsys) == []


def test_a_back_leg_refusal_clears_itself_once_its_outcome_lands(ready, capsys):
    ids = ready.hubspot.create_contacts(qualified(2))
    cycle(ready)
    ready.salesforce.update("Lead", ready.leads_by_hubspot_id()[ids[0]]["Id"], {"Status": "Working - Contacted"})
    lock_contact_once(ready, ids[0])
    assert cycle(ready).back.counts["rejected"] == 1
    assert [r["code"] for r in listed(ready, capsys)] == ["LOCKED"]
    assert cycle(ready).back.counts["updated"] == 1
    assert listed(ready, capsys) == []


def test_details_name_each_contact_from_one_batch_read_and_csv_has_every_column(syncd, capsys):
    contacts = qualified(2)
    contacts[1]["company"] = "C" * 300
    ids = syncd.hubspot.create_contacts(contacts)
    syncd.run()
    reads = syncd.hubspot.requests.count(path_contains="/batch/read")
    (row,) = listed(syncd, capsys, "--details")
    assert (row["name"], row["email"]) == ("First1 Last1", "lead1@example.com")
    assert syncd.hubspot.requests.count(path_contains="/batch/read") == reads + 1
    capsys.readouterr()
    assert syncd.cli("rejected", "list", "--format", "csv") == ExitCode.OK
    header, line = capsys.readouterr().out.splitlines()
    assert header == ("leg,hubspot_id,name,email,field,code,message,retryable,attempts,first_seen_at,last_seen_at")
    assert line.startswith(f"forward,{ids[1]},,,Company,STRING_TOO_LONG,")


NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(("code", "message", "field"), [
    ("STRING_TOO_LONG", "Last Name: data value too large: LLL (max length=80) (fields: LastName)", "LastName"),
    ("SYNCD_TEMPLATE_ERROR", "HubSpot_Source_Detail__c: unsupported operand type(s)", "HubSpot_Source_Detail__c"),
    ("INVALID_VALUE", "syncd_amount (from Amount): 'x' is not a number", "syncd_amount"),
    ("INVALID_OPTION", "bogus was not one of the allowed options (property: syncd_outcome)", "syncd_outcome"),
    ("OBJECT_NOT_FOUND", "HubSpot contact 1 no longer exists: deleted or merged", None),
    ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", None),
], ids=["salesforce-fields", "template", "feedback-value", "hubspot-property", "nothing-named", "no-field"])
def test_the_field_is_the_one_the_error_names(code, message, field):
    assert field_of(RejectedRecord("forward", "1", code, message, False, 1, NOW, NOW)) == field


def test_a_contact_no_longer_handed_over_clears_its_rejection_on_retry(syncd, capsys):
    contacts = qualified(1)
    contacts[0]["company"] = "C" * 300
    (hubspot_id,) = syncd.hubspot.create_contacts(contacts)
    syncd.run()
    syncd.hubspot.update_contact(hubspot_id, {"lifecyclestage": "subscriber"})    # Marketing took it back
    writes = syncd.salesforce_writes()
    assert syncd.cli("rejected", "retry", hubspot_id) == ExitCode.OK
    assert syncd.salesforce_writes() == writes and listed(syncd, capsys) == []


def test_on_a_terminal_the_list_is_a_table_with_the_field_and_code():
    from rich.console import Console

    from syncd.cli import console

    rows = [{"leg": "forward", "hubspot_id": "101", "field": "LastName", "code": "STRING_TOO_LONG",
             "message": "Last Name: data value too large", "attempts": 2, "first_seen_at": "2026-01-01T00:00:00+00:00",
             "last_seen_at": "2026-01-02T00:00:00+00:00"}]
    screen = Console(record=True, width=200)
    screen.print(console.rejected_table(rows, details=False))
    text = screen.export_text()
    assert all(value in text for value in ("101", "LastName", "STRING_TOO_LONG", "Last Name: data value too large",
                                           "2026-01-02T00:00:00+00:00"))
    assert "email" not in text
