"""StateStore: the state database's one entry point for the forward leg, cursors and runs.

Every method is one short transaction. ``commit_batch`` records the outcome of one Salesforce
write (links, rejections) and is called only after that write returned, so state never claims a
write that did not happen; a crash between the write and the commit makes the next run write the
same records again, which the external-id upsert makes harmless. The cursor of a window moves in
the same transaction as the window's last batch (``cursors=``), never before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Table, bindparam, case, func, inspect, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from state import activities as lead_activities
from state import moves as contact_moves
from state.db import aware, chunks, make_engine, migrate, rows_in, upsert
from state.models import CursorRow, LeadActivityRow, LinkRow, RejectionColumns, RejectionRow, RunRow, utcnow
from state.text import storable
from syncd.core.agreement import Activity, TrackedLead
from syncd.core.ports import ActivityQuery
from syncd.core.records import Link, Move, Rejection


def _cut(value: str | None, size: int = 255) -> str | None:
    return storable(value, size) or None


def rejection(row: RejectionColumns) -> Rejection:
    return Rejection(row.hubspot_id, row.code, row.message, row.payload_hash, row.retryable)


def _link(row: LinkRow) -> Link:
    return Link(row.hubspot_id, row.lead_id, row.contact_id, row.converted, row.payload_hash,
                (row.source, row.campaign, row.content), row.source_modified, row.mapping_fp,
                row.lead_moved, row.former_lead_id, row.lead_unmarked)


class StateStore:
    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, read_only=read_only)

    # -- lifecycle -------------------------------------------------------------------------
    def migrate(self) -> None:
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # -- links ----------------------------------------------------------------------------
    def links_for(self, pipeline: str, hubspot_ids: Iterable[str]) -> dict[str, Link]:
        with self.session() as session:
            return {row.hubspot_id: _link(row) for row in rows_in(session, LinkRow, pipeline, LinkRow.hubspot_id,
                                                                  hubspot_ids)}

    def links_by_lead(self, pipeline: str, lead_ids: Iterable[str]) -> dict[str, list[Link]]:
        """The links pointing at these Leads (a Lead found by email, or a merge master, carries no
        contact id of ours: the link is the only way from it to its contact)."""
        found: dict[str, list[Link]] = {}
        with self.session() as session:
            for row in rows_in(session, LinkRow, pipeline, LinkRow.lead_id, lead_ids):
                found.setdefault(row.lead_id, []).append(_link(row))
        return found

    def unmarked_lead_ids(self, pipeline: str, *, unknown: bool = False) -> list[str]:
        """Leads linked to a contact that do not carry its external id (``unknown``: links older than
        schema v4 to a converted Lead, which may or may not)."""
        flag = LinkRow.lead_unmarked.is_(None) if unknown else LinkRow.lead_unmarked == True  # noqa: E712
        query = select(LinkRow.lead_id).where(LinkRow.pipeline == pipeline, LinkRow.lead_id.is_not(None), flag)
        if unknown:
            query = query.where(LinkRow.converted == True)  # noqa: E712 - SQL expression
        with self.session() as session:
            return sorted(set(session.exec(query)))

    def set_unmarked(self, pipeline: str, flags: dict[str, bool]) -> None:
        """Record, per contact, whether its Lead carries our external id (read, not written: the
        links older than schema v4 learn it once)."""
        table = LinkRow.__table__
        with self.engine.begin() as connection:
            for value in (True, False):
                ids = [h for h, flag in flags.items() if flag is value]
                for chunk in chunks(ids):
                    connection.execute(table.update().where(table.c.pipeline == pipeline,
                                                            table.c.hubspot_id.in_(chunk)).values(lead_unmarked=value))

    def count_moved(self, pipeline: str) -> dict[str, int]:
        """Links whose Salesforce Lead moved, by state: deleted (unlinked), held (merged into a Lead
        carrying another contact's id)."""
        with self.session() as session:
            rows = session.exec(select(LinkRow.lead_moved, func.count()).where(
                LinkRow.pipeline == pipeline, LinkRow.lead_moved.is_not(None)).group_by(LinkRow.lead_moved))
            return {str(moved): int(count) for moved, count in rows}

    def count_links(self, pipeline: str) -> int:
        with self.session() as session:
            return session.exec(select(func.count()).select_from(LinkRow)
                                .where(LinkRow.pipeline == pipeline)).one()

    def all_links(self, pipeline: str) -> list[LinkRow]:
        with self.session() as session:
            return list(session.exec(select(LinkRow).where(LinkRow.pipeline == pipeline)
                                     .order_by(LinkRow.hubspot_id)))

    def handed_over(self, pipeline: str, since: dt.datetime | None = None) -> list[str]:
        """Contacts whose Lead is still theirs to write (linked, not converted, not moved), in id
        order; ``since``: handed over (first written) at or after it. `syncd backfill`'s candidates."""
        query = select(LinkRow.hubspot_id).where(
            LinkRow.pipeline == pipeline, LinkRow.lead_id.is_not(None),  # type: ignore[union-attr]
            LinkRow.converted == False, LinkRow.lead_moved.is_(None))  # type: ignore[union-attr]  # noqa: E712
        if since is not None:
            query = query.where(LinkRow.first_synced_at >= since.astimezone(dt.timezone.utc))
        with self.session() as session:
            return list(session.exec(query.order_by(LinkRow.hubspot_id)))

    # -- contacts that moved (merged, archived, deleted) ---------------------------------
    def moves_for(self, pipeline: str, hubspot_ids: Iterable[str]) -> dict[str, Move]:
        with self.session() as session:
            return contact_moves.moves_for(session, pipeline, hubspot_ids)

    def count_moves(self, pipeline: str) -> dict[str, int]:
        if not inspect(self.engine).has_table("contact_moves"):    # read-only, before schema 4
            return {}
        with self.session() as session:
            return contact_moves.count_moves(session, pipeline)

    def rejections_coded(self, pipeline: str, table: Table, code: str) -> list[str]:
        """Contacts one leg's rejection table holds with this code (e.g. the back leg's OBJECT_NOT_FOUND)."""
        with self.engine.connect() as connection:
            return list(connection.execute(select(table.c.hubspot_id).where(
                table.c.pipeline == pipeline, table.c.code == code).order_by(table.c.hubspot_id)).scalars())

    # -- the agreement: what Sales did to handed-over Leads (state.activities) ---------------
    def commit_activities(self, pipeline: str, *, activities: Sequence[Activity] = (),
                          owners: dict[str, tuple[str | None, str | None]] | None = None,
                          owner_names: dict[str, str | None] | None = None,
                          cursors: dict[str, str] | None = None, now: dt.datetime | None = None) -> None:
        """Store activities (by Salesforce Id), Lead owners and owners' names, and move the tracking
        cursor, in one transaction: the cursor never passes an activity that is not stored."""
        now = now or utcnow()
        with self.engine.begin() as connection:
            lead_activities.write_activities(connection, pipeline, activities)
            lead_activities.write_owners(connection, pipeline, owners or {}, now)
            lead_activities.write_owner_names(connection, pipeline, owner_names or {}, now)
            self.write_cursors(connection, pipeline, cursors or {}, now)

    def owners_unknown(self, pipeline: str, limit: int) -> list[str]:
        with self.session() as session:
            return lead_activities.owners_unknown(session, pipeline, limit)

    def owners_to_name(self, pipeline: str, *, also: Sequence[str] = (), max_age: dt.timedelta,
                       limit: int, now: dt.datetime | None = None) -> list[str]:
        """Owners whose name was never read, or read more than ``max_age`` ago (``state.activities``)."""
        with self.session() as session:
            return lead_activities.owners_to_name(session, pipeline, also, (now or utcnow()) - max_age, limit)

    def first_hand_over(self, pipeline: str) -> dt.datetime | None:
        """When the pipeline's first contact still linked was handed over (None: no link yet)."""
        with self.session() as session:
            return aware(session.exec(select(func.min(LinkRow.first_synced_at))
                                      .where(LinkRow.pipeline == pipeline)).one())

    def lead_activities(self, pipeline: str) -> list[LeadActivityRow]:
        with self.session() as session:
            return list(session.exec(select(LeadActivityRow).where(LeadActivityRow.pipeline == pipeline)
                                     .order_by(LeadActivityRow.at, LeadActivityRow.activity_id)))

    def tracked_leads(self, pipeline: str, *, handed_over_from: dt.datetime | None = None,
                      handed_over_to: dt.datetime | None = None, query: ActivityQuery) -> list[TrackedLead]:
        """Handed-over contacts and what Sales did with them (``state.activities.tracked_leads``)."""
        with self.session() as session:
            return lead_activities.tracked_leads(session, pipeline, handed_over_from=handed_over_from,
                                                 handed_over_to=handed_over_to, query=query)

    # -- rejections -----------------------------------------------------------------------
    def rejections_for(self, pipeline: str, hubspot_ids: Iterable[str]) -> dict[str, Rejection]:
        with self.session() as session:
            return {row.hubspot_id: rejection(row) for row in rows_in(
                session, RejectionRow, pipeline, RejectionRow.hubspot_id, hubspot_ids)}

    def rejected_ids(self, pipeline: str, *, retryable_only: bool = False) -> list[str]:
        with self.session() as session:
            query = select(RejectionRow.hubspot_id).where(RejectionRow.pipeline == pipeline)
            if retryable_only:
                query = query.where(RejectionRow.retryable == True)  # noqa: E712 - SQL expression
            return list(session.exec(query.order_by(RejectionRow.hubspot_id)))

    def list_rejections(self, pipeline: str, limit: int = 50) -> list[RejectionRow]:
        with self.session() as session:
            return list(session.exec(select(RejectionRow).where(RejectionRow.pipeline == pipeline)
                                     .order_by(RejectionRow.last_seen_at.desc()).limit(limit)))

    def count_rejections(self, pipeline: str) -> int:
        with self.session() as session:
            return session.exec(select(func.count()).select_from(RejectionRow)
                                .where(RejectionRow.pipeline == pipeline)).one()

    # -- the one write path for a batch --------------------------------------------------
    def commit_batch(self, pipeline: str, *, links: Sequence[Link] = (), rejections: Sequence[Rejection] = (),
                     resolved: Sequence[str] = (), run_id: str | None = None, cursors: dict[str, str] | None = None,
                     now: dt.datetime | None = None, moves: Sequence[Move] = (), restored: Sequence[str] = (),
                     handed_over_at: dt.datetime | None = None) -> None:
        """Record one confirmed batch in one transaction: links written, records rejected,
        rejections resolved, contacts that moved (``state.moves``) and (the window's last batch)
        the cursors. Natural-key upserts, one statement per kind of row. A new link's hand-over
        (``first_synced_at``) is ``handed_over_at`` (the target's time of the write) or ``now``."""
        now = now or utcnow()
        with self.engine.begin() as connection:
            self._write_links(connection, pipeline, links, now, handed_over_at or now)
            self.write_rejections(connection, RejectionRow.__table__, pipeline, rejections, resolved,
                                  run_id=run_id, now=now)
            contact_moves.write_moves(connection, pipeline, moves, restored, run_id=run_id, now=now)
            self.write_cursors(connection, pipeline, cursors or {}, now)

    @staticmethod
    def _write_links(connection: Connection, pipeline: str, links: Sequence[Link], now: dt.datetime,
                     handed_over_at: dt.datetime) -> None:
        rows = {link.hubspot_id: {
            "pipeline": pipeline, "hubspot_id": link.hubspot_id, "lead_id": link.lead_id,
            "contact_id": link.contact_id, "converted": link.converted, "payload_hash": link.payload_hash,
            "source": _cut(link.attribution[0]), "campaign": _cut(link.attribution[1]),
            "content": _cut(link.attribution[2]), "first_synced_at": handed_over_at, "last_synced_at": now,
            "source_modified": _cut(link.source_modified, 32), "mapping_fp": _cut(link.mapping_fingerprint, 16),
            "lead_moved": link.moved, "former_lead_id": link.former_lead_id, "lead_unmarked": link.unmarked,
        } for link in links}
        old = LinkRow.__table__.c
        upsert(connection, LinkRow.__table__, list(rows.values()), ("pipeline", "hubspot_id"), lambda new: {
            # What Salesforce just confirmed wins; what it did not say is kept. An unlinked contact
            # (its Lead deleted) points at no Lead: a link never points at a deleted one.
            "lead_id": case((new.lead_moved == "deleted", None), else_=func.coalesce(new.lead_id, old.lead_id)),
            "contact_id": func.coalesce(new.contact_id, old.contact_id),
            "converted": new.converted | old.converted,
            "payload_hash": new.payload_hash,
            "source": func.coalesce(new.source, old.source),
            "campaign": func.coalesce(new.campaign, old.campaign),
            "content": func.coalesce(new.content, old.content),
            "last_synced_at": new.last_synced_at,
            "source_modified": new.source_modified,
            "mapping_fp": new.mapping_fp,
            "lead_moved": new.lead_moved,
            "former_lead_id": func.coalesce(new.former_lead_id, old.former_lead_id),
            "lead_unmarked": func.coalesce(new.lead_unmarked, old.lead_unmarked),
        })
        # The definition parts met at hand-over (the agreement): written once, never overwritten.
        parts = [{"p": pipeline, "h": link.hubspot_id, "parts": link.agreement_parts}
                 for link in links if link.agreement_parts is not None]
        if parts:
            connection.execute(update(LinkRow.__table__).where(
                old.pipeline == bindparam("p"), old.hubspot_id == bindparam("h"),
                old.agreement_parts.is_(None)).values(agreement_parts=bindparam("parts")), parts)

    @staticmethod
    def write_rejections(connection: Connection, table: Table, pipeline: str, rejections: Sequence[Rejection],
                         resolved: Sequence[str], *, run_id: str | None, now: dt.datetime) -> None:
        """Inside the caller's transaction: clear resolved rejections and upsert new ones
        (attempts counted). Shared by both legs' rejection tables, which have the same columns."""
        refused = {r.hubspot_id for r in rejections}
        gone = [h for h in dict.fromkeys(resolved) if h not in refused]
        for chunk in chunks(gone):
            connection.execute(table.delete().where(table.c.pipeline == pipeline, table.c.hubspot_id.in_(chunk)))
        rows = {r.hubspot_id: {
            "pipeline": pipeline, "hubspot_id": r.hubspot_id, "code": storable(r.code, 80), "message": storable(r.message),
            "payload_hash": r.payload_hash, "retryable": r.retryable, "attempts": 1,
            "first_seen_at": now, "last_seen_at": now, "run_id": run_id,
        } for r in rejections}
        old = table.c
        upsert(connection, table, list(rows.values()), ("pipeline", "hubspot_id"), lambda new: {
            "code": new.code, "message": new.message, "payload_hash": new.payload_hash, "retryable": new.retryable,
            "attempts": old.attempts + 1, "last_seen_at": new.last_seen_at, "run_id": new.run_id})

    @staticmethod
    def write_cursors(connection: Connection, pipeline: str, values: dict[str, str], now: dt.datetime) -> None:
        upsert(connection, CursorRow.__table__, [
            {"pipeline": pipeline, "name": name, "value": value, "updated_at": now} for name, value in values.items()],
            ("pipeline", "name"))

    # -- cursors ---------------------------------------------------------------------------
    def get_cursor(self, pipeline: str, name: str) -> str | None:
        with self.session() as session:
            row = session.get(CursorRow, (pipeline, name))
            return row.value if row else None

    def set_cursor(self, pipeline: str, name: str, value: str) -> None:
        self.set_cursors(pipeline, {name: value})

    def set_cursors(self, pipeline: str, values: dict[str, str]) -> None:
        """Set several cursors in one transaction (a window and the mapping it was read with)."""
        with self.engine.begin() as connection:
            self.write_cursors(connection, pipeline, values, utcnow())

    def cursors(self, pipeline: str) -> list[CursorRow]:
        with self.session() as session:
            return list(session.exec(select(CursorRow).where(CursorRow.pipeline == pipeline)))

    # -- runs ------------------------------------------------------------------------------
    def start_run(self, run_id: str, pipeline: str, *, dry_run: bool, now: dt.datetime | None = None,
                  leg: str = "forward") -> None:
        with self.session() as session:
            session.add(RunRow(id=run_id, pipeline=pipeline, dry_run=dry_run, started_at=now or utcnow(), leg=leg))
            session.commit()

    def finish_run(self, run_id: str, *, status: str, counts: dict, error: str | None = None) -> None:
        with self.session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                return
            row.status, row.counts, row.error = status, dict(counts), storable(error)
            row.finished_at = utcnow()
            session.add(row)
            session.commit()

    def recent_runs(self, pipeline: str, limit: int = 10) -> list[RunRow]:
        with self.session() as session:
            return list(session.exec(select(RunRow).where(RunRow.pipeline == pipeline)
                                     .order_by(RunRow.started_at.desc()).limit(limit)))
