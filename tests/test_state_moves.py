"""Schema v4 on SQLite and PostgreSQL: a link's Lead that moved (unlinked, held, followed), and
whether the Lead carries our external id; a v3 database migrates with "not known" for the latter."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from state.db import SCHEMA_VERSION
from state.store import StateStore
from syncd.core.records import Link


def test_an_unlinked_contact_points_at_no_lead_and_keeps_the_former_one(store, pipeline):
    store.commit_batch(pipeline, links=[Link("1", "00QA", payload_hash="h", unmarked=False)])
    store.commit_batch(pipeline, links=[Link("1", None, moved="deleted", former_lead_id="00QA")])
    link = store.links_for(pipeline, ["1"])["1"]
    assert (link.lead_id, link.moved, link.former_lead_id, link.payload_hash, link.unmarked) == (
        None, "deleted", "00QA", None, False)
    # Re-created later: a live link again, the former Lead still on record.
    store.commit_batch(pipeline, links=[Link("1", "00QN", payload_hash="h2", unmarked=False)])
    link = store.links_for(pipeline, ["1"])["1"]
    assert (link.lead_id, link.moved, link.former_lead_id) == ("00QN", None, "00QA")


def test_links_by_lead_and_the_leads_without_our_id(store, pipeline):
    store.commit_batch(pipeline, links=[Link("1", "00QA", "003A", True, unmarked=True), Link("2", "00QB", unmarked=False),
                                        Link("3", "00QC", "003C", True)])
    assert store.unmarked_lead_ids(pipeline) == ["00QA"]
    assert store.unmarked_lead_ids(pipeline, unknown=True) == ["00QC"]
    store.set_unmarked(pipeline, {"3": False})
    assert store.unmarked_lead_ids(pipeline, unknown=True) == []
    assert [link.hubspot_id for link in store.links_by_lead(pipeline, ["00QA", "00QC"])["00QA"]] == ["1"]


def test_a_v3_database_migrates_to_the_current_schema_with_the_unmarked_flag_not_known(tmp_path):
    url = f"sqlite:///{tmp_path / 'v3.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:       # the links table as schema v3 left it
        connection.execute(text(
            "CREATE TABLE links (pipeline VARCHAR(64) NOT NULL, hubspot_id VARCHAR(32) NOT NULL, lead_id VARCHAR(18), "
            "contact_id VARCHAR(18), converted BOOLEAN NOT NULL, payload_hash VARCHAR(64), source VARCHAR(255), "
            "campaign VARCHAR(255), content VARCHAR(255), first_synced_at DATETIME NOT NULL, "
            "last_synced_at DATETIME NOT NULL, source_modified VARCHAR(32), mapping_fp VARCHAR(16), "
            "PRIMARY KEY (pipeline, hubspot_id))"))
        connection.execute(text("INSERT INTO links VALUES ('p', '1', '00QA', '003A', 1, 'h', NULL, NULL, NULL, "
                                "'2026-01-01', '2026-01-01', NULL, NULL)"))
    engine.dispose()
    store = StateStore(url)
    try:
        store.migrate()
        columns = {c["name"] for c in inspect(store.engine).get_columns("links")}
        assert {"lead_moved", "former_lead_id", "lead_unmarked", "agreement_parts"} <= columns
        link = store.links_for("p", ["1"])["1"]
        assert (link.lead_id, link.moved, link.unmarked) == ("00QA", None, None)
        assert store.unmarked_lead_ids("p", unknown=True) == ["00QA"]
        with store.engine.connect() as connection:
            assert SCHEMA_VERSION == 5
            assert connection.execute(text("SELECT max(version) FROM schema_version")).scalar_one() == 5
        assert {"lead_activities", "agreement_alerts"} <= set(inspect(store.engine).get_table_names())
    finally:
        store.close()
