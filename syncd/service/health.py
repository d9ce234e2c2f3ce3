"""Is the service alive, is it ready: the judgements behind ``/healthz``, ``/readyz`` and
systemd's watchdog, made from the service's record of its cycles.

- **Alive** (``/healthz``, ``WATCHDOG=1``): the scheduler runs, no stop was asked for, and the
  cycle in flight, if any, has moved within the stall bound (``syncd.service.progress``).
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
from syncd.service.progress import CycleProgress
from syncd.service.schedule import UTC, Clock, CycleSchedule, due_times_between, iso

READY_WITHIN_CYCLES = 3             # /readyz fails once this many scheduled cycles passed without a success

Answer = tuple[bool, dict[str, Any]]


class Health:
    """The service's record of its cycles, and the judgements made from it."""

    def __init__(self, *, clock: Clock, lease: Lease, schedule: CycleSchedule,
                 stopping: Callable[[], bool], progress: CycleProgress) -> None:
        self.clock = clock
        self.lease = lease
        self.schedule = schedule
        self.stopping = stopping
        self.progress = progress
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
        """The one liveness judgement, behind both ``/healthz`` and systemd's watchdog: the main
        loop asks it (so it runs), the scheduler runs, and a cycle in flight keeps moving."""
        return self.schedule.running and not self.stopping() and self.progress.stalled_for() is None

    def liveness(self) -> Answer:
        silence = self.progress.silence()              # read once: the answer describes one moment
        stalled = silence is not None and silence > self.progress.bound
        ok = self.stopping() or (self.schedule.running and not stalled)   # stopping on purpose is not dead
        body: dict[str, Any] = {"status": "alive", "pid": os.getpid(),
                                "uptime_seconds": round((self.clock() - self.started_at).total_seconds(), 1),
                                "cycles": self.cycles_run, "lease_held": self.lease.held,
                                "seconds_since_progress": None if silence is None else round(silence, 1),
                                "stall_bound_seconds": self.progress.bound}
        if not ok and not self.schedule.running:
            body.update(status="scheduler stopped", reason="the scheduler is not running")
        elif not ok:
            body.update(status="stalled", reason=f"the cycle in flight has not moved for {silence:.0f}s "
                                                 f"(bound {self.progress.bound:g}s): no page read, no batch "
                                                 "written, no API request sent")
        return ok, body

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
    ``tick`` is called from the service's main loop; see ``Health.alive`` for what that proves.
    A stalled cycle stops the pings, and systemd kills the service ``WatchdogSec`` after the last."""

    def __init__(self, notifier: Notifier, alive: Callable[[], bool]) -> None:
        self.notifier = notifier
        self.alive = alive
        self.interval = notifier.watchdog_interval
        self._next_ping = 0.0

    def tick(self) -> None:
        if self.interval and time.monotonic() >= self._next_ping and self.alive():
            self.notifier.watchdog()
            self._next_ping = time.monotonic() + self.interval
