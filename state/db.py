"""The state database: engine, sessions, and migrations recorded in ``schema_version``.

SQLite (the default, one file in the state directory) or PostgreSQL (several machines). Times
are stored in UTC: PostgreSQL sessions are set to UTC, SQLite hands back naive datetimes that
``aware`` marks as UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, inspect, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, SQLModel, create_engine, select

from state import models  # noqa: F401 - every table is defined there, for create_all
from state.faults import os_error, state_unavailable, translate
from state.models import SchemaVersionRow

SCHEMA_VERSION = 5   # 2: closed-loop tables and runs.leg; 3: links.source_modified and links.mapping_fp;
                     # 4: records that move: links.lead_moved, former_lead_id, lead_unmarked (Salesforce)
                     # and the contact_moves table (HubSpot; created by create_all);
                     # 5: the agreement: links.agreement_parts, lead_activities, lead_owners, agreement_alerts
# Columns added after a table was first created: (table, column, DDL), applied in place.
ADDED_COLUMNS = (
    ("runs", "leg", "VARCHAR(8) NOT NULL DEFAULT 'forward'"),            # v2
    ("links", "source_modified", "VARCHAR(32)"),                         # v3
    ("links", "mapping_fp", "VARCHAR(16)"),                              # v3
    ("links", "lead_moved", "VARCHAR(16)"),                              # v4: deleted | held (None: live)
    ("links", "former_lead_id", "VARCHAR(18)"),                          # v4: the Lead before it moved
    ("links", "lead_unmarked", "BOOLEAN"),                               # v4: NULL = not known yet
    ("links", "agreement_parts", "JSON"),                                # v5: definition parts met
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


def _host_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def database_clock(engine: Engine) -> Callable[[], dt.datetime]:
    """The clock leases are judged by: PostgreSQL's own (every host sharing the database reads the
    same one, whatever their clocks say); this host's for SQLite (a file on one host)."""
    if engine.dialect.name != "postgresql":
        return _host_now

    def now() -> dt.datetime:
        with engine.connect() as connection:
            moment = connection.execute(text("SELECT statement_timestamp()")).scalar_one()
        return moment.astimezone(dt.timezone.utc)

    return now


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")   # readers (syncd status) never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# Written beside a SQLite state file once it holds a schema: from then on a missing or emptied
# file is a loss to report (exit 7), not a first run to start afresh.
CREATED_MARKER = ".created"


def sqlite_path(url: str) -> Path | None:
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
    return Path(path) if path not in ("", ":memory:") else None


def _check_sqlite_file(path: Path) -> None:
    marker = path.with_name(path.name + CREATED_MARKER)
    if not marker.exists():
        return
    if not path.exists():
        raise state_unavailable("missing", str(path), f"the file is gone, though {marker.name} beside it "
                                "says syncd created it; restore it, or delete that marker to start from empty state")
    if path.stat().st_size == 0:
        raise state_unavailable("missing", str(path), "the file is empty (0 bytes); restore it, or delete "
                                f"{marker.name} beside it to start from empty state")


def _read_only_sqlite(path: Path) -> str:
    """A URL that reads ``path`` without writing anything, even in a directory syncd cannot write.
    SQLite needs the -wal and -shm files to read a WAL database; they exist while a writer has it
    open. Without them nobody is writing, and the file can be read as immutable."""
    if not path.exists():
        raise state_unavailable("missing", str(path), "there is no state database yet (no run has written one)")
    mode = "mode=ro" if path.with_name(path.name + "-wal").exists() else "immutable=1"
    return f"sqlite:///file:{path}?{mode}&uri=true"


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine whose operator-side failures (read-only, full, corrupt, unreachable) raise
    ``StateUnavailable`` (``state.faults``). ``read_only``: SQLite is opened without writing
    (no directory, no journal mode); for PostgreSQL it changes nothing."""
    where = make_url(url).render_as_string(hide_password=True)
    path = sqlite_path(url)
    if path is not None:
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            _check_sqlite_file(path)
            if read_only:
                url = _read_only_sqlite(path)
        except OSError as exc:
            raise os_error(exc, path.parent) from exc
        where = str(path)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        if not read_only:
            event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # Timestamps are stored naive, in UTC: make the session agree, whatever the server's zone.
        engine = create_engine(url, pool_pre_ping=True,
                               connect_args={"options": "-c timezone=UTC", "connect_timeout": 10})
    event.listen(engine, "handle_error", lambda context: translate(context, where))
    return engine


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
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is not None:
        marker = path.with_name(path.name + CREATED_MARKER)
        if not marker.exists():
            try:
                # Links and outcomes are personal data about contacts: owner only, whatever the
                # umask (systemd's StateDirectory gives 0700 anyway; a shell may not). SQLite
                # gives the -wal and -shm files the database file's mode.
                path.chmod(0o600)
                marker.write_text("syncd's state database beside this file holds a schema. If that file is "
                                  "missing or empty, syncd stops (exit 7) instead of starting afresh;\n"
                                  "delete this marker only to start from empty state on purpose.\n")
            except OSError as exc:
                raise os_error(exc, marker) from exc


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
