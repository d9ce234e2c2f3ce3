"""StateStore: the only code that reads or writes the state database.

Every method is one short transaction. ``commit_batch`` records the outcome of one Salesforce
write (links, rejections) and is called only after that write returned, so state never claims a
write that did not happen; a crash between the write and the commit makes the next run write the
same records again, which the external-id upsert makes harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import event, func, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

from state import lock as _lock  # noqa: F401 - registers the leases table for migrate()
from state.models import CursorRow, LinkRow, RejectionRow, RunRow, SchemaVersionRow, utcnow
import state.outcomes  # noqa: F401 - registers the closed-loop tables (outcomes, feedback_rejections)
from syncd.core.records import Link, Rejection

SCHEMA_VERSION = 2   # 2: closed-loop tables (state/outcomes.py) and runs.leg
_CHUNK = 500  # ids per IN (...) query: well under SQLite's and PostgreSQL's parameter limits


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API types
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")   # readers (syncd status) never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) not in ("", ":memory:"):
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Timestamps are stored naive, in UTC: make the session agree, whatever the server's zone.
    return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC", "connect_timeout": 10})


def _cut(value: str | None, size: int = 255) -> str | None:
    return value[:size] if value else None


class StateStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    # -- lifecycle -------------------------------------------------------------------------
    def migrate(self) -> None:
        """Create missing tables and record the schema version, in one transaction."""
        with self.engine.begin() as connection:
            SQLModel.metadata.create_all(connection)
            # v2: runs.leg (forward/back); a runs table created by v1 lacks the column.
            if "leg" not in {c["name"] for c in inspect(connection).get_columns("runs")}:
                connection.execute(text("ALTER TABLE runs ADD COLUMN leg VARCHAR(8) NOT NULL DEFAULT 'forward'"))
            with Session(connection) as session:
                if session.get(SchemaVersionRow, SCHEMA_VERSION) is None:
                    session.add(SchemaVersionRow(version=SCHEMA_VERSION))
                    session.commit()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # -- links ----------------------------------------------------------------------------
    def links_for(self, pipeline: str, hubspot_ids: Iterable[str]) -> dict[str, Link]:
        ids = list(dict.fromkeys(hubspot_ids))
        found: dict[str, Link] = {}
        with self.session() as session:
            for chunk in _chunks(ids):
                rows = session.exec(select(LinkRow).where(LinkRow.pipeline == pipeline,
                                                          LinkRow.hubspot_id.in_(chunk)))
                for row in rows:
                    found[row.hubspot_id] = Link(row.hubspot_id, row.lead_id, row.contact_id,
                                                 row.converted, row.payload_hash)
        return found

    def count_links(self, pipeline: str) -> int:
        with self.session() as session:
            return session.exec(select(func.count()).select_from(LinkRow)
                                .where(LinkRow.pipeline == pipeline)).one()

    def all_links(self, pipeline: str) -> list[LinkRow]:
        with self.session() as session:
            return list(session.exec(select(LinkRow).where(LinkRow.pipeline == pipeline)
                                     .order_by(LinkRow.hubspot_id)))

    # -- rejections -----------------------------------------------------------------------
    def rejections_for(self, pipeline: str, hubspot_ids: Iterable[str]) -> dict[str, Rejection]:
        ids = list(dict.fromkeys(hubspot_ids))
        found: dict[str, Rejection] = {}
        with self.session() as session:
            for chunk in _chunks(ids):
                rows = session.exec(select(RejectionRow).where(RejectionRow.pipeline == pipeline,
                                                               RejectionRow.hubspot_id.in_(chunk)))
                for row in rows:
                    found[row.hubspot_id] = Rejection(row.hubspot_id, row.code, row.message,
                                                      row.payload_hash, row.retryable)
        return found

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
    def _insert(self, table):  # noqa: ANN001, ANN202 - dialect-specific INSERT ... ON CONFLICT
        return (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(table)

    def commit_batch(self, pipeline: str, *, links: Sequence[Link] = (),
                     rejections: Sequence[Rejection] = (), resolved: Sequence[str] = (),
                     run_id: str | None = None, now: dt.datetime | None = None) -> None:
        """Record one confirmed batch in one transaction: links written, records rejected,
        rejections resolved. Natural-key upserts, one statement per kind of row."""
        now = now or utcnow()
        links_table = LinkRow.__table__
        with self.engine.begin() as connection:
            if links:
                rows = {link.hubspot_id: {
                    "pipeline": pipeline, "hubspot_id": link.hubspot_id, "lead_id": link.lead_id,
                    "contact_id": link.contact_id, "converted": link.converted,
                    "payload_hash": link.payload_hash,
                    "source": _cut(link.attribution[0]), "campaign": _cut(link.attribution[1]),
                    "content": _cut(link.attribution[2]), "first_synced_at": now, "last_synced_at": now,
                } for link in links}
                insert = self._insert(links_table)
                old = links_table.c
                connection.execute(insert.on_conflict_do_update(
                    index_elements=[old.pipeline, old.hubspot_id],
                    set_={
                        # What Salesforce just confirmed wins; what it did not say is kept.
                        "lead_id": func.coalesce(insert.excluded.lead_id, old.lead_id),
                        "contact_id": func.coalesce(insert.excluded.contact_id, old.contact_id),
                        "converted": insert.excluded.converted | old.converted,
                        "payload_hash": insert.excluded.payload_hash,
                        "source": func.coalesce(insert.excluded.source, old.source),
                        "campaign": func.coalesce(insert.excluded.campaign, old.campaign),
                        "content": func.coalesce(insert.excluded.content, old.content),
                        "last_synced_at": insert.excluded.last_synced_at,
                    }), list(rows.values()))
            self.write_rejections(connection, RejectionRow.__table__, pipeline, rejections, resolved,
                                  run_id=run_id, now=now)

    def write_rejections(self, connection, table, pipeline: str, rejections: Sequence[Rejection],  # noqa: ANN001
                         resolved: Sequence[str], *, run_id: str | None, now: dt.datetime) -> None:
        """Inside the caller's transaction: clear resolved rejections and upsert new ones
        (attempts counted). Shared by both legs' rejection tables, which have the same columns."""
        refused = {r.hubspot_id for r in rejections}
        gone = [h for h in dict.fromkeys(resolved) if h not in refused]
        for chunk in _chunks(gone):
            connection.execute(table.delete().where(table.c.pipeline == pipeline, table.c.hubspot_id.in_(chunk)))
        if not rejections:
            return
        rows = {r.hubspot_id: {
            "pipeline": pipeline, "hubspot_id": r.hubspot_id, "code": r.code[:80], "message": r.message,
            "payload_hash": r.payload_hash, "retryable": r.retryable, "attempts": 1,
            "first_seen_at": now, "last_seen_at": now, "run_id": run_id,
        } for r in rejections}
        insert = self._insert(table)
        old = table.c
        connection.execute(insert.on_conflict_do_update(
            index_elements=[old.pipeline, old.hubspot_id],
            set_={"code": insert.excluded.code, "message": insert.excluded.message,
                  "payload_hash": insert.excluded.payload_hash, "retryable": insert.excluded.retryable,
                  "attempts": old.attempts + 1, "last_seen_at": insert.excluded.last_seen_at,
                  "run_id": insert.excluded.run_id}), list(rows.values()))

    # -- cursors ---------------------------------------------------------------------------
    def get_cursor(self, pipeline: str, name: str) -> str | None:
        with self.session() as session:
            row = session.get(CursorRow, (pipeline, name))
            return row.value if row else None

    def set_cursor(self, pipeline: str, name: str, value: str) -> None:
        self.set_cursors(pipeline, {name: value})

    def set_cursors(self, pipeline: str, values: dict[str, str]) -> None:
        """Set several cursors in one transaction (a window and the mapping it was read with)."""
        with self.session() as session:
            for name, value in values.items():
                row = session.get(CursorRow, (pipeline, name)) or CursorRow(pipeline=pipeline, name=name, value=value)
                row.value, row.updated_at = value, utcnow()
                session.add(row)
            session.commit()

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
            row.status, row.counts, row.error = status, dict(counts), error
            row.finished_at = utcnow()
            session.add(row)
            session.commit()

    def recent_runs(self, pipeline: str, limit: int = 10) -> list[RunRow]:
        with self.session() as session:
            return list(session.exec(select(RunRow).where(RunRow.pipeline == pipeline)
                                     .order_by(RunRow.started_at.desc()).limit(limit)))
