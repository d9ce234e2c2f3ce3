"""State for the back leg (Salesforce outcomes -> HubSpot) and the closed-loop report.

Two tables, natural keys, written by upserts:

- ``outcomes``: per handed-over contact, the last observed Lead/Opportunity, the derived outcome,
  the times syncd first saw Sales touch it and close it, and the hash of the last payload HubSpot
  accepted. The report reads it joined to ``links`` (hand-over time and attribution).
- ``feedback_rejections``: contacts HubSpot refused (e.g. deleted since hand-over), kept apart from
  the forward leg's ``rejections`` so neither leg clears the other's.

``OutcomeStore`` wraps a ``StateStore``; like it, every method is one short transaction, and
``commit`` is called only after the HubSpot write it records has returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from state.db import aware as _aware
from state.db import rows_in, upsert
from state.models import FeedbackRejectionRow, LinkRow, OutcomeRow, utcnow
from state.store import StateStore, rejection
from state.text import storable
from syncd.core.records import OutcomeState, Rejection


_STATE_COLUMNS = ("lead_id", "lead_status", "disqualified_reason", "converted", "opportunity_id", "stage", "closed",
                  "won", "amount", "close_date", "loss_reason", "outcome", "reason", "first_contacted_at",
                  "outcome_at", "closed_at", "lead_fields", "opportunity_fields", "feedback_hash")


def _cut(value: str | None, size: int = 255) -> str | None:
    return storable(value, size)


def _to_state(row: OutcomeRow) -> OutcomeState:
    return OutcomeState(
        row.hubspot_id, row.lead_id, row.lead_status, row.disqualified_reason, bool(row.converted),
        row.opportunity_id, row.stage, bool(row.closed), bool(row.won), row.amount, row.close_date,
        row.loss_reason, row.outcome, row.reason, _aware(row.first_contacted_at), _aware(row.outcome_at),
        _aware(row.closed_at), dict(row.lead_fields or {}), dict(row.opportunity_fields or {}), row.feedback_hash)


def _to_row(pipeline: str, state: OutcomeState, now: dt.datetime) -> dict[str, Any]:
    row = {name: getattr(state, name) for name in _STATE_COLUMNS}
    for name in ("lead_status", "disqualified_reason", "stage", "loss_reason", "reason"):
        row[name] = _cut(row[name])
    return {"pipeline": pipeline, "hubspot_id": state.hubspot_id, **row, "updated_at": now}


@dataclass(frozen=True)
class ReportRow:
    """One handed-over contact as the closed-loop report sees it."""

    hubspot_id: str
    source: str | None
    campaign: str | None
    content: str | None
    handed_over_at: dt.datetime
    outcome: str | None = None
    disqualified_reason: str | None = None
    loss_reason: str | None = None
    opportunity: bool = False
    amount: float | None = None
    first_contacted_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None


class OutcomeStore:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    # -- reads -------------------------------------------------------------------------------
    def has_opportunities(self, pipeline: str) -> bool:
        """Whether any contact's Lead was seen converted into an Opportunity (only then can one be deleted)."""
        with self.store.session() as session:
            return session.exec(select(OutcomeRow.hubspot_id).where(
                OutcomeRow.pipeline == pipeline, OutcomeRow.opportunity_id.is_not(None)).limit(1)).first() is not None

    def lead_ids_for_opportunities(self, pipeline: str, opportunity_ids: Iterable[str]) -> list[str]:
        """The Leads converted into these Opportunities, as last observed (a deleted Opportunity
        changes nothing on its Lead, so state is the way back to it)."""
        with self.store.session() as session:
            return sorted({row.lead_id for row in rows_in(session, OutcomeRow, pipeline, OutcomeRow.opportunity_id,
                                                         opportunity_ids) if row.lead_id})

    def states_for(self, pipeline: str, hubspot_ids: Iterable[str]) -> dict[str, OutcomeState]:
        with self.store.session() as session:
            return {row.hubspot_id: _to_state(row) for row in rows_in(
                session, OutcomeRow, pipeline, OutcomeRow.hubspot_id, hubspot_ids)}

    def rejections_for(self, pipeline: str, hubspot_ids: Iterable[str]) -> dict[str, Rejection]:
        with self.store.session() as session:
            return {row.hubspot_id: rejection(row) for row in rows_in(
                session, FeedbackRejectionRow, pipeline, FeedbackRejectionRow.hubspot_id, hubspot_ids)}

    def rejected_ids(self, pipeline: str, *, retryable_only: bool) -> list[str]:
        with self.store.session() as session:
            query = select(FeedbackRejectionRow.hubspot_id).where(FeedbackRejectionRow.pipeline == pipeline)
            if retryable_only:
                query = query.where(FeedbackRejectionRow.retryable == True)  # noqa: E712 - SQL expression
            return list(session.exec(query))

    def list_rejections(self, pipeline: str, limit: int = 50) -> list[FeedbackRejectionRow]:
        with self.store.session() as session:
            return list(session.exec(select(FeedbackRejectionRow).where(FeedbackRejectionRow.pipeline == pipeline)
                                     .order_by(FeedbackRejectionRow.last_seen_at.desc()).limit(limit)))

    def report_rows(self, pipeline: str, since: dt.datetime | None = None,
                    until: dt.datetime | None = None) -> list[ReportRow]:
        """Contacts handed over in [since, until), with their outcome if Sales did anything."""
        query = (select(LinkRow, OutcomeRow)
                 .join(OutcomeRow, (OutcomeRow.pipeline == LinkRow.pipeline)
                       & (OutcomeRow.hubspot_id == LinkRow.hubspot_id), isouter=True)
                 .where(LinkRow.pipeline == pipeline))
        if since is not None:
            query = query.where(LinkRow.first_synced_at >= since.astimezone(dt.timezone.utc))
        if until is not None:
            query = query.where(LinkRow.first_synced_at < until.astimezone(dt.timezone.utc))
        rows: list[ReportRow] = []
        with self.store.session() as session:
            for link, outcome in session.exec(query.order_by(LinkRow.hubspot_id)):
                handed = _aware(link.first_synced_at)
                assert handed is not None
                if outcome is None:
                    rows.append(ReportRow(link.hubspot_id, link.source, link.campaign, link.content, handed))
                    continue
                rows.append(ReportRow(
                    link.hubspot_id, link.source, link.campaign, link.content, handed, outcome.outcome,
                    outcome.disqualified_reason, outcome.loss_reason, bool(outcome.opportunity_id),
                    outcome.amount, _aware(outcome.first_contacted_at), _aware(outcome.closed_at)))
        return rows

    # -- the one write path --------------------------------------------------------------------
    def commit(self, pipeline: str, *, states: Sequence[OutcomeState] = (), rejections: Sequence[Rejection] = (),
               resolved: Sequence[str] = (), run_id: str | None = None, cursors: dict[str, str] | None = None,
               now: dt.datetime | None = None) -> None:
        """Record observed states (with the hash HubSpot confirmed), rejections, resolved
        rejections and (the window's last batch) the cursors, in one transaction."""
        now = now or utcnow()
        with self.store.engine.begin() as connection:
            rows = {s.hubspot_id: _to_row(pipeline, s, now) for s in states}
            upsert(connection, OutcomeRow.__table__, list(rows.values()), ("pipeline", "hubspot_id"))
            self.store.write_rejections(connection, FeedbackRejectionRow.__table__, pipeline, rejections, resolved,
                                        run_id=run_id, now=now)
            self.store.write_cursors(connection, pipeline, cursors or {}, now)
