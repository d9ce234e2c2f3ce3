"""State for the Sales–Marketing agreement (issue #10): the leads it tracks and the alerts raised.

``tracked_leads`` joins ``links`` (hand-over time, attribution, the definition parts met),
``outcomes`` (disqualified or converted, as the back leg last saw it) and ``lead_activities`` (the
attempts Sales made, counted as ``ActivityQuery`` says) into ``TrackedLead``. It is the minimal
version the agreement report needs; ``StateStore.tracked_leads`` (written in parallel, same
signature) supersedes it when both are merged.

``agreement_alerts`` holds one row per (contact, state) alerted: ``record_alerts`` is called only
after the remote writes the rows record (the owner's Task, the HubSpot property) have returned.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select

from state.db import aware, upsert
from state.models import AgreementAlertRow, LeadActivityRow, LinkRow, OutcomeRow, utcnow
from state.store import StateStore
from syncd.core.agreement import TrackedLead
from syncd.core.ports import ActivityQuery


def counts(row: LeadActivityRow, query: ActivityQuery) -> bool:
    """Whether this activity is an attempt under the agreement's ``attempts.count``."""
    if row.kind == "task":
        return (row.subtype or "") in query.task_subtypes
    if row.kind == "event":
        return query.events
    return query.status_changes and (row.subtype or "") in query.working_statuses


def tracked_leads(store: StateStore, pipeline: str, *, handed_over_from: dt.datetime | None = None,
                  handed_over_to: dt.datetime | None = None, query: ActivityQuery) -> list[TrackedLead]:
    """Every handed-over contact with a Lead, handed over in [from, to), with what Sales did."""
    with store.session() as session:
        statement = select(LinkRow).where(LinkRow.pipeline == pipeline, LinkRow.lead_id.is_not(None))  # type: ignore[union-attr]
        if handed_over_from is not None:
            statement = statement.where(LinkRow.first_synced_at >= handed_over_from)
        if handed_over_to is not None:
            statement = statement.where(LinkRow.first_synced_at < handed_over_to)
        links = list(session.exec(statement))
        ids = [link.hubspot_id for link in links]
        outcomes = {row.hubspot_id: row for row in session.exec(
            select(OutcomeRow).where(OutcomeRow.pipeline == pipeline, OutcomeRow.hubspot_id.in_(ids)))}  # type: ignore[attr-defined]
        lead_ids = [link.lead_id for link in links]
        activities: dict[str, list[LeadActivityRow]] = defaultdict(list)
        for row in session.exec(select(LeadActivityRow).where(
                LeadActivityRow.pipeline == pipeline, LeadActivityRow.lead_id.in_(lead_ids))):  # type: ignore[attr-defined]
            if counts(row, query):
                activities[row.lead_id].append(row)
    tracked = []
    for link in links:
        outcome = outcomes.get(link.hubspot_id)
        done = sorted(activities.get(link.lead_id or "", []), key=lambda row: aware(row.at))  # type: ignore[arg-type,return-value]
        converted = bool(link.converted or (outcome and outcome.converted))
        disqualified = outcome is not None and outcome.outcome == "disqualified"
        owner = (outcome.lead_fields or {}).get("OwnerId") if outcome else None
        tracked.append(TrackedLead(
            hubspot_id=link.hubspot_id, lead_id=link.lead_id, handed_over_at=aware(link.first_synced_at),  # type: ignore[arg-type]
            owner_id=owner or next((row.owner_id for row in reversed(done) if row.owner_id), None),
            first_contact_at=aware(done[0].at) if done else None, attempts=len(done),
            status=outcome.lead_status if outcome else None,
            closed_at=aware(outcome.outcome_at) if disqualified and outcome else None, converted=converted,
            parts=dict(link.agreement_parts or {}), source=link.source, campaign=link.campaign))
    return tracked


@dataclass(frozen=True)
class Alert:
    """One alert raised: a contact, the state it was alerted for, and the Task made for it."""

    hubspot_id: str
    state: str
    lead_id: str | None = None
    task_id: str | None = None


def raised(store: StateStore, pipeline: str) -> set[tuple[str, str]]:
    """(hubspot_id, state) of every alert already raised for the pipeline."""
    with store.session() as session:
        return {(row.hubspot_id, row.state) for row in session.exec(
            select(AgreementAlertRow).where(AgreementAlertRow.pipeline == pipeline))}


def record_alerts(store: StateStore, pipeline: str, alerts: Sequence[Alert], now: dt.datetime | None = None) -> None:
    """Record alerts raised (after their remote writes returned): one row per (contact, state)."""
    now = now or utcnow()
    rows = [{"pipeline": pipeline, "hubspot_id": a.hubspot_id, "state": a.state, "lead_id": a.lead_id,
             "raised_at": now, "task_id": a.task_id} for a in alerts]
    with store.engine.begin() as connection:
        upsert(connection, AgreementAlertRow.__table__, rows, ("pipeline", "hubspot_id", "state"))
