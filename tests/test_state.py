"""The state store on SQLite and PostgreSQL: natural-key upserts, one transaction per batch."""

from __future__ import annotations

import uuid

import pytest

from syncd.core.records import Link, Rejection
from tests.conftest import POSTGRES_URL, qualified


def test_migrations_are_idempotent(store):
    store.migrate()
    store.migrate()


def test_links_upsert_keeps_what_salesforce_did_not_say_and_records_attribution(store, pipeline):
    store.commit_batch(pipeline, links=[Link("1", "00Q1", payload_hash="a", attribution=("PAID_SEARCH", "q3", "Ebook"))])
    store.commit_batch(pipeline, links=[Link("1", None, "003X", converted=True, payload_hash="b")])
    link = store.links_for(pipeline, ["1"])["1"]
    assert (link.lead_id, link.contact_id, link.converted, link.payload_hash) == ("00Q1", "003X", True, "b")
    (row,) = store.all_links(pipeline)
    assert (row.source, row.campaign, row.content) == ("PAID_SEARCH", "q3", "Ebook")


def test_rejections_count_attempts_and_clear_when_resolved(store, pipeline):
    store.commit_batch(pipeline, rejections=[Rejection("7", "STRING_TOO_LONG", "too long", "h1")])
    store.commit_batch(pipeline, rejections=[Rejection("7", "STRING_TOO_LONG", "too long", "h2")])
    (row,) = store.list_rejections(pipeline)
    assert (row.attempts, row.payload_hash) == (2, "h2")
    store.commit_batch(pipeline, links=[Link("7", "00Q7", payload_hash="h3")], resolved=["7"])
    assert store.count_rejections(pipeline) == 0 and store.count_links(pipeline) == 1


def test_lookups_work_in_chunks_for_thousands_of_ids(store, pipeline):
    store.commit_batch(pipeline, links=[Link(str(i), f"00Q{i}", payload_hash="x") for i in range(1200)])
    assert len(store.links_for(pipeline, [str(i) for i in range(0, 2400)])) == 1200


def test_cursor_and_runs_round_trip(store, pipeline):
    assert store.get_cursor(pipeline, "c") is None
    store.set_cursor(pipeline, "c", "2026-11-26T00:00:00.000+00:00")
    assert store.get_cursor(pipeline, "c") == "2026-11-26T00:00:00.000+00:00"
    run_id = str(uuid.uuid4())
    store.start_run(run_id, pipeline, dry_run=False)
    store.finish_run(run_id, status="ok", counts={"created": 3})
    (run,) = store.recent_runs(pipeline)
    assert (run.status, run.counts["created"]) == ("ok", 3) and run.finished_at is not None


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_a_full_cycle_on_postgresql_state_converges_and_reruns_write_nothing(syncd, store, pipeline):
    env = {"SYNCD_STATE__DATABASE_URL": POSTGRES_URL, "SYNCD_SYNC__PIPELINE": pipeline}
    ids = syncd.hubspot.create_contacts(qualified(250))
    assert syncd.run(env=env).counts["created"] == 250
    writes = syncd.salesforce_writes()
    assert syncd.run(env=env).counts["unchanged"] == 250 and syncd.salesforce_writes() == writes
    assert sorted(syncd.leads_by_hubspot_id()) == sorted(ids)


def test_storable_text_keeps_what_a_database_can_hold_and_marks_the_rest():
    from state.text import storable

    assert storable("Zoë 日本 \U0001F600") == "Zoë 日本 \U0001F600"
    assert storable("Bad\ud800X") == "Bad\ufffdX"                  # lone surrogate
    assert storable("\ud83d\ude00") == "\U0001F600"                 # a pair split in two code points
    assert storable("a\x00b") == "a\ufffdb"
    assert storable("x" * 300, 255) == "x" * 255
    assert storable(None) is None and storable("") == ""
