"""`syncd preview` and `run --once --dry-run`: what they print is what the real run then writes,
field for field, and they write nothing (the emulators' request logs prove it)."""

from __future__ import annotations

import json

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
