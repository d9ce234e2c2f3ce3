"""One active syncer per pipeline: a lease row in the state database.

Two daemons, or a daemon and a ``syncd run --once``, must never sync the same pipeline at the
same time (both would write the same Leads and race on the cursor). So every syncer first takes
the pipeline's lease:

- One row per pipeline in ``leases``: who holds it (``hostname:pid``, shown to people), what
  kind of syncer (``daemon`` or ``once``), since when, its last heartbeat, when it expires, and,
  for a daemon, its next scheduled cycle (so ``syncd status`` in another process can show it).
- ``acquire()`` inserts the row, or takes over an existing one only if it has expired, with a
  compare-and-swap on the previous holder's token (``UPDATE ... WHERE token = <the token we
  saw>``). Two syncers racing for it cannot both win, on SQLite or PostgreSQL. Otherwise it raises
  ``LockHeld`` naming the holder and since when.
- The holder heartbeats (every ``ttl / 4``), pushing ``expires_at`` to now + ttl. A daemon holds
  the lease for its whole life, a ``run --once`` for its run; both delete it on exit.
- A holder killed without releasing (kill -9, OOM, power cut) leaves a row that expires after the
  TTL (60 s by default) and is then taken over. On the same machine it is taken over at once
  when the holder's process no longer exists (checked only inside the same PID namespace, so two
  containers sharing a hostname never judge each other's PIDs).
- A heartbeat that finds another token in the row means the lease was lost (our process stalled
  longer than the TTL and someone took over): the caller stops writing at the next batch.

Times are stored timezone-aware (UTC) and compared in Python, never in SQL, so SQLite's text
dates and PostgreSQL's session time zone cannot skew an expiry.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from state.db import aware as _aware
from state.db import database_clock
from state.models import LeaseRow, RunRow
from state.store import StateStore
from syncd.core.errors import LockHeld

log = structlog.get_logger("syncd.lease")

DEFAULT_TTL_SECONDS = 60.0
Kind = Literal["daemon", "once"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


@dataclass(frozen=True)
class LeaseInfo:
    """A lease as `syncd status` shows it."""

    pipeline: str
    holder: str
    kind: str
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime
    expires_at: dt.datetime
    next_run_at: dt.datetime | None
    host_key: str | None = None          # hostname + PID namespace of the holder (see this_host_key)

    @property
    def pid(self) -> int | None:
        _, _, pid = self.holder.rpartition(":")
        return int(pid) if pid.isdigit() else None

    def expired(self, now: dt.datetime) -> bool:
        """The holder stopped heart-beating longer than the TTL ago: anyone may take it over."""
        return self.expires_at <= now

    def describe(self, now: dt.datetime) -> str:
        host, _, pid = self.holder.rpartition(":")
        who = f"a {'daemon' if self.kind == 'daemon' else '`syncd run --once`'} (pid {pid} on {host})"
        age = max(0, round((now - self.heartbeat_at).total_seconds()))
        return (f"pipeline '{self.pipeline}' is being synced by {who} since {_when(self.acquired_at)}; "
                f"last heartbeat {age}s ago")

    def as_dict(self, now: dt.datetime) -> dict:
        return {"holder": self.holder, "kind": self.kind, "acquired_at": self.acquired_at.isoformat(),
                "heartbeat_at": self.heartbeat_at.isoformat(), "expires_at": self.expires_at.isoformat(),
                "next_run_at": self.next_run_at.isoformat() if self.next_run_at else None,
                "stale": self.expired(now)}


def _info(row: LeaseRow) -> LeaseInfo:
    return LeaseInfo(row.pipeline, row.holder, row.kind, _aware(row.acquired_at), _aware(row.heartbeat_at),
                     _aware(row.expires_at), _aware(row.next_run_at), row.host_key)


def current_lease(store: StateStore, pipeline: str) -> LeaseInfo | None:
    """The pipeline's lease row, held or stale, or None."""
    with store.session() as session:
        row = session.get(LeaseRow, pipeline)
        return _info(row) if row is not None else None


