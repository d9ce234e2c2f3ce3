"""The closed-loop state on SQLite and PostgreSQL: outcome rows round-trip, the report reads them,
rejections are kept apart from the forward leg's, and a v1 database gains `runs.leg`."""

from __future__ import annotations

import datetime as dt
import sqlite3


from state.outcomes import OutcomeStore
from state.store import StateStore
from syncd.plan.feedback import gone
from syncd.core.records import Link, OutcomeState, Rejection

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)



def test_an_outcome_state_round_trips_with_its_times_json_fields_and_hash(store, pipeline):
    outcomes = OutcomeStore(store)
    state = OutcomeState("101", "00Q000000000001AAA", "Closed - Converted", None, True, "006000000000001AAA",
                         "Closed Won", True, True, 48000.5, "2026-03-31", None, "won", None, T0,
                         T0 + dt.timedelta(days=3), T0 + dt.timedelta(days=3),
                         {"Id": "00Q000000000001AAA", "Status": "Closed - Converted"},
                         {"Id": "006000000000001AAA", "Amount": 48000.5}, "abc123")
    outcomes.commit(pipeline, states=[state])
    assert outcomes.states_for(pipeline, ["101", "999"]) == {"101": state}
    moved = OutcomeState("101", opportunity_id="006000000000001AAA", stage="Negotiation/Review",
                         outcome="opportunity", feedback_hash="def456")
    outcomes.commit(pipeline, states=[moved])                      # an upsert by natural key
    assert outcomes.states_for(pipeline, ["101"])["101"] == moved


def test_back_leg_rejections_are_kept_apart_from_the_forward_legs(store, pipeline):
    outcomes = OutcomeStore(store)
    store.commit_batch(pipeline, rejections=[Rejection("101", "STRING_TOO_LONG", "company", "f-hash")])
    outcomes.commit(pipeline, rejections=[gone("101", "b-hash")])
    assert outcomes.rejections_for(pipeline, ["101"])["101"].code == "OBJECT_NOT_FOUND"
    outcomes.commit(pipeline, resolved=["101"])                    # the back leg's write went through
    assert outcomes.rejections_for(pipeline, ["101"]) == {}
    assert store.rejections_for(pipeline, ["101"])["101"].code == "STRING_TOO_LONG"   # untouched


def test_the_report_reads_links_joined_to_outcomes_within_the_period(store, pipeline):
    outcomes = OutcomeStore(store)
    store.commit_batch(pipeline, links=[Link("1", "00Q1", attribution=("ORGANIC_SEARCH", "q1", "Ebook"))], now=T0)
    store.commit_batch(pipeline, links=[Link("2", "00Q2", attribution=("PAID_SOCIAL", None, None))],
                       now=T0 + dt.timedelta(days=40))
    outcomes.commit(pipeline, states=[OutcomeState("1", outcome="won", opportunity_id="0061", amount=10.0,
                                                   first_contacted_at=T0 + dt.timedelta(hours=2))])
    rows = outcomes.report_rows(pipeline)
    assert [(r.hubspot_id, r.source, r.outcome, r.opportunity, r.handed_over_at) for r in rows] == [
        ("1", "ORGANIC_SEARCH", "won", True, T0), ("2", "PAID_SOCIAL", None, False, T0 + dt.timedelta(days=40))]
    assert rows[0].first_contacted_at == T0 + dt.timedelta(hours=2)
    window = outcomes.report_rows(pipeline, T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1))
    assert [r.hubspot_id for r in window] == ["1"]


def test_a_version_1_database_gains_the_runs_leg_column_in_place(tmp_path):
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:                               # the runs table as v1 created it
        db.execute("CREATE TABLE runs (id VARCHAR(36) PRIMARY KEY, pipeline VARCHAR(64), started_at DATETIME, "
                   "finished_at DATETIME, status VARCHAR(32), dry_run BOOLEAN, counts JSON NOT NULL, error VARCHAR)")
        db.execute("INSERT INTO runs VALUES ('r1', 'p', '2026-01-01 00:00:00', NULL, 'ok', 0, '{}', NULL)")
    store = StateStore(f"sqlite:///{path}")
    store.migrate()
    store.migrate()                                                  # idempotent
    store.start_run("r2", "p", dry_run=False, leg="back")
    assert {(r.id, r.leg) for r in store.recent_runs("p")} == {("r1", "forward"), ("r2", "back")}
    store.close()
