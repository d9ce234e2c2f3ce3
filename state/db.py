"""The state database: engine, sessions, and migrations recorded in ``schema_version``.

SQLite (the default, one file in the state directory) or PostgreSQL (several machines). Times
are stored in UTC: PostgreSQL sessions are set to UTC, SQLite hands back naive datetimes that
``aware`` marks as UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, SQLModel, create_engine, select

from state import models  # noqa: F401 - every table is defined there, for create_all
from state.models import SchemaVersionRow

SCHEMA_VERSION = 3   # 2: closed-loop tables and runs.leg; 3: links.source_modified and links.mapping_fp
# Columns added after a table was first created: (table, column, DDL), applied in place.
ADDED_COLUMNS = (
    ("runs", "leg", "VARCHAR(8) NOT NULL DEFAULT 'forward'"),            # v2
    ("links", "source_modified", "VARCHAR(32)"),                         # v3
    ("links", "mapping_fp", "VARCHAR(16)"),                              # v3
)
CHUNK = 500  # ids per IN (...) query: well under SQLite's and PostgreSQL's parameter limits


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def rows_in(session: Session, model: Any, pipeline: str, column: Any, values: Iterable[str]) -> Iterator[Any]:
    """A pipeline's rows whose ``column`` is one of ``values``, read in chunks under the
    databases' parameter limits."""
    for chunk in chunks(list(dict.fromkeys(values))):
        yield from session.exec(select(model).where(model.pipeline == pipeline, column.in_(chunk)))


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives datetimes back without a zone; every datetime syncd stores is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
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


def migrate(engine: Engine) -> None:
    """Create missing tables, add columns later versions introduced, record the version; one transaction."""
    with engine.begin() as connection:
        SQLModel.metadata.create_all(connection)
        inspector = inspect(connection)
        for table, column, ddl in ADDED_COLUMNS:
            if column not in {c["name"] for c in inspector.get_columns(table)}:
                connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
        with Session(connection) as session:
            if session.get(SchemaVersionRow, SCHEMA_VERSION) is None:
                session.add(SchemaVersionRow(version=SCHEMA_VERSION))
                session.commit()


def upsert(connection: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str],
           set_: dict[str, Any] | None = None) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, in the dialect at hand. ``set_`` maps a column to
    its new value given ``excluded`` (default: every non-key column takes the new row's value)."""
    if not rows:
        return
    insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)
    updates = set_(insert.excluded) if callable(set_) else set_
    if updates is None:
        updates = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys}
    connection.execute(insert.on_conflict_do_update(index_elements=[table.c[k] for k in keys], set_=updates), rows)
