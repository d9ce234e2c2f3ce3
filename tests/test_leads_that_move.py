"""Records that move in Salesforce (issue #8, acceptance 5), forward leg: a Lead deleted or merged
away since syncd wrote it. HubSpot emulator -> syncd (real SDKs) -> Salesforce emulator.

A known Lead is written by Id, so Salesforce refuses the write (ENTITY_IS_DELETED) instead of an
upsert quietly creating a duplicate; syncd then reads where the Lead went (queryAll) and follows
the merge, holds, unlinks or re-creates, as the README's "Records that move" says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from syncd.core.errors import ExitCode
from tests.conftest import Syncd, qualified

EXTERNAL_ID = "HubSpot_Contact_Id__c"


def recreate_mapping(syncd: Syncd, tmp_path: Path) -> None:
    from mappings import __file__ as mappings_init

    text = (Path(mappings_init).parent / "hubspot-to-salesforce.yaml").read_text()
    custom = tmp_path / "recreate.yaml"
    assert "  deleted_lead:\n    action: unlink\n" in text
    custom.write_text(text.replace("  deleted_lead:\n    action: unlink\n", "  deleted_lead:\n    action: recreate\n"))
    syncd.write_config(mapping=custom)


def link_row(syncd: Syncd, hubspot_id: str):
    store = syncd.store()
    try:
        rows = [row for row in store.all_links("hubspot-to-salesforce") if row.hubspot_id == hubspot_id]
    finally:
        store.close()
    assert len(rows) == 1
    return rows[0]


def leads_of(syncd: Syncd, hubspot_id: str, *, deleted: bool) -> list[str]:
    return [lead["Id"] for lead in syncd.salesforce.all("Lead", include_deleted=True)
            if lead[EXTERNAL_ID] == hubspot_id and lead["IsDeleted"] == deleted]


def events(logs: list[dict], name: str) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in ("event", "log_level")} for e in logs if e["event"] == name]


def edit_and_run(syncd: Syncd, *ids: str, value: str = "changed"):
    for contact_id in ids:
        syncd.hubspot.update_contact(contact_id, {"pain_points": value})
    with capture_logs() as logs:
        result = syncd.run()
    assert result.exit_code == ExitCode.OK, result
    return result, logs


def test_a_known_lead_is_written_by_id_in_its_own_call_beside_the_upserts_of_new_contacts(syncd):
    ids = syncd.hubspot.create_contacts(qualified(2))
    syncd.run()
    syncd.hubspot.create_contacts(qualified(1, start=2))
    syncd.salesforce.requests.clear()
    result, _ = edit_and_run(syncd, ids[0])
    assert (result.counts["created"], result.counts["updated"]) == (1, 1)
    writes = [e.path for e in syncd.salesforce.requests.entries() if e.method == "PATCH"]
    assert sorted(writes) == ["/services/data/v62.0/composite/sobjects",
                              f"/services/data/v62.0/composite/sobjects/Lead/{EXTERNAL_ID}"]


def test_a_deleted_lead_is_unlinked_logged_and_never_re_created_by_default(syncd):
    ids = syncd.hubspot.create_contacts(qualified(2))
    syncd.run()
    gone = syncd.leads_by_hubspot_id()[ids[0]]["Id"]
    syncd.salesforce.delete("Lead", gone)
    result, logs = edit_and_run(syncd, *ids)
    assert (result.counts["leads_unlinked"], result.counts["updated"], result.counts["rejected"]) == (1, 1, 0)
    assert events(logs, "salesforce.lead_deleted") == [
        {"hubspot_id": ids[0], "former_lead_id": gone, "action": "unlink", "merge_chain": []}]
    row = link_row(syncd, ids[0])
    assert (row.lead_id, row.lead_moved, row.former_lead_id, row.payload_hash) == (None, "deleted", gone, None)
    assert leads_of(syncd, ids[0], deleted=False) == [] and leads_of(syncd, ids[0], deleted=True) == [gone]
    # Its next edit writes nothing and creates nothing: the contact stays unlinked.
    result, _ = edit_and_run(syncd, ids[0], value="changed again")
    assert (result.counts["skipped_unlinked"], result.counts["created"]) == (1, 0)
    assert leads_of(syncd, ids[0], deleted=False) == []


def test_a_deleted_lead_is_re_created_when_the_mapping_says_recreate(syncd, tmp_path):
    recreate_mapping(syncd, tmp_path)
    ids = syncd.hubspot.create_contacts(qualified(1))
    syncd.run()
    gone = syncd.leads_by_hubspot_id()[ids[0]]["Id"]
    syncd.salesforce.delete("Lead", gone)
    result, logs = edit_and_run(syncd, ids[0])
    (new,) = leads_of(syncd, ids[0], deleted=False)
    assert new != gone and leads_of(syncd, ids[0], deleted=True) == [gone]
    assert syncd.salesforce.get("Lead", new)["Pain_Points__c"] == "changed"
    assert (result.counts["leads_recreated"], result.counts["created"]) == (1, 1)
    assert events(logs, "salesforce.lead_recreated") == [{"hubspot_id": ids[0], "former_lead_id": gone,
                                                          "lead_id": new}]
    row = link_row(syncd, ids[0])
    assert (row.lead_id, row.lead_moved, row.former_lead_id) == (new, None, gone)


def test_a_merged_lead_is_followed_to_its_free_master_and_no_lead_is_re_created(syncd):
    ids = syncd.hubspot.create_contacts(qualified(1))
    syncd.run()
    loser = syncd.leads_by_hubspot_id()[ids[0]]["Id"]
    master = syncd.salesforce.insert("Lead", {"LastName": "Kept", "Company": "Acme", "Email": "kept@example.com"})
    syncd.salesforce.merge_leads(master, [loser])
    result, logs = edit_and_run(syncd, ids[0])
    assert (result.counts["leads_merged"], result.counts["created"], result.counts["updated"]) == (1, 0, 1)
    assert events(logs, "salesforce.lead_merged") == [{"hubspot_id": ids[0], "former_lead_id": loser,
                                                       "lead_id": master}]
    kept = syncd.salesforce.get("Lead", master)
    assert (kept[EXTERNAL_ID], kept["Pain_Points__c"]) == (ids[0], "changed")
    assert leads_of(syncd, ids[0], deleted=False) == [master]
    row = link_row(syncd, ids[0])
    assert (row.lead_id, row.lead_moved, row.former_lead_id, row.lead_unmarked) == (master, None, loser, False)
    # Later edits land on the master, by Id, with no second look-up.
    syncd.salesforce.requests.clear()
    result, _ = edit_and_run(syncd, ids[0], value="later")
    assert result.counts["updated"] == 1 and syncd.salesforce.get("Lead", master)["Pain_Points__c"] == "later"
    assert syncd.salesforce.requests.count(path_contains="/queryAll") == 0


def test_a_chain_of_merges_is_followed_to_the_last_master(syncd):
    ids = syncd.hubspot.create_contacts(qualified(1))
    syncd.run()
    first = syncd.leads_by_hubspot_id()[ids[0]]["Id"]
    middle = syncd.salesforce.insert("Lead", {"LastName": "Middle", "Company": "Acme"})
    last = syncd.salesforce.insert("Lead", {"LastName": "Last", "Company": "Acme"})
    syncd.salesforce.merge_leads(middle, [first])
    syncd.salesforce.merge_leads(last, [middle])
    result, logs = edit_and_run(syncd, ids[0])
    assert result.counts["leads_merged"] == 1
    assert events(logs, "salesforce.lead_merged")[0]["lead_id"] == last
    assert leads_of(syncd, ids[0], deleted=False) == [last]
    assert link_row(syncd, ids[0]).lead_id == last


def test_a_lead_merged_into_another_contacts_lead_is_held_and_the_master_keeps_its_owner(syncd, capsys):
    ids = syncd.hubspot.create_contacts(qualified(2))
    syncd.run()
    leads = syncd.leads_by_hubspot_id()
    master, loser = leads[ids[0]]["Id"], leads[ids[1]]["Id"]
    syncd.salesforce.merge_leads(master, [loser])
    result, logs = edit_and_run(syncd, ids[1], value="from the merged-away contact")
    assert (result.counts["leads_held"], result.counts["created"], result.counts["updated"]) == (1, 0, 0)
    (held,) = events(logs, "salesforce.lead_merge_held")
    assert (held["hubspot_id"], held["former_lead_id"], held["lead_id"], held["master_hubspot_id"]) == (
        ids[1], loser, master, ids[0])
    kept = syncd.salesforce.get("Lead", master)
    assert (kept[EXTERNAL_ID], kept["Pain_Points__c"]) != (ids[1], "from the merged-away contact")
    assert kept[EXTERNAL_ID] == ids[0]
    row = link_row(syncd, ids[1])
    assert (row.lead_id, row.lead_moved, row.former_lead_id) == (master, "held", loser)
    capsys.readouterr()
    assert syncd.cli("status", "--json") == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["moved_leads"] == {"held": 1}
    # Held: the contact's next edits write nothing anywhere.
    result, _ = edit_and_run(syncd, ids[1], value="again")
    assert (result.counts["skipped_held"], result.counts["updated"], result.counts["created"]) == (1, 0, 0)
    assert syncd.salesforce.get("Lead", master)[EXTERNAL_ID] == ids[0]
