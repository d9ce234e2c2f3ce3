"""State for HubSpot contacts that moved (``contact_moves``), written in the forward leg's batch
transaction (``StateStore.commit_batch``) after the Salesforce write it records.

A merge that moves a link (``action == "moved"``) also moves what state keeps under the old id:
the survivor's link row keeps the hand-over time and attribution of the old one (the closed-loop
report counts the Lead once, from when it was handed over), the outcome row moves to the survivor
(unless it has its own), and the old id's rejections go. Every other move leaves the link row in
place (the Lead was handed over; the report still counts it), records what was done, and drops
the contact's rejections (it is never written again, so nothing is left to fix).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from state.db import chunks, rows_in, upsert
from state.models import ContactMoveRow, FeedbackRejectionRow, LinkRow, OutcomeRow, RejectionRow
from syncd.core.records import Move


def _move(row: ContactMoveRow) -> Move:
    return Move(row.hubspot_id, row.kind, row.action, row.lead_id, row.into)


def moves_for(session: Session, pipeline: str, hubspot_ids: Iterable[str]) -> dict[str, Move]:
    return {row.hubspot_id: _move(row) for row in rows_in(session, ContactMoveRow, pipeline,
                                                         ContactMoveRow.hubspot_id, hubspot_ids)}


def count_moves(session: Session, pipeline: str) -> dict[str, int]:
    """Moved contacts by kind and action, e.g. {"merged/moved": 3, "archived/leave": 1}."""
    rows = session.execute(select(ContactMoveRow.kind, ContactMoveRow.action, func.count())
                           .where(ContactMoveRow.pipeline == pipeline)
                           .group_by(ContactMoveRow.kind, ContactMoveRow.action))
    return {f"{kind}/{action}": int(n) for kind, action, n in rows}


def _take_over(connection: Connection, pipeline: str, move: Move) -> None:
    """The survivor's link row (just written) takes the old one's place; the old id's rows go."""
    links, outcomes = LinkRow.__table__, OutcomeRow.__table__
    old = connection.execute(select(links).where(links.c.pipeline == pipeline,
                                                 links.c.hubspot_id == move.hubspot_id)).first()
    if old is not None:
        connection.execute(links.update().where(links.c.pipeline == pipeline, links.c.hubspot_id == move.into)
                           .values(first_synced_at=old.first_synced_at, source=old.source,
                                   campaign=old.campaign, content=old.content))
        connection.execute(links.delete().where(links.c.pipeline == pipeline, links.c.hubspot_id == move.hubspot_id))
    own = connection.execute(select(outcomes.c.hubspot_id).where(outcomes.c.pipeline == pipeline,
                                                                 outcomes.c.hubspot_id == move.into)).first()
    where_old = (outcomes.c.pipeline == pipeline) & (outcomes.c.hubspot_id == move.hubspot_id)
    if own is None:
        connection.execute(outcomes.update().where(where_old).values(hubspot_id=move.into))
    else:
        connection.execute(outcomes.delete().where(where_old))
    for table in (RejectionRow.__table__, FeedbackRejectionRow.__table__):
        connection.execute(table.delete().where(table.c.pipeline == pipeline, table.c.hubspot_id == move.hubspot_id))


def write_moves(connection: Connection, pipeline: str, moves: Sequence[Move], restored: Sequence[str], *,
                run_id: str | None, now: dt.datetime) -> None:
    """Inside the caller's transaction: record moves (after their Salesforce write) and forget
    the moves of contacts that came back (restored from HubSpot's recycle bin)."""
    table = ContactMoveRow.__table__
    for chunk in chunks(list(dict.fromkeys(restored))):
        connection.execute(table.delete().where(table.c.pipeline == pipeline, table.c.hubspot_id.in_(chunk)))
    for move in moves:
        if move.action == "moved":
            _take_over(connection, pipeline, move)
    # A contact archived, deleted or merged away (its Lead left behind) is never written again, so its rejections cannot be
    # fixed or retried; a refused outcome (OBJECT_NOT_FOUND) is how a deleted one was found. They
    # go with the move, or `syncd status` would list them for ever.
    gone = [m.hubspot_id for m in moves if m.action != "moved"]
    for chunk in chunks(gone):
        for rejections in (RejectionRow.__table__, FeedbackRejectionRow.__table__):
            connection.execute(rejections.delete().where(rejections.c.pipeline == pipeline,
                                                         rejections.c.hubspot_id.in_(chunk)))
    upsert(connection, table, [{
        "pipeline": pipeline, "hubspot_id": m.hubspot_id, "kind": m.kind, "action": m.action, "lead_id": m.lead_id,
        "into": m.into, "noticed_at": now, "run_id": run_id} for m in {m.hubspot_id: m for m in moves}.values()],
        ("pipeline", "hubspot_id"))
