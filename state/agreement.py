"""State for the Sales–Marketing agreement (issue #10): the alerts raised. (The leads it tracks
come from ``StateStore.tracked_leads``, ``state.activities``.)

``agreement_alerts`` holds one row per (contact, state) alerted: ``record_alerts`` is called only
after the remote writes the rows record (the owner's Task, the HubSpot property) have returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select

from state.db import upsert
from state.models import AgreementAlertRow, utcnow
from state.store import StateStore


@dataclass(frozen=True)
class Alert:
    """One alert raised: a contact, the state it was alerted for, and the Task made for it."""

    hubspot_id: str
    state: str
    lead_id: str | None = None
    task_id: str | None = None


def alerts(store: StateStore, pipeline: str) -> list[Alert]:
    """Every alert raised for the pipeline, oldest first (the demo shows them)."""
    with store.session() as session:
        rows = session.exec(select(AgreementAlertRow).where(AgreementAlertRow.pipeline == pipeline)
                            .order_by(AgreementAlertRow.raised_at, AgreementAlertRow.hubspot_id))
        return [Alert(row.hubspot_id, row.state, row.lead_id, row.task_id) for row in rows]


def raised(store: StateStore, pipeline: str) -> set[tuple[str, str]]:
    """(hubspot_id, state) of every alert already raised for the pipeline."""
    return {(alert.hubspot_id, alert.state) for alert in alerts(store, pipeline)}


def record_alerts(store: StateStore, pipeline: str, alerts: Sequence[Alert], now: dt.datetime | None = None) -> None:
    """Record alerts raised (after their remote writes returned): one row per (contact, state)."""
    now = now or utcnow()
    rows = [{"pipeline": pipeline, "hubspot_id": a.hubspot_id, "state": a.state, "lead_id": a.lead_id,
             "raised_at": now, "task_id": a.task_id} for a in alerts]
    with store.engine.begin() as connection:
        upsert(connection, AgreementAlertRow.__table__, rows, ("pipeline", "hubspot_id", "state"))
