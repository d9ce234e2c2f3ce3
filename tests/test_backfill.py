"""`syncd backfill` (issue #9, acceptance 5): after a mapping change, exactly the Leads whose field
differs are updated, the API calls are estimated before any write, and state ends as a run leaves
it (the next run writes nothing), against the emulators with the real SDKs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mappings import __file__ as mappings_init
from state.lease import holding
from syncd.core.errors import ExitCode
from syncd.core.records import Link
from syncd.plan.backfill import compare, estimate, with_writes
from syncd.plan.forward import Write
from syncd.plan.preview import decide
from tests.conftest import Syncd, qualified
from tests.feedback_helpers import PIPELINE

BUNDLED = Path(mappings_init).parent / "hubspot-to-salesforce.yaml"
TITLE_RULE = "  Title:\n    from: jobtitle\n"


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    """The JSON lines on stdout: the command's own and the log's, in the order they came."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def one(found: list[dict], event: str) -> dict:
    [line] = [x for x in found if x.get("event") == event]
    return line


def counters(syncd: Syncd) -> tuple[int, int, int]:
    """(HubSpot batch reads, Salesforce queries, Salesforce Collections writes) answered so far."""
    return (syncd.hubspot.requests.count(path_contains="/batch/read"),
            syncd.salesforce.requests.count(method="GET", path_contains="/query"), syncd.salesforce_writes())


def written_by_syncd(syncd: Syncd) -> set[str]:
    """HubSpot ids of the Leads syncd's integration user wrote last (Sales touched every one before)."""
    return {lead["HubSpot_Contact_Id__c"] for lead in syncd.leads()
            if lead["LastModifiedById"] == syncd.salesforce.default_user_id}


def test_backfill_of_a_newly_mapped_field_updates_exactly_the_leads_that_differ(syncd, tmp_path, capsys):
    text = BUNDLED.read_text()
    assert TITLE_RULE in text
    before_change = tmp_path / "no-title.yaml"
    before_change.write_text(text.replace(TITLE_RULE, ""))
    syncd.write_config(mapping=before_change)
    titles = {"wrong": "CTO", "right": "CEO", "edited": "VP Sales", "edited_wrong": "CFO", "too_long": "T" * 200}
    ids = dict(zip(titles, syncd.hubspot.create_contacts(
        [{**c, "jobtitle": t} for c, t in zip(qualified(len(titles)), titles.values())])))
    assert syncd.run().counts["created"] == 5
    lead = {name: syncd.leads_by_hubspot_id()[i]["Id"] for name, i in ids.items()}
    # Sales works the Leads (every one is touched, so the last writer tells syncd's writes apart).
    for name, fields in {"wrong": {"Title": None}, "too_long": {"Title": None}, "right": {"Title": "CEO"},
                         "edited": {"Title": "VP Sales", "Company": "Acme Sales"},
                         "edited_wrong": {"Company": "Edited By Sales"}}.items():
        syncd.salesforce.update("Lead", lead[name], fields)
    syncd.write_config(mapping=BUNDLED)                 # the admin maps Title

    start = counters(syncd)
    capsys.readouterr()
    assert syncd.cli("backfill", "--field", "Title", "--dry-run") == ExitCode.OK
    shown = lines(capsys)
    after_dry = counters(syncd)
    planned, compared = one(shown, "backfill.planned"), one(shown, "backfill.compared")
    assert (planned["candidates"], planned["hubspot_reads"], planned["salesforce_queries"]) == (5, 1, 1)
    assert (after_dry[0] - start[0], after_dry[1] - start[1]) == (1, 1)         # as estimated
    assert compared["calls_spent"] == {"hubspot": 1, "salesforce": 1}
    assert (compared["leads_to_write"], compared["salesforce_writes"], compared["recorded"]) == (3, 1, 2)
    listed = {x["hubspot_id"]: x for x in shown if x.get("event") == "backfill.lead"}
    assert set(listed) == {ids["wrong"], ids["edited_wrong"], ids["too_long"]}
    assert listed[ids["wrong"]]["changes"] == {"Title": {"old": None, "new": "CTO"}}
    assert after_dry[2] == start[2]                                              # wrote nothing

    assert syncd.cli("backfill", "--field", "Title") == ExitCode.USAGE          # off a terminal, no --yes
    assert counters(syncd) == after_dry                                          # read nothing, wrote nothing
    store = syncd.store()
    try:
        with holding(store, PIPELINE, "daemon"):
            assert syncd.cli("backfill", "--field", "Title", "--yes") == ExitCode.LOCKED
    finally:
        store.close()

    capsys.readouterr()
    assert syncd.cli("backfill", "--field", "Title", "--yes") == ExitCode.RECORDS_REJECTED
    shown = lines(capsys)
    events = [x.get("event") for x in shown]
    assert events.index("backfill.compared") < events.index("salesforce.batch_written")
    assert counters(syncd)[2] - after_dry[2] == one(shown, "backfill.compared")["salesforce_writes"] == 1
    assert written_by_syncd(syncd) == {ids["wrong"], ids["edited_wrong"]}        # too_long was refused
    leads = syncd.leads_by_hubspot_id()
    assert leads[ids["wrong"]]["Title"] == "CTO" and leads[ids["edited_wrong"]]["Title"] == "CFO"
    assert leads[ids["edited_wrong"]]["Company"] == "Edited By Sales"          # only the compared field sent
    assert leads[ids["edited"]]["Company"] == "Acme Sales"
    finished = one(shown, "backfill.finished")
    assert (finished["updated"], [r["hubspot_id"] for r in finished["rejected"]]) == (1 + 1, [ids["too_long"]])
    assert finished["rejected"][0]["code"] == "STRING_TOO_LONG"
    capsys.readouterr()
    assert syncd.cli("rejected", "list", "--format", "json") == ExitCode.OK
    assert [r["hubspot_id"] for r in json.loads(capsys.readouterr().out)] == [ids["too_long"]]

    writes = syncd.salesforce_writes()
    again = syncd.run()                       # state is what a run leaves: nothing to send again
    assert syncd.salesforce_writes() == writes
    assert again.counts["still_rejected"] == 1 and again.counts["updated"] == again.counts["created"] == 0

    # --since: only the contacts handed over since then are candidates.
    late = syncd.hubspot.create_contacts(qualified(2, start=10))
    assert syncd.run().counts["created"] == 2
    store = syncd.store()
    try:
        since = min(row.first_synced_at for row in store.all_links(PIPELINE) if row.hubspot_id in late)
    finally:
        store.close()
    capsys.readouterr()
    assert syncd.cli("backfill", "--since", since.isoformat(), "--dry-run") == ExitCode.OK
    assert one(lines(capsys), "backfill.planned")["candidates"] == 2


