"""syncd's small error taxonomy, grouped by what to do about an error.

- ``ConfigError``: the user must fix a file or variable; nothing was written (exit 4).
- ``StateUnavailable``: the state store cannot be used (read-only, full, corrupt, emptied,
  unreachable); the operator must act (exit 7). What was committed before stays valid.
- A rejected record is not an exception: it is carried as data (``core.records.Rejection``) with
  the remote error code; the other records go on.
- ``TransientError``: back off and retry inside this run (rate limit, 5xx, lock contention, a
  dropped connection, a response no API should send). Only the retry policy
  (``connectors.retry``) catches it; when its budget is spent it becomes ``RemoteUnavailable``.
- ``RemoteUnavailable`` / ``AuthenticationFailed`` / ``QuotaExhausted`` / ``RequestRejected``:
  fatal for this run; the operator or time must act (exit 5). State already committed stays
  valid; the next run resumes.

Which remote answer becomes which error is decided in one table, ``connectors.errors``. Each
error carries ``who_acts`` so logs and messages can say whose move it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in README "Exit codes"."""

    OK = 0
    INTERNAL_ERROR = 1          # a bug: an exception nobody classified
    USAGE = 2                   # bad command line (click's own code)
    RECORDS_REJECTED = 3        # the run finished, but some records were rejected
    CONFIG_ERROR = 4            # configuration or mapping invalid; nothing was written
    REMOTE_UNAVAILABLE = 5      # remote system down, quota exhausted or authentication failed
    LOCKED = 6                  # another syncer holds this pipeline's lock
    LOCAL_FAILURE = 7           # syncd's own side: the state store is read-only, full, corrupt, gone or unreachable


class WhoActs:
    CONFIG = "config"           # the user must change configuration or the mapping
    SYSTEM = "system"           # the remote system or its admin must act (permissions, quota)
    TRANSIENT = "transient"     # nobody: wait and retry
    OPERATOR = "operator"       # whoever runs syncd: disk space, permissions, the state database
    CODE = "code"               # a bug in syncd


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR
    who_acts: str = WhoActs.CODE


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration or mapping input, located as precisely as we can."""

    source: str                 # a file path, or "environment"
    field: str                  # dotted path such as "hubspot.access_token" or "fields[3].to"
    message: str
    line: int | None = None     # 1-based
    column: int | None = None   # 1-based

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return ": ".join(part for part in (where, self.field, self.message) if part)


class ConfigError(SyncdError):
    """Configuration or mapping is invalid. Raised before any API call."""

    exit_code = ExitCode.CONFIG_ERROR
    who_acts = WhoActs.CONFIG

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(source="", field="", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class RemoteError(SyncdError):
    """An error answered by (or on the way to) HubSpot or Salesforce."""

    exit_code = ExitCode.REMOTE_UNAVAILABLE
    who_acts = WhoActs.SYSTEM

    def __init__(self, system: str, message: str, *, status: int | None = None,
                 code: str | None = None) -> None:
        self.system = system
        self.message = message
        self.status = status
        self.code = code
        detail = ", ".join(x for x in (f"HTTP {status}" if status else "", code or "") if x)
        super().__init__(f"{system}: {message}" + (f" ({detail})" if detail else ""))


class TransientError(RemoteError):
    """Worth retrying after a pause: rate limits, 5xx, UNABLE_TO_LOCK_ROW, timeouts."""

    who_acts = WhoActs.TRANSIENT

    def __init__(self, system: str, message: str, *, status: int | None = None,
                 code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(system, message, status=status, code=code)
        self.retry_after = retry_after


class UnexpectedResponse(TransientError):
    """An answer the API should never give (an HTML page, a list where an object belongs, an empty
    body): most often a proxy or a load balancer in the way, so it is retried like a 5xx."""


class RemoteUnavailable(RemoteError):
    """The remote system cannot be reached or keeps failing after retries; end this run."""

    who_acts = WhoActs.TRANSIENT


class AuthenticationFailed(RemoteError):
    """Credentials were refused. The operator must fix them; retrying will not help."""

    who_acts = WhoActs.CONFIG


class QuotaExhausted(RemoteError):
    """The daily API allocation is used up (Salesforce REQUEST_LIMIT_EXCEEDED, HubSpot DAILY).

    End the run early, keep what was committed, and resume after the window rolls.
    """

    who_acts = WhoActs.TRANSIENT


class RequestRejected(RemoteError):
    """The remote system refused the request as a whole (400-class, not per record): our bug or
    a mapping that names something the remote system does not have."""

    who_acts = WhoActs.CONFIG


class MappingRefused(RequestRejected):
    """The remote system refused the request because of what the mapping or config names (an
    unknown field, a field of another type, a field or property syncd may not write): the fix is in
    the mapping, so the exit code is the config one (4), not "remote unavailable" (5)."""

    exit_code = ExitCode.CONFIG_ERROR
    who_acts = WhoActs.CONFIG


class PermissionMissing(RequestRejected):
    """The remote system refused because syncd's user lacks a scope or a permission (HubSpot's
    ``MISSING_SCOPES``, Salesforce's ``INSUFFICIENT_ACCESS``, the API switched off for the user):
    the fix is in the setup (the private app's scopes, the integration user's permission set), not
    in waiting, so the exit code is the config one (4)."""

    exit_code = ExitCode.CONFIG_ERROR
    who_acts = WhoActs.CONFIG


class LockHeld(SyncdError):
    """Another syncer is running this pipeline."""

    exit_code = ExitCode.LOCKED
    who_acts = WhoActs.TRANSIENT


class StateUnavailable(SyncdError):
    """The state store cannot be read or written: ``kind`` says why (README "Exit codes").

    Raised from the database driver's error (``state.faults``), never from a record: the run
    stops, the remote writes already committed stay recorded, the next run resumes from them."""

    exit_code = ExitCode.LOCAL_FAILURE
    who_acts = WhoActs.OPERATOR

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.code = kind
        super().__init__(f"state store {kind.replace('_', ' ')}: {message}")
