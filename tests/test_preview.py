"""`syncd preview` and `run --once --dry-run`: what they print is what the real run then writes,
field for field, and they write nothing (the emulators' request logs prove it)."""

from __future__ import annotations

import json

import pytest

from syncd.core.errors import ExitCode
from syncd.plan.preview import same
from tests.conftest import qualified

HUBSPOT_READS = ("/search", "/batch/read")


def write_calls(syncd) -> tuple[int, int]:
    """(HubSpot, Salesforce) requests that could change data: anything but GETs, searches, batch
    reads and the OAuth login."""
    hubspot = sum(1 for e in syncd.hubspot.requests.entries()
                  if e.method != "GET" and not e.path.endswith(HUBSPOT_READS))
    salesforce = sum(1 for e in syncd.salesforce.requests.entries()
                     if e.method != "GET" and "/oauth2/" not in e.path)
    return hubspot, salesforce


def six_contacts(syncd) -> dict[str, str]:
    """A new contact, a changed linked one, an unchanged one, a converted Lead's Contact, one whose
    email matches a Lead typed into Salesforce, and one that does not qualify."""
    first = syncd.hubspot.create_contacts(qualified(3))
    assert syncd.run().counts["created"] == 3
    changed, unchanged, converted = first
    syncd.hubspot.update_contact(changed, {"pain_points": "budget approved", "company": "Renamed Ltd"})
    lead_id = syncd.leads_by_hubspot_id()[converted]["Id"]
    syncd.salesforce.convert_lead(lead_id)
    syncd.hubspot.update_contact(converted, {"pain_points": "now a customer"})
    syncd.salesforce.insert("Lead", {"LastName": "Typed In", "Company": "Acme", "Email": "lead11@example.com"})
    new, matched = syncd.hubspot.create_contacts(qualified(1, start=10) + qualified(1, start=11))
    [cold] = syncd.hubspot.create_contacts(qualified(1, start=12, lifecyclestage="subscriber"))
    return {"new": new, "changed": changed, "unchanged": unchanged, "converted": converted,
            "matched": matched, "not_qualified": cold}


