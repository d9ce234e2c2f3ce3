"""The agreement's alerts: once per lead and state across many cycles, in the logs, the metrics
and (when switched on) as one Salesforce Task, even when syncd dies between the Task and its commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.stack import start_stack
from state.store import StateStore
from syncd import app
from syncd.agreement.model import Agreement
from syncd.app.connectors import Connectors
from syncd.app.cycle import run_cycle
from syncd.core.agreement import TrackedLead
from syncd.core.ports import TaskWrite
from syncd.core.records import ContactWriteResult, WriteResult
from syncd.plan.agreement_alerts import due_alerts
from syncd.run.agreement import AgreementAlerts
from syncd.service.metrics import Metrics
from tests.conftest import qualified

UTC = dt.UTC
HANDED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TERMS = {"target": {"sqls_per_month": 10}, "first_contact": {"within_hours": 8, "due_soon_hours": 2},
         "attempts": {"minimum": 2},
         "alerts": {"salesforce_task": {"enabled": True}, "hubspot_property": "sales_agreement_state"}}


class FakeTasks:
    """A Task sink that can die right after Salesforce created the Tasks (before syncd commits)."""

    system = "salesforce"

    def __init__(self) -> None:
        self.tasks: dict[tuple[str, str], str] = {}
        self.crash_after_create = False

    def find_tasks(self, who_ids: Sequence[str], subjects: Sequence[str]) -> dict[tuple[str, str], str]:
        return {key: tid for key, tid in self.tasks.items() if key[0] in who_ids and key[1] in subjects}

    def create_tasks(self, tasks: Sequence[TaskWrite]) -> list[WriteResult]:
        answers = []
        for task in tasks:
            self.tasks[(task.who_id, task.subject)] = tid = f"00T{len(self.tasks):012d}"
            answers.append(WriteResult(True, tid, True))
        if self.crash_after_create:
            raise KeyboardInterrupt("killed between the Task and the commit")
        return answers


class FakeLeads:
    def current_values(self, *, sobject, fields, ids=(), key_field="Id"):
        return {lead_id: {"OwnerId": "005OWNER"} for lead_id in ids}


class FakeContacts:
    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, str]]] = []

    def update_contacts(self, updates):
        self.updates += updates
        return [ContactWriteResult(hubspot_id, True) for hubspot_id, _ in updates]


@pytest.fixture
def sqlite_store(tmp_path: Path):
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    store.migrate()
    yield store
    store.close()


def test_one_alert_per_lead_and_state_across_cycles_and_a_crash_between_task_and_commit(sqlite_store):
    leads = [TrackedLead("101", "00Q000000000101", HANDED),
             TrackedLead("102", "00Q000000000102", HANDED, first_contact_at=HANDED + dt.timedelta(hours=1))]
    tasks, contacts = FakeTasks(), FakeContacts()
    step = AgreementAlerts(agreement=Agreement.model_validate(TERMS), store=sqlite_store, pipeline="p",
                           read_tracked=lambda since: leads, leads=FakeLeads(), tasks=tasks, contacts=contacts)
    hours = [HANDED + dt.timedelta(hours=h) for h in (1, 5.9, 6, 6.5, 7, 7.9)]
    with capture_logs() as logs:
        tasks.crash_after_create = True
        with pytest.raises(KeyboardInterrupt):
            step.run(hours[2])                      # due soon: the Task is made, syncd dies before the commit
        tasks.crash_after_create = False
        raised = [step.run(now).raised for now in hours]
        raised.append(step.run(HANDED + dt.timedelta(hours=8)).raised)     # breached: the next state
        raised.append(step.run(HANDED + dt.timedelta(hours=30)).raised)
    alerts = [e for e in logs if e["event"] == "agreement.alert"]
    assert [(e["hubspot_id"], e["state"], e["owner_id"]) for e in alerts] == [("101", "due_soon", "005OWNER"),
                                                                          ("101", "breached", "005OWNER")]
    assert alerts[0]["deadline"] == "2026-11-02T17:00:00+00:00" and alerts[0]["task_id"] == "00T000000000000"
    assert [dict(r) for r in raised] == [{}, {}, {"due_soon": 1}, {}, {}, {}, {"breached": 1}, {}]
    assert sorted(subject for _, subject in tasks.tasks) == ["Agreement: contact this lead (breached)",
                                                             "Agreement: contact this lead (due soon)"]
    assert contacts.updates == [("101", {"sales_agreement_state": "due_soon"}),
                                ("101", {"sales_agreement_state": "breached"})]


AGREEMENT_FILE = """\
version: 1
target: {sqls_per_month: 10}
first_contact: {within_hours: 8, due_soon_hours: 2}
attempts: {minimum: 2}
alerts:
  salesforce_task: {enabled: true, subject: "SLA: call this lead ({state})"}
