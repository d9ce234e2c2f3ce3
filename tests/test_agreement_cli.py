"""`syncd agreement validate|report` as a user meets them: exit codes, file:line:field, the three
formats, and a month boundary in Berlin. The report reads state only; rows are inserted directly."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest

from state.models import (
    LeadActivityRow,
    LeadOwnerRow,
    LinkRow,
    OutcomeRow,
    OwnerNameRow,
)
from state.store import StateStore
from syncd.cli import main
from syncd.core.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.UTC
PIPELINE = "hubspot-to-salesforce"       # the default pipeline
AGREEMENT = """\
version: 1
time_zone: Europe/Berlin
target: {sqls_per_month: 4}
definition:
  persona: {property: hs_role, in: [sales]}
first_contact: {within_hours: 24}
attempts:
  minimum: 2
  count: {task_subtypes: [Call], events: true, working_statuses: [Working]}
"""


def z(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "agreement.yaml").write_text(AGREEMENT)
    path = tmp_path / "syncd.yaml"
    path.write_text(f"agreement: agreement.yaml\nstate:\n  directory: {tmp_path / 'state'}\n")
    return path


def test_validate_says_ok_for_the_bundled_example(capsys):
    assert main(["agreement", "validate", str(ROOT / "mappings" / "agreement.yaml")]) == 0
    assert re.search(r"ok .*agreement\.yaml: 120 SQLs a month, 3 definition parts \(persona, need, budget\)",
                     capsys.readouterr().out)


def test_validate_a_malformed_file_exits_4_with_file_line_and_field(tmp_path, config, capsys):
    (tmp_path / "agreement.yaml").write_text(AGREEMENT.replace("minimum: 2", "minimum: two"))
    assert main(["agreement", "validate", "--config", str(config)]) == ExitCode.CONFIG_ERROR
    assert re.search(r"agreement\.yaml:8:\d+: attempts\.minimum: ", capsys.readouterr().err)


def test_a_malformed_agreement_stops_a_run_before_any_api_call(syncd, capsys):
    bad = syncd.tmp / "agreement.yaml"
    bad.write_text(AGREEMENT.replace("time_zone: Europe/Berlin", "time_zone: Europe/Atlantis"))
    syncd.write_config(extra=f"agreement: {bad}\n")
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    assert re.search(r"agreement\.yaml:2:\d+: time_zone: .*IANA", capsys.readouterr().err)
    assert len(syncd.hubspot.requests.entries()) + len(syncd.salesforce.requests.entries()) == 0


def _seed(config: Path) -> None:
    store = StateStore(f"sqlite:///{config.parent / 'state' / 'syncd.db'}")
    (config.parent / "state").mkdir(exist_ok=True)
    store.migrate()
    rows = [
        # November in Berlin: contacted after 2 h (a Call), then a status change; persona met.
        LinkRow(pipeline=PIPELINE, hubspot_id="1", lead_id="00Q000000000001", source="ORGANIC", campaign="c1",
                first_synced_at=z("2026-11-02T10:00"), agreement_parts={"persona": True}),
        LeadActivityRow(pipeline=PIPELINE, activity_id="00T000000000001", lead_id="00Q000000000001", kind="task",
                        subtype="Call", owner_id="005A", at=z("2026-11-02T12:00")),
        LeadActivityRow(pipeline=PIPELINE, activity_id="017000000000001", lead_id="00Q000000000001",
                        kind="status", subtype="Working", owner_id="005A", at=z("2026-11-03T09:00")),
        # Owners as the tracking step reads them (Leads the back leg has not read).
        LeadOwnerRow(pipeline=PIPELINE, lead_id="00Q000000000001", owner_id="005A", status="Working"),
        LeadOwnerRow(pipeline=PIPELINE, lead_id="00Q000000000002", owner_id="005B", status="Open - Not Contacted"),
        # Their names, as the tracking step reads them (005B's not read yet).
        OwnerNameRow(pipeline=PIPELINE, owner_id="005A", name="Ada Owner", read_at=z("2026-11-02T10:00")),
        # 2026-10-31T23:30Z is November in Berlin: an Email task does not count; never contacted.
        LinkRow(pipeline=PIPELINE, hubspot_id="2", lead_id="00Q000000000002", source="PAID",
                first_synced_at=z("2026-10-31T23:30"), agreement_parts={"persona": False}),
        LeadActivityRow(pipeline=PIPELINE, activity_id="00T000000000002", lead_id="00Q000000000002", kind="task",
                        subtype="Email", owner_id="005B", at=z("2026-11-01T08:00")),
        # 2026-11-30T23:30Z is December in Berlin: disqualified after one Event (too few attempts).
        LinkRow(pipeline=PIPELINE, hubspot_id="3", lead_id="00Q000000000003", source="PAID",
                first_synced_at=z("2026-11-30T23:30"), agreement_parts={"persona": True}),
        LeadActivityRow(pipeline=PIPELINE, activity_id="00U000000000003", lead_id="00Q000000000003", kind="event",
                        owner_id="005B", at=z("2026-12-01T10:00")),
        OutcomeRow(pipeline=PIPELINE, hubspot_id="3", lead_id="00Q000000000003", lead_status="Disqualified",
                   outcome="disqualified", outcome_at=z("2026-12-02T10:00"), lead_fields={"OwnerId": "005B"}),
    ]
    with store.session() as session:
        session.add_all(rows)
        session.commit()
    store.close()


def test_the_report_in_three_formats_with_berlin_month_boundaries(config, tmp_path, capsys):
    _seed(config)
    common = ["agreement", "report", "--config", str(config), "--at", "2026-12-20T00:00:00Z"]
    assert main([*common, "--month", "2026-11", "--format", "json"]) == 0
    november = json.loads(capsys.readouterr().out)
    assert (november["month"], november["delivered"], november["target"]) == ("2026-11", 2, 4)
    assert november["states"] == {"on_time": 1, "due_soon": 0, "breached": 1, "closed_too_few_attempts": 0}
    assert november["part_shares"] == {"persona": 0.5}
    assert november["hours_to_first_contact"] == [2.0] and november["contacted_within_share"] == 0.5
    assert [(row["key"], row["leads"]) for row in november["by_source"]] == [("ORGANIC", 1), ("PAID", 1)]
    assert [(row["key"], row["label"]) for row in november["by_owner"]] == [("005A", "Ada Owner"), ("005B", None)]

    assert main([*common, "--month", "2026-12", "-o", str(tmp_path / "december.csv")]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "december.csv").read_text())))
    values = {(r["section"], r["key"], r["measure"]): r["value"] for r in rows}
    assert values[("month", "2026-12", "delivered")] == "1"
    assert values[("state", "closed_too_few_attempts", "leads")] == "1"
    assert values[("month", "2026-12", "attempts_met_share")] == "0.0"
    assert values[("owner", "005B", "contacted_within_share")] == "1.0"
    assert {r["label"] for r in rows if r["section"] == "owner"} == {""}          # 005B's name is not read yet
    assert main([*common, "--month", "2026-11", "--format", "csv"]) == 0
    november_rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {(r["key"], r["label"]) for r in november_rows if r["section"] == "owner"} == {
        ("005A", "Ada Owner"), ("005B", "")}

    assert main([*common, "--month", "2026-11", "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert "Marketing's side — 2026-11" in table and "Europe/Berlin" in table and "2 / 4" in table
    assert "Sales' side" in table and "By owner" in table and "Ada Owner (005A)" in table and "005B" in table


def test_the_report_needs_an_agreement_and_a_month(tmp_path, config, capsys):
    assert main(["agreement", "report", "--config", str(config), "--month", "2026-13"]) == 2
    config.write_text(f"state:\n  directory: {tmp_path / 'state'}\n")
    assert main(["agreement", "report", "--config", str(config), "--month", "2026-11"]) == ExitCode.CONFIG_ERROR
    assert "no agreement file is configured" in capsys.readouterr().err


def test_the_status_page_month_is_the_current_one_in_the_agreements_time_zone(config):
    """What the daemon's page shows (syncd.app.agreement.current_month): at 2026-11-30T23:45Z it
    is December in Berlin, so the lead handed over at 23:30Z counts and November's do not."""
    from syncd import app
    from syncd.app.agreement import current_month

    _seed(config)
    loaded = app.load(config, require_credentials=False, env={})
    store = app.open_store(loaded.settings)
    try:
        december = current_month(loaded, store, z("2026-11-30T23:45"))
        assert (december.month, december.delivered, december.target) == ("2026-12", 1, 4)
        assert current_month(loaded, store, z("2026-11-30T22:45")).delivered == 2      # still November there
        assert current_month(app.Loaded(loaded.settings, loaded.mapping), store, z("2026-11-30T23:45")) is None
    finally:
        store.close()
