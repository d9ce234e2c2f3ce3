"""Whether the state database can be used, without changing it: for `syncd doctor`.

``inspect_store`` opens the database as a run would (so the same faults raise the same
``StateUnavailable``, exit 7), reads the schema version it records, and proves it writable by a
write it rolls back. A SQLite database that does not exist yet is fine: the first run creates it
(its directory is created and checked here).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import text

from state.db import CREATED_MARKER, SCHEMA_VERSION, make_engine, sqlite_path
from state.faults import os_error, state_unavailable


@dataclass(frozen=True)
class StoreHealth:
    where: str                   # the database, password masked (a file path for SQLite)
    version: int | None          # the schema version it records; None: no database yet
    current: int = SCHEMA_VERSION


def inspect_store(url: str) -> StoreHealth:
    """Raises ``StateUnavailable`` when the store cannot be read or written."""
    path = sqlite_path(url)
    if path is not None and not path.exists() and not path.with_name(path.name + CREATED_MARKER).exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, path.parent) from exc
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise state_unavailable("read_only", str(path.parent), "syncd cannot create its database in this "
                                    "directory; give syncd's user write access, or set state.directory")
        return StoreHealth(str(path), None)
    engine = make_engine(url)
    try:
        where = str(path) if path is not None else engine.url.render_as_string(hide_password=True)
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                connection.execute(text("CREATE TABLE syncd_doctor_probe (x INTEGER)"))
                has_versions = connection.execute(text(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
                    if engine.dialect.name == "postgresql" else
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")).scalar()
                version = connection.execute(text("SELECT MAX(version) FROM schema_version")).scalar() \
                    if has_versions else None
            finally:
                transaction.rollback()
        return StoreHealth(where, int(version) if version is not None else 0)
    finally:
        engine.dispose()
