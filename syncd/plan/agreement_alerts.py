"""Which handed-over leads to alert about, purely, and the Task each alert makes.

A lead is alerted once per state: ``due_soon`` or ``breached`` while it is open (not closed, not
converted), ``closed_too_few_attempts`` when it was closed with fewer than Z attempts. A lead
already past its deadline when first seen is alerted as breached only (never due soon after).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from syncd.agreement.clock import Calendar
from syncd.agreement.model import Agreement
from syncd.core.agreement import SlaState, TrackedLead
from syncd.core.ports import TaskWrite
from syncd.plan.agreement import classify, closed_not_converted, deadline

WORDS = {SlaState.DUE_SOON: "due soon", SlaState.BREACHED: "breached",
         SlaState.CLOSED_TOO_FEW_ATTEMPTS: "closed with too few attempts"}


@dataclass(frozen=True)
class DueAlert:
    lead: TrackedLead
    state: SlaState
    deadline: dt.datetime

    @property
    def key(self) -> tuple[str, str]:
        return self.lead.hubspot_id, self.state.value


def due_alerts(leads: Iterable[TrackedLead], agreement: Agreement, now: dt.datetime,
               raised: set[tuple[str, str]]) -> list[DueAlert]:
    """The alerts to raise now: each lead's state at ``now``, if it alerts and was not raised before."""
    calendar = Calendar.of(agreement)
    due = []
    for lead in leads:
        state = classify(lead, agreement, now, calendar)
        if state is SlaState.ON_TIME or (lead.hubspot_id, state.value) in raised:
            continue
        if state is not SlaState.CLOSED_TOO_FEW_ATTEMPTS and (closed_not_converted(lead) or lead.converted):
            continue
        due.append(DueAlert(lead, state, deadline(lead, agreement, calendar)))
    return due


def task_subject(agreement: Agreement, state: SlaState) -> str:
    return agreement.alerts.salesforce_task.subject.replace("{state}", WORDS[state])


def task_for(alert: DueAlert, agreement: Agreement, owner_id: str | None) -> TaskWrite:
    lead, local = alert.lead, alert.deadline.astimezone(agreement.zone)
    description = (f"HubSpot contact {lead.hubspot_id}, handed over "
                   f"{lead.handed_over_at.astimezone(agreement.zone):%Y-%m-%d %H:%M}; first contact due "
                   f"{local:%Y-%m-%d %H:%M} ({agreement.time_zone}); {lead.attempts} attempt(s) of "
                   f"{agreement.attempts.minimum} so far. Created by syncd (the Sales–Marketing agreement).")
    return TaskWrite(who_id=lead.lead_id or "", subject=task_subject(agreement, alert.state),
                     owner_id=owner_id, description=description, activity_date=local.date().isoformat())