def printed(capsys) -> list[dict]:
    """The dry run's records among the JSON lines on stdout (the log lines share it)."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") in ("plan.write", "plan.skip")]


def record_of(syncd, decision: dict) -> dict:
    if decision["sobject"] == "Contact":
        return syncd.salesforce.get("Contact", decision["target_id"])
    return syncd.leads_by_hubspot_id()[decision["hubspot_id"]]


def test_dry_run_for_chosen_contacts_lists_what_the_real_run_writes_field_for_field(syncd, capsys):
    ids = six_contacts(syncd)
    before = write_calls(syncd)
    capsys.readouterr()
    code = syncd.cli("run", "--once", "--dry-run", *(f"--contact={i}" for i in ids.values()))
    assert code == ExitCode.OK and write_calls(syncd) == before
    shown = {d["hubspot_id"]: d for d in printed(capsys)}
    assert {name: (shown[i]["action"], shown[i].get("how") or shown[i].get("reason")) for name, i in ids.items()} == {
        "new": ("create", "by external id"),
        "changed": ("update", "by Id (linked)"),
        "unchanged": ("skip", "unchanged"),
        "converted": ("update_contact", "by Id (the converted Lead's Contact)"),
        "matched": ("update", "by Id (matched by email)"),
        "not_qualified": ("skip", "not_qualified"),
    }
    assert "lifecyclestage" in shown[ids["not_qualified"]]["detail"]
    assert set(shown[ids["changed"]]["changes"]) == {"Company", "Pain_Points__c", "Description"}
    assert shown[ids["changed"]]["changes"]["Company"] == {"old": "Company 0", "new": "Renamed Ltd"}
    assert shown[ids["converted"]]["changes"]["Pain_Points__c"]["new"] == "now a customer"
    assert shown[ids["matched"]]["changes"]["LastName"] == {"old": "Typed In", "new": "Last11"}

    result = syncd.run()
    assert (result.counts["created"], result.counts["updated"], result.counts["contact_updates"],
            result.counts["linked_by_email"]) == (1, 2, 1, 1)
    for decision in shown.values():
        if decision["action"] in ("skip", "reject"):
            continue
        record = record_of(syncd, decision)
        if decision["target_id"]:
            assert record["Id"] == decision["target_id"]
        for name, change in decision["changes"].items():
            assert same(record.get(name), change["new"]), (decision["hubspot_id"], name, record.get(name), change)
    assert ids["not_qualified"] not in syncd.leads_by_hubspot_id()


def test_dry_run_over_the_window_agrees_with_the_real_runs_writes_and_counts(syncd, capsys):
    ids = six_contacts(syncd)
    assert syncd.cli("setup", "hubspot") == ExitCode.OK          # the back leg's properties, so it runs too
    before = write_calls(syncd)
    capsys.readouterr()
    assert syncd.cli("run", "--once", "--dry-run") == ExitCode.OK and write_calls(syncd) == before
    shown = {d["hubspot_id"]: d for d in printed(capsys)}
    writes = {i: d for i, d in shown.items() if d["event"] == "plan.write"}
    assert {i: d["action"] for i, d in writes.items()} == {
        ids["new"]: "create", ids["changed"]: "update", ids["converted"]: "update_contact", ids["matched"]: "update"}
    assert ids["not_qualified"] not in shown         # HubSpot's search leaves it out, as in the real run
    leads_before = syncd.leads_by_hubspot_id()
    result = syncd.run()
    actions = [d["action"] for d in writes.values()]
    assert (result.counts["created"], result.counts["updated"], result.counts["contact_updates"]) == \
        (actions.count("create"), actions.count("update"), actions.count("update_contact"))
    for decision in writes.values():
        record = record_of(syncd, decision)
        for name, change in decision["changes"].items():
            assert same(record.get(name), change["new"]), (name, record.get(name), change)
        old = leads_before.get(decision["hubspot_id"]) if decision["sobject"] == "Lead" else None
        for name in set(old or {}) & set(record) - set(decision["changes"]) - {"LastModifiedDate", "SystemModstamp"}:
            assert same(old[name], record[name]), f"{name} changed but the dry run did not list it"


def test_preview_by_email_and_id_reads_only_and_says_why_a_contact_is_skipped(syncd, capsys):
    ids = six_contacts(syncd)
    before = write_calls(syncd)
    capsys.readouterr()
    assert syncd.cli("preview", "lead11@example.com", ids["not_qualified"], "--format", "json",
                     "--unchanged") == ExitCode.OK
    out = capsys.readouterr().out
    shown = json.loads(out[out.index('{\n'):])
    assert write_calls(syncd) == before and shown["not_found"] == []
    records = {d["hubspot_id"]: d for d in shown["records"]}
    matched, cold = records[ids["matched"]], records[ids["not_qualified"]]
    assert (matched["hubspot_id"], matched["action"], matched["how"]) == \
        (ids["matched"], "update", "by Id (matched by email)")
    typed_in = syncd.salesforce.find_ids("Lead", "Email", "lead11@example.com")
    assert matched["target_id"] == typed_in[0] and "Email" in matched["unchanged"]
    assert (cold["action"], cold["reason"]) == ("skip", "not_qualified")
    assert cold["detail"].startswith("lifecyclestage ") and cold["detail"].endswith("(it is 'subscriber')")
    syncd.run()
    lead = syncd.salesforce.get("Lead", matched["target_id"])
    for name, change in matched["changes"].items():
        assert same(lead.get(name), change["new"]), name


def test_preview_table_shows_old_and_new_values_in_full(syncd, capsys):
    long_pain = "the handoff from marketing to sales loses context every single time it happens"
    [contact] = syncd.hubspot.create_contacts(qualified(1))
    syncd.run()
    syncd.hubspot.update_contact(contact, {"pain_points": long_pain})
    capsys.readouterr()
    assert syncd.cli("preview", contact, "--format", "table") == ExitCode.OK
    words = capsys.readouterr().out.replace("│", " ").split()
    # Off a terminal the table is 80 columns wide: cells fold across lines, but nothing is cut.
    for word in ["update", "Lead", "(linked)", "Pain_Points__c", "slow", "handoff", *long_pain.split()]:
        assert word in words


def test_preview_of_an_unknown_contact_exits_2_and_limit_cuts_the_list(syncd, capsys):
    syncd.hubspot.create_contacts(qualified(3))
    assert syncd.cli("preview", "nobody@example.com", "--format", "json") == ExitCode.USAGE
    out = capsys.readouterr().out
    assert json.loads(out[out.index('{\n'):])["not_found"] == ["nobody@example.com"]
    assert syncd.cli("run", "--once", "--dry-run", "--limit", "2") == ExitCode.OK
    assert [d["action"] for d in printed(capsys)] == ["create", "create"]
    assert syncd.cli("run", "--once", "--contact", "1") == ExitCode.USAGE
    assert syncd.salesforce_writes() == 0


def test_the_dry_runs_current_values_take_one_query_per_200_leads_not_one_per_record(syncd):
    from syncd import app
    from syncd.app.connectors import Connectors
    from syncd.app.preview import dry_run_decisions

    ids = syncd.hubspot.create_contacts(qualified(201))
    assert syncd.run().counts["created"] == 201
    for contact in ids:
        syncd.hubspot.update_contact(contact, {"pain_points": "renewal"})
    result = syncd.run(dry_run=True)
    queries = syncd.salesforce.requests.count(method="GET", path_contains="/query")
    loaded = app.load(syncd.stack.config_path, env={})
    connectors = Connectors.build(loaded)
    try:
        decisions = dry_run_decisions(loaded, result, connectors)
    finally:
        connectors.close()
    assert syncd.salesforce.requests.count(method="GET", path_contains="/query") - queries == 2
    assert [d.action for d in decisions] == ["update"] * 201
    assert {c.field for d in decisions for c in d.changes} == {"Pain_Points__c", "Description"}
    assert syncd.salesforce_writes() == 1 * 2       # the first run's two calls of 200 and 1; none since


@pytest.mark.parametrize(("old", "new", "equal"), [
    (None, "", True), ("", None, True), (None, "x", False), (10.0, 10, True), ("10", 10, True),
    (True, "true", True), (False, True, False), ("Acme", "acme", False), ("a", "a", True),
], ids=["none-empty", "empty-none", "none-text", "float-int", "text-number", "bool-text", "bools",
        "case-matters", "same-text"])
def test_a_value_is_unchanged_only_when_salesforce_holds_the_same(old, new, equal):
    assert same(old, new) is equal


def test_preview_of_a_contact_whose_lead_was_deleted_says_the_run_will_follow_it(syncd, capsys):
    [contact] = syncd.hubspot.create_contacts(qualified(1))
    syncd.run()
    lead_id = syncd.leads_by_hubspot_id()[contact]["Id"]
    syncd.salesforce.delete("Lead", lead_id)
    syncd.hubspot.update_contact(contact, {"pain_points": "came back"})
    capsys.readouterr()
    assert syncd.cli("preview", contact, "--format", "json") == ExitCode.OK
    out = capsys.readouterr().out
    [record] = json.loads(out[out.index('{\n'):])["records"]
    assert (record["action"], record["target_id"]) == ("update", lead_id)
    assert record["how"] == ("by Id (linked); not in Salesforce now: the run follows its merge, "
                             "or applies deleted_lead")
    assert syncd.salesforce_writes() == 1                      # the first run's only


def test_a_dry_run_logs_in_once_for_its_cycle_and_its_list(syncd):
    """The list's current values are read through the run's own connectors: one login."""
    syncd.hubspot.create_contacts(qualified(2))
    assert syncd.cli("run", "--once", "--dry-run") == 0
    assert syncd.salesforce.requests.count(path_contains="/oauth2/token") == 1
    assert syncd.salesforce_writes() == 0
