"""The agreement's alerts, a step of each cycle after the back leg: each handed-over lead due
soon, breached or closed with too few attempts is alerted once per state, not once per cycle.

An alert is one ``agreement.alert`` log event (warning) and, when the agreement switches them on,
a Salesforce Task for the Lead's owner and the state in a HubSpot contact property. The
``agreement_alerts`` row that makes it "once" is committed only after those writes returned; the
log event follows the commit. A crash between the Task's creation and the commit cannot give a
second Task: before creating, the step looks for a Task on the same Lead with the same subject
(which names the state) and records that one instead. An alert whose write failed is not recorded
and is tried again next cycle.

"now" is Salesforce's time (this host's clock corrected by the skew its answers showed), or the
clock the caller passes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from state import agreement as agreement_state
from state.store import StateStore
from syncd.agreement.model import Agreement
from syncd.core.agreement import TrackedLead
from syncd.core.ports import ContactSink, LeadSink, TaskSink
from syncd.plan.agreement_alerts import DueAlert, due_alerts, task_for

log = structlog.get_logger("syncd.agreement")

HORIZON = dt.timedelta(days=60)      # leads handed over longer ago than this are not alerted about


@dataclass
class AlertsResult:
    raised: Counter = field(default_factory=Counter)    # state -> alerts raised this cycle
    failed: int = 0                                      # alerts whose write failed: tried again next cycle


@dataclass
class AgreementAlerts:
    agreement: Agreement
    store: StateStore
    pipeline: str
    read_tracked: Callable[[dt.datetime], list[TrackedLead]]    # leads handed over since the moment
    leads: LeadSink
    tasks: TaskSink | None = None
    contacts: ContactSink | None = None

    def run(self, now: dt.datetime) -> AlertsResult:
        result = AlertsResult()
        raised = agreement_state.raised(self.store, self.pipeline)
        due = due_alerts(self.read_tracked(now - HORIZON), self.agreement, now, raised)
        if not due:
            return result
        failed: set[tuple[str, str]] = set()
        task_ids: dict[tuple[str, str], str] = {}
        alerts = self.agreement.alerts
        owners = self._owners(due)
        if alerts.salesforce_task.enabled and self.tasks is not None:
            task_ids = self._tasks([a for a in due if a.lead.lead_id], owners, failed)
        if alerts.hubspot_property and self.contacts is not None:
            self._properties([a for a in due if a.key not in failed], alerts.hubspot_property, failed)
        done = [a for a in due if a.key not in failed]
        agreement_state.record_alerts(self.store, self.pipeline, [
            agreement_state.Alert(a.lead.hubspot_id, a.state.value, a.lead.lead_id, task_ids.get(a.key))
            for a in done], now)
        for a in done:
            log.warning("agreement.alert", hubspot_id=a.lead.hubspot_id, lead_id=a.lead.lead_id, state=a.state.value,
                        deadline=a.deadline.isoformat(), owner_id=owners.get(a.key),
                        handed_over_at=a.lead.handed_over_at.isoformat(), attempts=a.lead.attempts,
                        task_id=task_ids.get(a.key))
            result.raised[a.state.value] += 1
        result.failed = len(failed)
        return result

    def _owners(self, due: Sequence[DueAlert]) -> dict[tuple[str, str], str | None]:
        """Each alert's Lead owner: as tracked, else the Lead's OwnerId now (one query per 200 Leads)."""
        unknown = [a.lead.lead_id for a in due if not a.lead.owner_id and a.lead.lead_id]
        found = {lead_id: values.get("OwnerId") for lead_id, values in self.leads.current_values(
            sobject="Lead", fields=["OwnerId"], ids=unknown).items()} if unknown else {}
        return {a.key: a.lead.owner_id or found.get(a.lead.lead_id or "") for a in due}

    def _tasks(self, due: Sequence[DueAlert], owners: dict[tuple[str, str], str | None],
               failed: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """One Task per alert, found again or created (200 a call); the failures go in ``failed``."""
        assert self.tasks is not None
        writes = [task_for(a, self.agreement, owners.get(a.key)) for a in due]
        found = self.tasks.find_tasks([w.who_id for w in writes], [w.subject for w in writes])
        ids = {a.key: found[(w.who_id, w.subject)] for a, w in zip(due, writes) if (w.who_id, w.subject) in found}
        missing = [(a, w) for a, w in zip(due, writes) if a.key not in ids]
        answers = self.tasks.create_tasks([w for _, w in missing]) if missing else []
        for (a, _), answer in zip(missing, answers):
            if answer.ok and answer.id:
                ids[a.key] = answer.id
            else:
                failed.add(a.key)
                error = answer.first_error
                log.warning("agreement.alert_failed", hubspot_id=a.lead.hubspot_id, lead_id=a.lead.lead_id, state=a.state.value,
                            target="salesforce_task", code=error.code if error else None)
        return ids

    def _properties(self, due: Sequence[DueAlert], name: str, failed: set[tuple[str, str]]) -> None:
        """The state in the contact property (100 contacts a call, as ``update_contacts`` batches)."""
        assert self.contacts is not None
        answers = self.contacts.update_contacts([(a.lead.hubspot_id, {name: a.state.value}) for a in due])
        for a, answer in zip(due, answers):
            if not answer.ok:
                failed.add(a.key)
                log.warning("agreement.alert_failed", hubspot_id=a.lead.hubspot_id, lead_id=a.lead.lead_id, state=a.state.value,
                            target="hubspot_property", code=answer.code)
