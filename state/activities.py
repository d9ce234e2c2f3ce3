"""State for the agreement's tracking (issue #10): what Sales did to handed-over Leads.

- ``lead_activities``: one row per Task, Event or status change, keyed by its Salesforce Id, so an
  activity read twice (overlapping windows, a rerun after a crash) is stored once. A Task or
  Event read as deleted (Salesforce's recycle bin) removes its row, in the same transaction as the
  other rows of its page; read again restored, it is written again.
- ``lead_owners``: the owner and status of Leads the back leg does not read (nobody worked them).
- ``owner_names``: the names of the owners (Users, queues) those and the back leg's outcomes name,
  read once and re-read at most once a day (``owners_to_name``).

``commit`` stores a window's activities and owners and moves the tracking cursor in one
transaction, after the rows: a crash before it loses nothing (the cursor stays, the next run reads
the window again), a crash after it doubles nothing.

``tracked_leads`` joins links (the hand-over), outcomes, owners and activities into the
agreement's ``TrackedLead``: one aggregate query per table, each joined to the links of the
hand-over range, so 100,000 links cost five queries (the fifth: the owners' names), not one per lead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, true
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from state.db import aware, upsert
from state.models import (
    LeadActivityRow,
    LeadOwnerRow,
    LinkRow,
    OutcomeRow,
    OwnerNameRow,
)
from state.text import storable
from syncd.core.agreement import Activity, ActivityKind, TrackedLead
from syncd.core.outcomes import Outcome
from syncd.core.ports import ActivityQuery

# Outcomes that mean the Lead was converted (an Opportunity, open or closed, or a Contact).
_CONVERTED = frozenset({Outcome.OPPORTUNITY, Outcome.WON, Outcome.LOST})


def _utc(moment: dt.datetime) -> dt.datetime:
    """Stored in UTC (SQLite keeps a datetime's wall clock as it is given)."""
    return moment.astimezone(dt.timezone.utc) if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def write_activities(connection: Connection, pipeline: str, activities: Sequence[Activity]) -> None:
    """Upsert by Salesforce Id: an activity read again (its Task edited) is rewritten, never doubled;
    one read as deleted is removed (removing it again, or one never stored, changes nothing)."""
    gone = [a.id for a in activities if a.deleted]
    if gone:
        table = LeadActivityRow.__table__
        connection.execute(delete(table).where(table.c.pipeline == pipeline, table.c.activity_id.in_(gone)))
    rows = {a.id: {"pipeline": pipeline, "activity_id": a.id, "lead_id": a.lead_id, "kind": str(a.kind),
                   "subtype": storable(a.subtype, 255) or None, "old_status": storable(a.old_status, 255) or None,
                   "owner_id": a.owner_id, "at": _utc(a.at)} for a in activities if not a.deleted}
    upsert(connection, LeadActivityRow.__table__, list(rows.values()), ("pipeline", "activity_id"))


def write_owners(connection: Connection, pipeline: str, owners: dict[str, tuple[str | None, str | None]],
                 now: dt.datetime) -> None:
    rows = [{"pipeline": pipeline, "lead_id": lead_id, "owner_id": owner, "status": storable(status, 255) or None,
             "read_at": now} for lead_id, (owner, status) in owners.items()]
    upsert(connection, LeadOwnerRow.__table__, rows, ("pipeline", "lead_id"))


def write_owner_names(connection: Connection, pipeline: str, names: dict[str, str | None],
                      now: dt.datetime) -> None:
    rows = [{"pipeline": pipeline, "owner_id": owner_id, "name": storable(name, 255) or None, "read_at": _utc(now)}
            for owner_id, name in names.items()]
    upsert(connection, OwnerNameRow.__table__, rows, ("pipeline", "owner_id"))


def owners_to_name(session: Session, pipeline: str, also: Sequence[str], read_before: dt.datetime,
                   limit: int) -> list[str]:
    """The owners (of ``lead_owners``, of the back leg's outcomes, and ``also``) whose name was never
    read or was read before ``read_before``: never read first, then the oldest (at most ``limit``).
    Distinct owners are few (a sales team), so each query returns a handful of rows."""
    known = set(also)
    known.update(session.exec(select(LeadOwnerRow.owner_id).where(LeadOwnerRow.pipeline == pipeline,
                                                                  LeadOwnerRow.owner_id.is_not(None)).distinct()))
    seen = OutcomeRow.lead_fields["OwnerId"].as_string()
    known.update(session.exec(select(seen).where(OutcomeRow.pipeline == pipeline, seen.is_not(None)).distinct()))
    read = {row.owner_id: aware(row.read_at) for row in session.exec(
        select(OwnerNameRow).where(OwnerNameRow.pipeline == pipeline))}
    cutoff = _utc(read_before)
    due = [owner for owner in known if owner and (owner not in read or read[owner] < cutoff)]
    epoch = _utc(dt.datetime.min)
    return sorted(due, key=lambda owner: (read.get(owner) or epoch, owner))[:limit]


def owners_unknown(session: Session, pipeline: str, limit: int) -> list[str]:
    """Leads of open hand-overs whose owner was never read, newest hand-over first (at most ``limit``)."""
    owner = LeadOwnerRow
    query = (select(LinkRow.lead_id).outerjoin(owner, and_(owner.pipeline == LinkRow.pipeline,
                                                           owner.lead_id == LinkRow.lead_id))
             .where(LinkRow.pipeline == pipeline, LinkRow.lead_id.is_not(None), owner.lead_id.is_(None),
                    LinkRow.converted == false(), LinkRow.lead_moved.is_(None))
             .order_by(LinkRow.first_synced_at.desc(), LinkRow.lead_id).limit(limit))
    return list(dict.fromkeys(session.exec(query)))


def _hand_over_range(query: Any, handed_over_from: dt.datetime | None, handed_over_to: dt.datetime | None) -> Any:
    if handed_over_from is not None:
        query = query.where(LinkRow.first_synced_at >= _utc(handed_over_from))
    if handed_over_to is not None:
        query = query.where(LinkRow.first_synced_at < _utc(handed_over_to))
    return query


def _counted(query: ActivityQuery) -> Any:
    """The activities that count as an attempt, as a SQL condition."""
    row = LeadActivityRow
    return or_(and_(row.kind == ActivityKind.TASK.value, row.subtype.in_(list(query.task_subtypes))),
               and_(row.kind == ActivityKind.EVENT.value, true() if query.events else false()),
               and_(row.kind == ActivityKind.STATUS.value, true() if query.status_changes else false(),
                    row.subtype.in_(list(query.working_statuses))))


def tracked_leads(session: Session, pipeline: str, *, handed_over_from: dt.datetime | None = None,
                  handed_over_to: dt.datetime | None = None, query: ActivityQuery) -> list[TrackedLead]:
    """Every contact handed over in ``[handed_over_from, handed_over_to)`` and what Sales did with it:
    attempts (activities that count per ``query``, at or after the hand-over), the first of them,
    the Lead's status and owner, whether it was closed as not converted, or converted."""
    links = list(session.exec(_hand_over_range(select(LinkRow).where(LinkRow.pipeline == pipeline),
                                               handed_over_from, handed_over_to)))
    if not links:
        return []
    activity = LeadActivityRow
    attempts_query = _hand_over_range(
        select(LinkRow.hubspot_id, func.count(activity.activity_id), func.min(activity.at))
        .join(activity, and_(activity.pipeline == LinkRow.pipeline, activity.lead_id == LinkRow.lead_id))
        .where(LinkRow.pipeline == pipeline, activity.at >= LinkRow.first_synced_at, _counted(query))
        .group_by(LinkRow.hubspot_id), handed_over_from, handed_over_to)
    attempts = {hubspot_id: (int(count), aware(first)) for hubspot_id, count, first in session.exec(attempts_query)}
    outcomes = {row.hubspot_id: row for row in session.exec(_hand_over_range(
        select(OutcomeRow).join(LinkRow, and_(LinkRow.pipeline == OutcomeRow.pipeline,
                                              LinkRow.hubspot_id == OutcomeRow.hubspot_id))
        .where(OutcomeRow.pipeline == pipeline), handed_over_from, handed_over_to))}
    owners = {row.lead_id: row for row in session.exec(_hand_over_range(
        select(LeadOwnerRow).join(LinkRow, and_(LinkRow.pipeline == LeadOwnerRow.pipeline,
                                                LinkRow.lead_id == LeadOwnerRow.lead_id))
        .where(LeadOwnerRow.pipeline == pipeline), handed_over_from, handed_over_to).distinct())}
    names = {row.owner_id: row.name for row in session.exec(
        select(OwnerNameRow).where(OwnerNameRow.pipeline == pipeline, OwnerNameRow.name.is_not(None)))}
    tracked = [_tracked(link, attempts.get(link.hubspot_id), outcomes.get(link.hubspot_id),
                        owners.get(link.lead_id) if link.lead_id else None, names) for link in links]
    return sorted(tracked, key=lambda t: (t.handed_over_at, t.hubspot_id))


def _tracked(link: LinkRow, attempts: tuple[int, dt.datetime | None] | None, outcome: OutcomeRow | None,
             owner: LeadOwnerRow | None, names: dict[str, str | None]) -> TrackedLead:
    count, first = attempts or (0, None)
    owner_id, status = (owner.owner_id, owner.status) if owner is not None else (None, None)
    closed_at, converted = None, bool(link.converted)
    if outcome is not None:
        seen_owner = (outcome.lead_fields or {}).get("OwnerId")
        # The later read wins: the back leg reads a Lead each time Sales works it.
        if seen_owner and (owner is None or aware(outcome.updated_at) >= aware(owner.read_at)):
            owner_id = seen_owner
        if outcome.lead_status and (owner is None or aware(outcome.updated_at) >= aware(owner.read_at)):
            status = outcome.lead_status
        converted = converted or bool(outcome.converted) or outcome.outcome in _CONVERTED
        if outcome.outcome == Outcome.DISQUALIFIED:
            closed_at = aware(outcome.outcome_at)
    return TrackedLead(
        hubspot_id=link.hubspot_id, lead_id=link.lead_id, handed_over_at=aware(link.first_synced_at),
        owner_id=owner_id, owner_name=names.get(owner_id) if owner_id else None, first_contact_at=first, attempts=count, status=status, closed_at=closed_at,
        converted=converted, parts=dict(link.agreement_parts or {}), source=link.source, campaign=link.campaign)
