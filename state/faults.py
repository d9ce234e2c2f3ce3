"""The state database's failures, translated into ``StateUnavailable`` with a kind and a hint.

A read-only directory, a full disk, a corrupt file or a PostgreSQL that is down or refuses the role
are the operator's to fix, not bugs: they end the run with exit 7 and one clear line, never a
traceback with exit 1. Errors that mean a bug in syncd (a constraint, bad SQL, a value the
column cannot hold) are left as they are.

SQLite reports a result code (``sqlite_errorcode``, primary code in the low byte; sqlite.org/rescode.html),
PostgreSQL an SQLSTATE (postgresql.org/docs/current/errcodes-appendix.html); a PostgreSQL
connection that fails before any SQLSTATE is told apart by its message.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from syncd.core.errors import StateUnavailable

HINTS = {
    "read_only": "syncd's user must be able to write the state directory and the database",
    "full": "free space on the state store's disk (or raise the database's quota); "
            "the next run resumes where this one stopped",
    "corrupt": "restore the state database from a backup, or move it aside to start from empty "
               "state (see README \"State\"); Salesforce is matched again by HubSpot id, nothing is duplicated",
    "unreachable": "check that the database is running and reachable (state.database_url)",
    "refused": "check the database user, its password and its grants (state.database_url)",
    "busy": "another program holds a write lock on the database for too long",
    "io_error": "the disk under the state directory reported an I/O error",
    "missing": "the state database syncd created earlier is gone or empty",
}

# SQLite primary result codes.
_SQLITE_KINDS = {3: "read_only",      # SQLITE_PERM
                 5: "busy", 6: "busy",  # SQLITE_BUSY, SQLITE_LOCKED
                 8: "read_only",      # SQLITE_READONLY
                 10: "io_error",      # SQLITE_IOERR
                 11: "corrupt",       # SQLITE_CORRUPT
                 13: "full",          # SQLITE_FULL
                 14: "unreachable",   # SQLITE_CANTOPEN
                 26: "corrupt"}       # SQLITE_NOTADB
# PostgreSQL SQLSTATE classes and codes.
_PG_KINDS = {"08": "unreachable", "53": "full", "57P": "unreachable", "25006": "read_only",
             "28": "refused", "42501": "refused", "3D000": "refused", "XX001": "corrupt", "XX002": "corrupt"}
_PG_CONNECT_REFUSED = ("authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied")


def kind_of(error: BaseException) -> str | None:
    """The kind of state fault ``error`` (a DBAPI exception) is, or None for a bug."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return _SQLITE_KINDS.get(code & 0xFF)
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate:
        for prefix in (sqlstate, sqlstate[:3], sqlstate[:2]):
            if prefix in _PG_KINDS:
                return _PG_KINDS[prefix]
        return None
    if type(error).__name__ == "OperationalError" and type(error).__module__.startswith("psycopg"):
        message = str(error)   # a connection that failed before the server said anything precise
        return "refused" if any(s in message for s in _PG_CONNECT_REFUSED) else "unreachable"
    return None


def state_unavailable(kind: str, where: str, detail: str) -> StateUnavailable:
    first_line = detail.strip().splitlines()[0] if detail.strip() else ""
    return StateUnavailable(kind, f"{where}: {first_line}; {HINTS[kind]}")


def translate(context: Any, where: str) -> None:
    """SQLAlchemy ``handle_error`` hook: raise StateUnavailable for an operator's fault, let the rest be."""
    error = context.original_exception
    kind = kind_of(error) or ("unreachable" if context.is_disconnect else None)
    if kind is not None:
        raise state_unavailable(kind, where, str(error)) from error


def os_error(error: OSError, path: Path) -> StateUnavailable:
    """A state directory or file that cannot be created or read."""
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        kind = "read_only"
    elif error.errno in (errno.ENOSPC, errno.EDQUOT):
        kind = "full"
    else:
        kind = "unreachable"
    return state_unavailable(kind, str(path), error.strerror or str(error))
