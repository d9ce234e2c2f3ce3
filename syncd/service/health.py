"""Is the service alive, is it ready: the judgements behind ``/healthz``, ``/readyz`` and
systemd's watchdog, made from the service's record of its cycles.

- **Alive** (``/healthz``, ``WATCHDOG=1``): the scheduler runs and no stop was asked for.
- **Ready** (``/readyz``): the last successful cycle (ok, ok with rejected records, or a dry run)
  finished less than ``READY_WITHIN_CYCLES`` *scheduled* cycles ago. Due times are counted from the
  schedule, so a cron schedule that pauses overnight does not turn it red.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from typing import Any

from state.lease import Lease
from state.store import StateStore
from syncd.service.metrics import SUCCESS_STATUSES
from syncd.service.notify import Notifier
from syncd.service.schedule import UTC, Clock, CycleSchedule, due_times_between, iso

READY_WITHIN_CYCLES = 3             # /readyz fails once this many scheduled cycles passed without a success

Answer = tuple[bool, dict[str, Any]]


class Health:
    """The service's record of its cycles, and the judgements made from it."""

    def __init__(self, *, clock: Clock, lease: Lease, schedule: CycleSchedule,
                 stopping: Callable[[], bool]) -> None:
        self.clock = clock
        self.lease = lease
        self.schedule = schedule
        self.stopping = stopping
        self.started_at = clock()
        self.last_success: dt.datetime | None = None
        self.last_status: str | None = None
        self.cycles_run = 0

    def cycle_finished(self, status: str, finished_at: dt.datetime) -> None:
        self.cycles_run += 1
        self.last_status = status
        if status in SUCCESS_STATUSES:
            self.last_success = finished_at

    def restore(self, store: StateStore, pipeline: str) -> dt.datetime | None:
        """After a restart, the last success recorded in state counts (a restart alone does not
        make the service unready, and days of failures before it do not make it ready)."""
        for run in store.recent_runs(pipeline, 20):
            if run.status in ("ok", "partial") and run.finished_at is not None:
                finished = run.finished_at if run.finished_at.tzinfo else run.finished_at.replace(tzinfo=UTC)
                self.last_success = finished
                return finished
        return None

    def alive(self) -> bool:
        """The one liveness judgement, behind both ``/healthz`` and systemd's watchdog.

        It is asked from the service's main loop, so today it proves that the main loop and the
        scheduler thread run, not that a cycle in flight makes progress: a cycle hung on a socket
        keeps it true. A check for that belongs here (say, "the cycle in flight reported progress
        within N seconds"), so that ``/healthz`` and ``WATCHDOG=1`` both see it.
        """
        return self.schedule.running and not self.stopping()

    def liveness(self) -> Answer:
        ok = self.alive() or self.stopping()        # stopping on purpose is not dead
        return ok, {"status": "alive" if ok else "scheduler stopped", "pid": os.getpid(),
                    "uptime_seconds": round((self.clock() - self.started_at).total_seconds(), 1),
                    "cycles": self.cycles_run, "lease_held": self.lease.held}

    def readiness(self) -> Answer:
        body: dict[str, Any] = {"last_success_at": iso(self.last_success), "last_status": self.last_status,
                                "within_cycles": READY_WITHIN_CYCLES}
        if self.stopping():
            return False, {"ready": False, "reason": "stopping", **body}
        if not self.lease.held:
            return False, {"ready": False, "reason": "another syncer holds the lease", **body}
        if self.last_success is None:
            return False, {"ready": False, "reason": "no cycle has succeeded yet", **body}
        missed = due_times_between(self.schedule.trigger, self.last_success, self.clock(), READY_WITHIN_CYCLES)
        if missed >= READY_WITHIN_CYCLES:
            return False, {"ready": False, "reason": f"no successful cycle in the last {missed} scheduled "
                                                     f"cycles", **body}
        return True, {"ready": True, **body}


class Watchdog:
    """``WATCHDOG=1`` every half ``WatchdogSec=`` (as systemd passes it), while ``alive`` says so.
    ``tick`` is called from the service's main loop; see ``Health.alive`` for what that proves."""

    def __init__(self, notifier: Notifier, alive: Callable[[], bool]) -> None:
        self.notifier = notifier
        self.alive = alive
        self.interval = notifier.watchdog_interval
        self._next_ping = 0.0

    def tick(self) -> None:
        if self.interval and time.monotonic() >= self._next_ping and self.alive():
            self.notifier.watchdog()
            self._next_ping = time.monotonic() + self.interval
