"""HubSpot contacts that move (issue #8, acceptance 5): merged, archived, restored, GDPR-deleted.

End to end: HubSpot emulator -> syncd (real SDKs) -> Salesforce emulator and back. Each test
states one documented end state (README "Delivery guarantees", "Records that move"): the Leads
in Salesforce, the link and move rows in state, the events logged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select
from structlog.testing import capture_logs

from mappings import __file__ as mappings_init
from state.models import ContactMoveRow, OutcomeRow
from state.outcomes import OutcomeStore
from syncd.core.records import Move
from tests.conftest import Syncd, qualified
from tests.feedback_helpers import (  # noqa: F401 - clock, syncd and ready are fixtures
    PIPELINE,
    clock,
    cycle,
    props,
    ready,
    syncd,
)

EXT = "HubSpot_Contact_Id__c"
SUBSCRIBER = {"email": "sub@example.com", "firstname": "Sub", "lastname": "Scriber", "lifecyclestage": "subscriber"}


def configure(syncd: Syncd, tmp_path: Path, rule: str = "action: leave", *, scan_every_run: bool = True) -> None:
    """The bundled mapping with this archived_contact rule; the archived scan on every run."""
    text = (Path(mappings_init).parent / "hubspot-to-salesforce.yaml").read_text()
    custom = tmp_path / "moves.yaml"
    custom.write_text(text.replace("  archived_contact:\n    action: leave\n", f"  archived_contact: {{{rule}}}\n"))
    syncd.write_config(mapping=custom, extra="sync:\n  archived_scan_minutes: 0\n" if scan_every_run else "")


def state_of(syncd: Syncd) -> tuple[dict[str, str | None], dict[str, Move]]:
    """Links (contact -> Lead Id) and moves (contact -> what was done), as state holds them."""
    store = syncd.store()
    try:
        links = {row.hubspot_id: row.lead_id for row in store.all_links(PIPELINE)}
        with store.session() as session:
            moves = {row.hubspot_id: Move(row.hubspot_id, row.kind, row.action, row.lead_id, row.into)
                     for row in session.exec(select(ContactMoveRow).where(ContactMoveRow.pipeline == PIPELINE))}
        return links, moves
    finally:
        store.close()


def outcome_ids(syncd: Syncd) -> list[str]:
    store = syncd.store()
    try:
        with store.session() as session:
            return sorted(r.hubspot_id for r in session.exec(select(OutcomeRow).where(OutcomeRow.pipeline == PIPELINE)))
    finally:
        store.close()


def events(logs: list[dict], name: str) -> list[dict]:
    return [e for e in logs if e["event"] == name]


def handed_over_beside_a_subscriber(syncd: Syncd, tmp_path: Path) -> tuple[str, str, dict]:
    """One qualified contact handed over as a Lead, and a subscriber (never handed over) it can be
    merged with: (the handed-over id, the subscriber's id, the Lead)."""
    configure(syncd, tmp_path)
    (handed,) = syncd.hubspot.create_contacts(qualified(1))
    (subscriber,) = syncd.hubspot.create_contacts([SUBSCRIBER])
    cycle(syncd)
    return handed, subscriber, syncd.leads_by_hubspot_id()[handed]


# -- merges -------------------------------------------------------------------------------------
def test_a_merge_into_a_new_id_moves_the_lead_to_the_survivor_and_its_outcomes_follow(ready, tmp_path):
    syncd = ready
    handed, other, lead = handed_over_beside_a_subscriber(syncd, tmp_path)
    syncd.salesforce.update("Lead", lead["Id"], {"Status": "Working - Contacted"})
    assert cycle(syncd).back.counts["updated"] == 1 and outcome_ids(syncd) == [handed]
    survivor = syncd.hubspot.merge_contacts(handed, other)           # HubSpot mints a new id
    assert survivor not in (handed, other)
    with capture_logs() as logs:
        result = cycle(syncd)
    assert result.forward.counts["merged"] == 1 and result.forward.counts["created"] == 0
    (only,) = syncd.leads()                                          # no second Lead
    assert (only["Id"], only[EXT]) == (lead["Id"], survivor)
    assert only["Email"] == "lead0@example.com"                      # the survivor's payload
    links, moves = state_of(syncd)
    assert links == {survivor: lead["Id"]}
    assert moves == {handed: Move(handed, "merged", "moved", lead["Id"], into=survivor)}
    assert outcome_ids(syncd) == [survivor]                          # the outcome state moved too
    (merged,) = events(logs, "hubspot.contact_merged")
    assert (merged["hubspot_id"], merged["into"], merged["action"]) == (handed, survivor, "moved")
    # Sales wins it: the outcome lands on the survivor.
    syncd.salesforce.convert_lead(lead["Id"], opportunity={"StageName": "Closed Won", "Amount": 1200})
    assert cycle(syncd).back.counts["updated"] == 1
    assert props(syncd, survivor)["syncd_outcome"] == "won"
    assert syncd.hubspot.get_contact(handed)["id"] == handed and cycle(syncd).forward.counts["merged"] == 0


@pytest.mark.parametrize("mints_new_id", [False, True], ids=["survivor-keeps-its-id", "new-surviving-id"])
def test_a_merge_of_two_contacts_with_leads_keeps_one_lead_and_leaves_the_other(ready, tmp_path, mints_new_id):
    syncd = ready
    configure(syncd, tmp_path)
    syncd.hubspot.configure({"merge_mints_new_id": mints_new_id})
    first, second = syncd.hubspot.create_contacts(qualified(2))
    cycle(syncd)
    leads = syncd.leads_by_hubspot_id()
    survivor = syncd.hubspot.merge_contacts(first, second)
    result = cycle(syncd)
    assert result.forward.counts["merged"] == (2 if mints_new_id else 1) and result.forward.counts["created"] == 0
    after = syncd.leads_by_hubspot_id()
    links, moves = state_of(syncd)
    if mints_new_id:   # the new contact takes over the Lead handed over first; the other is left
        assert sorted(after) == sorted([survivor, second]) and after[survivor]["Id"] == leads[first]["Id"]
        assert links == {survivor: leads[first]["Id"], second: leads[second]["Id"]}
        assert moves == {first: Move(first, "merged", "moved", leads[first]["Id"], into=survivor),
                         second: Move(second, "merged", "leave", leads[second]["Id"], into=survivor)}
    else:              # the survivor keeps its own Lead; the merged-away one's Lead is left
        assert survivor == first and sorted(after) == sorted([first, second])
        assert links == {first: leads[first]["Id"], second: leads[second]["Id"]}
        assert moves == {second: Move(second, "merged", "leave", leads[second]["Id"], into=first)}
    # The merged-away contact's Lead gets no outcome (HubSpot would refuse it) and no write.
    syncd.salesforce.update("Lead", leads[second]["Id"], {"Status": "Working - Contacted"})
    again = cycle(syncd)
    assert again.back.counts["rejected"] == 0 and again.back.counts["updated"] == 0
    assert len(syncd.leads()) == 2


def test_a_merge_into_a_contact_that_does_not_qualify_is_found_by_its_outcome_and_relinked(ready, tmp_path):
    syncd = ready
    handed, primary, lead = handed_over_beside_a_subscriber(syncd, tmp_path)
    survivor = syncd.hubspot.merge_contacts(primary, handed)       # the survivor is a subscriber: never searched
    syncd.salesforce.update("Lead", lead["Id"], {"Status": "Working - Contacted"})
    first = cycle(syncd)
    assert first.back.counts["rejected"] == 1                      # OBJECT_NOT_FOUND for the merged-away id
    with capture_logs() as logs:
        second = cycle(syncd)                                      # the scan traces it: merged into survivor
    assert second.forward.counts["merged"] == 1
    (only,) = syncd.leads()
    assert (only["Id"], only[EXT]) == (lead["Id"], survivor)
    links, moves = state_of(syncd)
    assert links == {survivor: lead["Id"]} and moves[handed].into == survivor
    assert events(logs, "hubspot.archived_scan")[0]["merged"] == 1
    syncd.salesforce.update("Lead", lead["Id"], {"Status": "Closed - Not Converted", "Unqualified_Reason__c": "No Budget"})
    assert cycle(syncd).back.counts["updated"] == 1
    assert props(syncd, survivor)["syncd_outcome"] == "disqualified"


# -- archived, restored, deleted ------------------------------------------------------------------
ACTIONS = {
    "leave": ("action: leave", lambda lead, cid: lead[EXT] == cid and lead["HubSpot_Lifecycle_Stage__c"] != "archived"),
    "mark": ("action: mark, field: HubSpot_Lifecycle_Stage__c, value: archived",
             lambda lead, cid: lead[EXT] == cid and lead["HubSpot_Lifecycle_Stage__c"] == "archived"),
    "unlink": ("action: unlink", lambda lead, cid: lead[EXT] is None),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_archived_contact_gets_the_action_is_never_recreated_and_comes_back_when_restored(ready, tmp_path, action):
    syncd = ready
    rule, lead_is = ACTIONS[action]
    configure(syncd, tmp_path, rule)
    gone, kept = syncd.hubspot.create_contacts(qualified(2))
    cycle(syncd)
    lead = syncd.leads_by_hubspot_id()[gone]
    syncd.hubspot.archive_contact(gone)
    dry = cycle(syncd, dry_run=True)                       # shows the action, writes and records nothing
    assert [w.hubspot_id for w in dry.forward.planned] == ([] if action == "leave" else [gone])
    assert state_of(syncd)[1] == {} and syncd.salesforce.get("Lead", lead["Id"]) == lead
    with capture_logs() as logs:
        result = cycle(syncd)
    assert result.forward.counts["archived"] == 1 and result.forward.exit_code == 0
    assert len(syncd.leads()) == 2 and lead_is(syncd.salesforce.get("Lead", lead["Id"]), gone)
    links, moves = state_of(syncd)
    assert links[gone] == lead["Id"] and moves == {gone: Move(gone, "archived", action, lead["Id"])}
    (archived,) = events(logs, "hubspot.contact_archived")
    assert (archived["hubspot_id"], archived["action"]) == (gone, action)
    (scan,) = events(logs, "hubspot.archived_scan")
    assert (scan["archived"], scan["linked"]) == (1, 1)
    # Never re-created, never written again: a full run changes nothing.
    writes = syncd.salesforce_writes()
    assert cycle(syncd, full=True).forward.counts["archived"] == 0 and syncd.salesforce_writes() == writes
    # Restored from the recycle bin: the same Lead is written again (by Id when it was unlinked).
    syncd.hubspot.restore_contact(gone)
    with capture_logs() as logs:
        back = cycle(syncd)
    assert back.forward.counts["restored"] == 1 and back.forward.counts["created"] == 0
    assert [e["hubspot_id"] for e in events(logs, "hubspot.contact_restored")] == [gone]
    restored = syncd.salesforce.get("Lead", lead["Id"])
    assert len(syncd.leads()) == 2 and restored[EXT] == gone
    assert restored["HubSpot_Lifecycle_Stage__c"] != "archived"
    assert state_of(syncd) == ({gone: lead["Id"], kept: syncd.leads_by_hubspot_id()[kept]["Id"]}, {})


def test_the_archived_scan_runs_at_its_interval_and_on_a_full_run(ready, tmp_path, capsys):
    syncd = ready
    configure(syncd, tmp_path, scan_every_run=False)       # the default: hourly
    (gone,) = syncd.hubspot.create_contacts(qualified(1))
    cycle(syncd)                                           # the first run scans (nothing yet)
    syncd.hubspot.archive_contact(gone)
    calls = syncd.hubspot.requests.count(method="GET", path_contains="/crm/v3/objects/contacts")
    assert cycle(syncd).forward.counts["archived"] == 0    # not due yet: no listing call
    assert syncd.hubspot.requests.count(method="GET", path_contains="/crm/v3/objects/contacts") == calls
    assert cycle(syncd, full=True).forward.counts["archived"] == 1
    assert state_of(syncd)[1][gone].action == "leave"
    capsys.readouterr()
    assert syncd.cli("status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["moved_contacts"] == {"archived/leave": 1}


def test_a_stop_request_ends_the_scan_between_calls_and_the_next_run_scans_again(ready, tmp_path):
    syncd = ready
    configure(syncd, tmp_path, "action: unlink", scan_every_run=False)
    (gone,) = syncd.hubspot.create_contacts(qualified(1))
    cycle(syncd)
    for contact_id in [gone, *syncd.hubspot.create_contacts([SUBSCRIBER | {"email": f"s{i}@x.com"} for i in range(150)])]:
        syncd.hubspot.archive_contact(contact_id)

    def listings() -> int:
        return syncd.hubspot.requests.count(method="GET", path_contains="/crm/v3/objects/contacts")

    before = listings()
    stopped = cycle(syncd, full=True, should_stop=lambda: listings() > before)   # asked to stop mid-scan
    assert stopped.forward.status == "interrupted" and listings() == before + 1  # 151 archived: 2 pages
    assert state_of(syncd)[1] == {} and syncd.leads()[0][EXT] == gone
    store = syncd.store()
    scanned = store.get_cursor(PIPELINE, "hubspot.archived_scan")
    store.close()
    assert cycle(syncd, full=True).forward.counts["archived"] == 1 and listings() == before + 3
    assert syncd.leads()[0][EXT] is None
    store = syncd.store()
    assert store.get_cursor(PIPELINE, "hubspot.archived_scan") > scanned
    store.close()


def test_a_gdpr_deleted_contact_is_noticed_through_its_next_outcome_and_unlinked(ready, tmp_path):
    syncd = ready
    configure(syncd, tmp_path, "action: unlink")
    gone, kept = syncd.hubspot.create_contacts(qualified(2))
    cycle(syncd)
    lead = syncd.leads_by_hubspot_id()[gone]
    syncd.hubspot.gdpr_delete_contact(gone)
    assert cycle(syncd).forward.counts["deleted"] == 0     # in no listing: nothing to see yet
    syncd.salesforce.update("Lead", lead["Id"], {"Status": "Working - Contacted"})
    assert cycle(syncd).back.counts["rejected"] == 1       # HubSpot: OBJECT_NOT_FOUND
    with capture_logs() as logs:
        result = cycle(syncd)
    assert result.forward.counts["deleted"] == 1
    assert syncd.salesforce.get("Lead", lead["Id"])[EXT] is None and len(syncd.leads()) == 2
    links, moves = state_of(syncd)
    assert moves == {gone: Move(gone, "deleted", "unlink", lead["Id"])} and links[gone] == lead["Id"]
    (deleted,) = events(logs, "hubspot.contact_archived")
    assert (deleted["kind"], deleted["action"]) == ("deleted", "unlink")
    # The unlinked Lead is no longer read by the back leg; nothing is refused any more.
    syncd.salesforce.update("Lead", lead["Id"], {"Status": "Closed - Not Converted", "Unqualified_Reason__c": "No Budget"})
    assert cycle(syncd).back.counts["rejected"] == 0


def test_a_merge_of_a_contact_whose_lead_sales_converted_keeps_its_outcomes_flowing_to_the_survivor(ready, tmp_path):
    """The contact's stage moved on with its Opportunity, so the survivor no longer qualifies and
    search never returns it: the back leg's next outcome for the old id is refused, the scan
    traces the id to the survivor and relinks, and the outcome reaches the survivor. A converted
    Lead cannot take the survivor's id, so the back leg reads it by Id from then on."""
    syncd = ready
    handed, other, lead = handed_over_beside_a_subscriber(syncd, tmp_path)
    converted = syncd.salesforce.convert_lead(lead["Id"], opportunity={"StageName": "Prospecting", "Amount": 900})
    cycle(syncd)
    assert props(syncd, handed)["syncd_outcome"] == "opportunity"
    survivor = syncd.hubspot.merge_contacts(handed, other)
    cycle(syncd)
    syncd.salesforce.update("Opportunity", converted["opportunity_id"], {"StageName": "Closed Won"})
    for _ in range(3):
        cycle(syncd)
    assert len(syncd.leads()) == 1                                   # no second Lead
    links, moves = state_of(syncd)
    assert links == {survivor: lead["Id"]} and moves[handed].into == survivor
    assert props(syncd, survivor)["syncd_outcome"] == "won"
    syncd.salesforce.update("Opportunity", converted["opportunity_id"], {"Amount": 1500})
    cycle(syncd)
    assert props(syncd, survivor)["syncd_opportunity_amount"] in ("1500", "1500.0")


def test_the_refused_outcome_that_revealed_a_deleted_contact_leaves_the_rejection_table_once_traced(ready, tmp_path):
    """The refusal (OBJECT_NOT_FOUND) is how a deleted contact is found; once the scan has traced
    it and recorded the move, no rejection stays for `syncd status` to list: there is nothing
    left to fix, and the back leg writes no outcome to it (found by tests/test_chaos_moves.py)."""
    syncd = ready
    configure(syncd, tmp_path, "action: unlink")
    gone, _ = syncd.hubspot.create_contacts(qualified(2))
    cycle(syncd)
    syncd.hubspot.gdpr_delete_contact(gone)
    syncd.salesforce.update("Lead", syncd.leads_by_hubspot_id()[gone]["Id"], {"Status": "Working - Contacted"})
    assert cycle(syncd).back.counts["rejected"] == 1
    store = syncd.store()
    try:
        assert [r.hubspot_id for r in OutcomeStore(store).list_rejections(PIPELINE)] == [gone]
    finally:
        store.close()
    assert cycle(syncd).forward.counts["deleted"] == 1
    store = syncd.store()
    try:
        assert OutcomeStore(store).list_rejections(PIPELINE) == [] and store.count_rejections(PIPELINE) == 0
    finally:
        store.close()