def this_host_key() -> str | None:
    """Hostname plus PID namespace: two processes with the same key can check each other's PIDs."""
    try:
        namespace = os.stat("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{socket.gethostname()}/{namespace.st_dev}:{namespace.st_ino}"


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True              # alive, owned by another user
    except OSError:
        return True              # cannot tell: assume alive (the TTL still frees it)
    return True


def holder_running(info: LeaseInfo, host_key: str | None,
                   exists: Callable[[int], bool] = process_exists) -> bool | None:
    """Whether the holder's process still runs, judged from a process with ``host_key``: True or
    False on the holder's own machine and PID namespace, None anywhere else (a PID means
    nothing there; only the heartbeat's age tells)."""
    if not host_key or info.host_key != host_key or info.pid is None:
        return None
    return exists(info.pid)


class Lease:
    """This process's claim on a pipeline. ``acquire()``, ``heartbeat()``, ``release()``."""

    def __init__(self, store: StateStore, pipeline: str, kind: Kind, *,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS, clock: Callable[[], dt.datetime] | None = None,
                 holder: str | None = None, host_key: str | None = None,
                 process_exists: Callable[[int], bool] = process_exists) -> None:
        self.store = store
        self.pipeline = pipeline
        self.kind = kind
        self.ttl = dt.timedelta(seconds=ttl_seconds)
        # Expiry is judged by the database's clock (PostgreSQL, shared by every host), so syncers on
        # hosts whose clocks disagree never take a live lease over early nor wait past a dead one.
        self.clock = clock or database_clock(store.engine)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.host_key = host_key if host_key is not None else this_host_key()
        self.token = str(uuid.uuid4())
        self.next_run_at: dt.datetime | None = None     # a daemon's next cycle, for `syncd status`
        self.held = False
        self._process_exists = process_exists
        self._lock = threading.Lock()                   # heartbeat thread vs. release

    # -- taking it ------------------------------------------------------------------------
    def _holder_gone(self, row: LeaseRow) -> bool:
        """The holder ran on this machine, in this PID namespace, and its process is gone."""
        info = _info(row)
        return info.pid != os.getpid() and holder_running(info, self.host_key, self._process_exists) is False

    def _values(self, now: dt.datetime) -> dict:
        return {"token": self.token, "holder": self.holder, "host_key": self.host_key, "kind": self.kind,
                "acquired_at": now, "heartbeat_at": now, "expires_at": now + self.ttl,
                "next_run_at": self.next_run_at}

    def acquire(self) -> None:
        """Take the lease or raise LockHeld naming who holds it."""
        table = LeaseRow.__table__
        for _ in range(5):                               # only repeated when a race was lost
            now = self.clock()
            with self.store.session() as session:
                row = session.get(LeaseRow, self.pipeline)
            if row is None:
                try:
                    with self.store.engine.begin() as connection:
                        connection.execute(table.insert().values(pipeline=self.pipeline, **self._values(now)))
                except IntegrityError:
                    continue                             # someone inserted first: look again
                return self._taken(None, None)
            info = _info(row)
            if row.token != self.token and not info.expired(now) and not self._holder_gone(row):
                raise _held(info, now)
            reason = None if row.token == self.token else ("expired" if info.expired(now) else "process gone")
            with self.store.engine.begin() as connection:
                # Compare-and-swap on what we read, heartbeat included: a holder that renewed
                # between our read and this update keeps its lease.
                swapped = connection.execute(update(table).where(
                    table.c.pipeline == self.pipeline, table.c.token == row.token,
                    table.c.heartbeat_at == row.heartbeat_at).values(**self._values(now)))
            if swapped.rowcount == 1:
                return self._taken(info if reason else None, reason)
        current = current_lease(self.store, self.pipeline)
        raise _held(current, self.clock()) if current else LockHeld(
            f"pipeline '{self.pipeline}': could not take the lock (contention); try again")

    def _taken(self, previous: LeaseInfo | None, reason: str | None) -> None:
        self.held = True
        if previous is not None:
            log.warning("lease.taken_over", pipeline=self.pipeline, previous_holder=previous.holder,
                        previous_kind=previous.kind, reason=reason,
                        previous_heartbeat_at=previous.heartbeat_at.isoformat())
        log.info("lease.acquired", pipeline=self.pipeline, holder=self.holder, kind=self.kind,
                 ttl_seconds=self.ttl.total_seconds())
        self._close_abandoned_runs()

    def _close_abandoned_runs(self) -> None:
        """Runs still marked "running" belong to a syncer that died: we hold the lease, so no
        one else is running. Mark them interrupted so `syncd status` tells the truth."""
        table = RunRow.__table__
        with self.store.engine.begin() as connection:
            closed = connection.execute(update(table).where(
                table.c.pipeline == self.pipeline, table.c.status == "running").values(
                status="interrupted", finished_at=utcnow(),
                error="abandoned: the syncer running it stopped without finishing")).rowcount
        if closed:
            log.warning("lease.abandoned_runs_closed", pipeline=self.pipeline, runs=closed)

    # -- keeping it -----------------------------------------------------------------------
    def heartbeat(self) -> bool:
        """Extend the lease; False when it is no longer ours (taken over after it expired)."""
        table = LeaseRow.__table__
        with self._lock:
            if not self.held:
                return False
            now = self.clock()
            with self.store.engine.begin() as connection:
                kept = connection.execute(update(table).where(
                    table.c.pipeline == self.pipeline, table.c.token == self.token).values(
                    heartbeat_at=now, expires_at=now + self.ttl, next_run_at=self.next_run_at)).rowcount
            if not kept:
                self.held = False
                current = current_lease(self.store, self.pipeline)
                log.error("lease.lost", pipeline=self.pipeline, holder=self.holder,
                          now_held_by=current.holder if current else None)
            return bool(kept)

    def release(self) -> None:
        table = LeaseRow.__table__
        with self._lock:
            if not self.held:
                return
            self.held = False
            with self.store.engine.begin() as connection:
                connection.execute(delete(table).where(table.c.pipeline == self.pipeline,
                                                       table.c.token == self.token))
        log.info("lease.released", pipeline=self.pipeline, holder=self.holder)

    def keep_alive(self, on_lost: Callable[[], None] | None = None) -> KeepAlive:
        return KeepAlive(self, on_lost)


@contextmanager
def holding(store: StateStore, pipeline: str, kind: Kind, **options: object) -> Iterator[Lease]:
    """Take the lease (or raise LockHeld), heartbeat it while the body runs, release it after."""
    lease = Lease(store, pipeline, kind, **options)   # type: ignore[arg-type]
    lease.acquire()
    try:
        with lease.keep_alive():
            yield lease
    finally:
        lease.release()


class KeepAlive:
    """Heartbeats a held lease from a background thread every ttl / 4 until stopped.

    A failed heartbeat (database briefly unreachable) is logged and retried; once our own
    expiry has passed without a successful one, the lease counts as lost."""

    def __init__(self, lease: Lease, on_lost: Callable[[], None] | None = None) -> None:
        self.lease = lease
        self.on_lost = on_lost
        self.interval = max(0.05, lease.ttl.total_seconds() / 4)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{lease.pipeline}", daemon=True)

    def __enter__(self) -> KeepAlive:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        # This host's monotonic clock: the database's cannot be read while the database is away,
        # and only this process's own elapsed time matters here.
        last_ok = time.monotonic()
        while not self._stop.wait(self.interval):
            try:
                if self.lease.heartbeat():
                    last_ok = time.monotonic()
                    continue
                lost = True
            except Exception as exc:  # noqa: BLE001 - any database error: log, retry, judge by expiry
                log.warning("lease.heartbeat_failed", pipeline=self.lease.pipeline,
                            error=f"{type(exc).__name__}: {exc}")
                lost = time.monotonic() - last_ok >= self.lease.ttl.total_seconds()
                if lost:
                    self.lease.held = False
                    log.error("lease.lost", pipeline=self.lease.pipeline, holder=self.lease.holder,
                              now_held_by=None)
            if lost:
                if self.on_lost is not None:
                    self.on_lost()
                return


def _held(info: LeaseInfo, now: dt.datetime) -> LockHeld:
    message = info.describe(now)
    if info.kind == "daemon":
        message += "; it syncs on its schedule - to sync by hand, stop it first (systemctl stop syncd)"
    else:
        message += "; wait for it to finish"
    error = LockHeld(message + f" (a lease whose holder died frees itself at {_when(info.expires_at)})")
    error.holder = info          # type: ignore[attr-defined] - for callers that log it
    return error