"""


def test_a_lead_about_to_breach_gives_one_log_event_one_metric_and_one_task_over_many_cycles(tmp_path):
    """Acceptance 2, against the emulators: Salesforce's clock moves 6.5 h on, cycles run."""
    offset = [dt.timedelta()]
    salesforce = SalesforceEmulator(clock=lambda: dt.datetime.now(UTC) + offset[0])
    stack = start_stack(tmp_path / "stack", hubspot=HubSpotEmulator(access_tokens=(), rate_limits=False),
                        salesforce=salesforce)
    try:
        (tmp_path / "agreement.yaml").write_text(AGREEMENT_FILE)
        stack.write_config(extra=f"agreement: {tmp_path / 'agreement.yaml'}\n")
        stack.hubspot.create_contacts(qualified(1))
        loaded = app.load(stack.config_path, env={})
        store, connectors, metrics = app.open_store(loaded.settings), Connectors.build(loaded), Metrics()
        try:
            with capture_logs() as logs:
                for hours in (0, 6.5, 6.6, 6.7, 6.8):
                    offset[0] = dt.timedelta(hours=hours)
                    if hours == 6.5:    # the first Task create meets a 503: one attempt, not retried
                        salesforce.inject_fault("POST", "/composite/sobjects", 503, times=1)
                        creates = salesforce.requests.count(method="POST", path_contains="/composite/sobjects")
                    cycle = run_cycle(loaded, store, connectors=connectors)
                    metrics.observe_cycle(cycle, "ok", 1.0, dt.datetime.now(UTC))
                    if hours == 6.5:    # ... left unrecorded, with no Task: the next cycle creates it
                        assert salesforce.requests.count(method="POST", path_contains="/composite/sobjects") \
                            == creates + 1 and salesforce.all("Task") == []
        finally:
            connectors.close()
            store.close()
        alerts = [e for e in logs if e["event"] == "agreement.alert"]
        assert [e["event"] for e in logs if e["event"] == "agreement.alerts_failed"] == ["agreement.alerts_failed"]
        (lead,) = salesforce.all("Lead")
        assert [(e["state"], e["lead_id"], e["owner_id"]) for e in alerts] == [("due_soon", lead["Id"], lead["OwnerId"])]
        assert metrics.registry.get_sample_value("syncd_agreement_alerts_total", {
            "pipeline": loaded.settings.sync.pipeline, "state": "due_soon"}) == 1
        (task,) = salesforce.all("Task")
        assert (task["WhoId"], task["OwnerId"], task["Subject"]) == (lead["Id"], lead["OwnerId"],
                                                                     "SLA: call this lead (due soon)")
    finally:
        stack.stop()


@pytest.mark.parametrize("lead,expected", [
    (TrackedLead("1", "00Q1", HANDED), ["breached"]),
    (TrackedLead("1", "00Q1", HANDED, converted=True), []),                                  # converted: no alert
    (TrackedLead("1", "00Q1", HANDED, closed_at=HANDED + dt.timedelta(hours=2)), ["closed_too_few_attempts"]),
    (TrackedLead("1", "00Q1", HANDED, first_contact_at=HANDED, attempts=2,
                 closed_at=HANDED + dt.timedelta(hours=2)), []),                             # closed, enough attempts
], ids=["open-breached", "converted", "closed-too-few", "closed-enough"])
def test_which_leads_alert(lead, expected):
    due = due_alerts([lead], Agreement.model_validate(TERMS), HANDED + dt.timedelta(hours=20), set())
    assert [a.state.value for a in due] == expected