def lead_update(hubspot_id: str, fields: dict, modified: str) -> Write:
    return Write(hubspot_id, "lead_update", {**fields, "HubSpot_Contact_Id__c": hubspot_id}, f"hash-{hubspot_id}",
                 target_id=f"00Q{hubspot_id}", source_modified=modified, mapping_fp="new")


@pytest.mark.parametrize(("salesforce", "modified", "sent", "kept"), [
    ({"Title": "CEO", "Company": "Acme"}, "t1", None, "recorded"),
    ({"Title": "CEO", "Company": "Sales edit"}, "t1", None, "recorded"),
    ({"Title": "CEO", "Company": "Acme"}, "t2", None, "pending"),
    ({"Title": None, "Company": "Sales edit"}, "t1", {"Title": "CEO"}, None),
    ({"Title": None, "Company": "Sales edit"}, "t2", {"Title": "CEO", "Company": "Acme"}, None),
], ids=["matches", "matches-other-field-edited", "matches-changed-in-hubspot-since", "differs-in-sync",
        "differs-changed-since-whole-payload"])
def test_compare_sends_only_what_differs_and_records_what_already_matches(salesforce, modified, sent, kept):
    """Unchanged in HubSpot since its last write (t1): only the compared field goes, or nothing and
    the new digest is recorded; changed since (t2): the whole payload, or left to the next run."""
    write = lead_update("7", {"Title": "CEO", "Company": "Acme"}, modified)
    current = {"Id": "00Q7", "HubSpot_Contact_Id__c": "7", **salesforce}
    link = Link("7", "00Q7", payload_hash="old", source_modified="t1", mapping_fingerprint="old")
    result = compare([write], {"7": decide(write, current, "Lead")}, {"7": link}, ["Title"], "HubSpot_Contact_Id__c")
    if sent is None:
        assert result.send == []
        assert (len(result.recorded), len(result.pending)) == ((1, 0) if kept == "recorded" else (0, 1))
        if kept == "recorded":
            assert result.recorded[0].payload_hash == "hash-7" and result.recorded[0].source_modified == "t1"
    else:
        [out] = result.send
        assert out.fields == {**sent, "HubSpot_Contact_Id__c": "7"} and out.payload_hash == "hash-7"


def test_the_estimate_counts_batch_reads_queries_and_write_calls():
    assert estimate(401, history=True).as_json() == {"candidates": 401, "hubspot_reads": 9, "salesforce_queries": 3,
                                                     "leads_to_write": None, "salesforce_writes": None}
    assert estimate(401, history=False).hubspot_reads == 5
    assert with_writes(estimate(401, history=True), 201).salesforce_writes == 2


def test_candidates_are_the_contacts_whose_lead_is_still_theirs_handed_over_since(store, pipeline):
    """Converted, held or unlinked contacts are not candidates; --since is the first hand-over."""
    early, late = dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    store.commit_batch(pipeline, links=[Link("1", "00Q1"), Link("2", "00Q2", "003X", converted=True),
                                        Link("3", "00Q3", moved="held")], now=early)
    store.commit_batch(pipeline, links=[Link("4", "00Q4"), Link("5", None, moved="deleted")], now=late)
    store.commit_batch(pipeline, links=[Link("1", "00Q1", payload_hash="again")], now=late)   # written again
    assert store.handed_over(pipeline) == ["1", "4"]
    assert store.handed_over(pipeline, dt.datetime(2026, 2, 1, tzinfo=dt.UTC)) == ["4"]
