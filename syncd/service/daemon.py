"""The service: the schedule, the lease, the signals, health, reload and sd_notify, composed
around ``syncd.app.cycle.run_cycle`` (the same cycle ``run --once`` runs).

Threads: the main thread runs ``_main_loop`` (it acts on what the signal handlers asked for,
reloads, watches the cycle's progress, pings the watchdog) and then ``_shutdown``; the
scheduler's one worker thread runs the cycles (``_run_cycle``); the lease's keep-alive thread
heartbeats; the endpoint answers scrapes. The worker and the main thread meet at ``_idle`` (set
while no cycle runs), which is what the shutdown waits for, and at ``progress``
(``syncd.service.progress``), which the cycle moves and the main loop judges.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from state.lease import Lease
from state.store import StateStore
from syncd import app
from syncd.app.agreement import current_month
from syncd.app.connectors import Connectors
from syncd.app.cycle import run_cycle
from syncd.app.mapping_check import before_writing
from syncd.app.logs import configure_logging
from syncd.core import __version__
from syncd.core.errors import LockHeld, RemoteError, SyncdError
from syncd.run.result import CycleResult
from syncd.service import reload as reloading
from syncd.service.connections import Build, CycleConnectors
from syncd.service.endpoint import HealthServer, start_endpoint
from syncd.service.health import Health, Watchdog
from syncd.service.lease import HeldLease
from syncd.service.metrics import Metrics
from syncd.service.notify import Notifier
from syncd.service.progress import CycleProgress, stall_bound
from syncd.service.schedule import (UTC, CycleSchedule, at, describe_schedule, iso, make_trigger,
                                    quiet_scheduler_logs)
from syncd.service.signals import ServiceSignals, exit_now, signal_name
from syncd.service.status_page import Agreement, StatusPage, no_agreement

log = structlog.get_logger("syncd.service")

TICK = 0.25                     # main loop period: signal flags, reload requests, progress, watchdog
# What systemd must allow beyond schedule.shutdown_timeout_seconds when stopping: releasing the
# lease, closing the state store and the endpoint. The unit's TimeoutStopSec= covers the default
# bound plus this; a longer bound is asked for with EXTEND_TIMEOUT_USEC= when the stop begins.
STOP_MARGIN_SECONDS = 15

CycleRunner = Callable[..., CycleResult]


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def cycle_status(cycle: CycleResult) -> str:
    """The worst of the legs' statuses."""
    statuses = [r.status for r in cycle.results]
    if cycle.activities is not None:
        statuses.append(cycle.activities.status)
    for status in ("failed", "interrupted", "partial", "dry_run"):
        if status in statuses:
            return status
    return "ok"


class Service:
    """One pipeline's service; ``run`` blocks until it is told to stop, and returns the exit code."""

    def __init__(self, loaded: app.Loaded, store: StateStore, lease: Lease, *,
                 config_path: Path | None = None, notifier: Notifier | None = None,
                 metrics: Metrics | None = None, cycle: CycleRunner = run_cycle,
                 load: Callable[[Path | None], app.Loaded] = app.load,
                 clock: Callable[[], dt.datetime] = utcnow, build_connectors: Build = Connectors.build,
                 agreement: Agreement = no_agreement) -> None:
        self.loaded = loaded
        self.store = store
        self.lease = lease
        if agreement is no_agreement:      # the page shows the configured agreement's current month
            agreement = lambda: current_month(self.loaded, self.store, self.clock())  # noqa: E731
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.metrics = metrics or Metrics()
        self.cycle = cycle
        self.load = load
        self.clock = clock
        self.signals = ServiceSignals()
        self.schedule = CycleSchedule(make_trigger(loaded.settings.schedule, clock()), self._run_cycle,
                                      clock=clock, stopping=self.stopping, on_scheduled=self._on_scheduled)
        self.progress = CycleProgress(stall_bound(loaded.settings, self._watchdog_seconds))
        self.health = Health(clock=clock, lease=lease, schedule=self.schedule, stopping=self.stopping,
                             progress=self.progress)
        self.watchdog = Watchdog(self.notifier, self.health.alive)
        self.held_lease = HeldLease(lease, self.metrics)
        self.endpoint: HealthServer | None = None
        self.agreement = agreement                   # the status page's month (issue #10)
        self._idle = threading.Event()               # no cycle running
        self._idle.set()
        self._cycle_running = False
        self._status = threading.Lock()              # a cycle's end vs. the main loop's STATUS lines
        self.connectors = CycleConnectors(build_connectors)
        self.build_connectors = build_connectors

    @property
    def settings(self):  # noqa: ANN201 - syncd.config.Settings
        return self.loaded.settings

    def stopping(self) -> bool:
        return self.signals.stop.requested()

    def should_stop(self) -> bool:
        """Asked by the runner between batches: a stop was asked for, or the lease was lost."""
        return self.stopping() or not self.lease.held

    @property
    def _watchdog_seconds(self) -> float | None:
        return self.notifier.watchdog_usec / 1_000_000 if self.notifier.watchdog_usec else None

    # -- life -----------------------------------------------------------------------------
    def run(self) -> int:
        self.signals.install()
        restored = self.health.restore(self.store, self.settings.sync.pipeline)
        if restored is not None:
            self.metrics.last_success.set(restored.timestamp())
        self.endpoint = start_endpoint(self.settings, self.metrics, live=self.health.liveness,
                                       ready=self.health.readiness, page=self._status_page())
        self.held_lease.keep()
        schedule = self.settings.schedule
        # An interval schedule runs a cycle at start-up; cron waits for its first matching time.
        first = self.schedule.add(at_once=not schedule.cron)
        log.info("service.started", version=__version__, pid=os.getpid(), pipeline=self.settings.sync.pipeline,
                 schedule=describe_schedule(schedule), next_run_at=iso(first),
                 metrics=self.settings.metrics.listen, shutdown_timeout_seconds=schedule.shutdown_timeout_seconds,
                 watchdog_seconds=self.watchdog.interval, stall_bound_seconds=self.progress.bound,
                 holder=self.lease.holder)
        self.schedule.start()
        self._record_next_run(self.schedule.next_run_time())
        self.notifier.ready(status=f"started; {describe_schedule(schedule)}; next cycle {at(first)}")
        self._main_loop()
        return self._shutdown()

    def _status_page(self) -> StatusPage | None:
        """The page at / on the endpoint (metrics.status_page); its token and address need a restart."""
        metrics = self.settings.metrics
        if not metrics.status_page:
            return None
        token = metrics.status_token.get_secret_value() if metrics.status_token else None
        return StatusPage(self.store, self.settings.sync.pipeline, agreement=self.agreement, token=token)

    def _main_loop(self) -> None:
        while not self.stopping():
            if self.signals.take_reload_request():
                self.reload()
            self._watch_progress()
            self.watchdog.tick()
            time.sleep(min(TICK, self.watchdog.interval or TICK))

    def _shutdown(self) -> int:
        signum = self.signals.stop.signum or signal.SIGTERM
        timeout = self.settings.schedule.shutdown_timeout_seconds
        running = self._cycle_running
        log.info("service.stopping", signal=signal_name(signum), cycle_running=running,
                 timeout_seconds=timeout)
        # systemd's TimeoutStopSec= may be shorter than our own bound: ask for ours, plus the margin.
        self.notifier.stopping(status="stopping: finishing the batch in flight" if running else "stopping",
                               extend_seconds=timeout + STOP_MARGIN_SECONDS)
        self.schedule.shutdown()
        if not self._idle.wait(timeout):
            # The cycle thread is still alive and may yet commit a batch, so the lease is not
            # released here: the "process gone" check frees it at once on this host, the TTL elsewhere.
            exit_now(signum, "service.stop_timeout", timeout_seconds=timeout,
                     state="committed batches kept; the next run repeats the unconfirmed one")
        self.connectors.retire()
        self.held_lease.release()
        if self.endpoint is not None:
            self.endpoint.stop()
        self.store.close()
        log.info("service.stopped", exit_code=0, cycles=self.health.cycles_run)
        return 0

    # -- the job (on the scheduler's worker thread) ----------------------------------------
    def _run_cycle(self) -> None:
        self._idle.clear()                 # before the check: shutdown then waits for us, or we see its signal
        if self.stopping():
            self._idle.set()
            return
        self._cycle_running = True
        try:
            if not self.lease.held and not self.held_lease.reacquire():
                return
            self._one_cycle()
        finally:
            self.connectors.retire(self.loaded)      # built for a configuration a reload replaced
            with self._status:
                self._cycle_running = False
            self._idle.set()

    def _one_cycle(self) -> None:
        loaded = self.loaded              # a reload swaps the reference; this cycle keeps its own
        self.notifier.status("syncing")
        started = time.monotonic()
        cycle: CycleResult | None = None
        error: Exception | None = None
        try:
            with self.connectors.using(loaded) as connectors:
                self.progress.begin(connectors.calls)
                try:
                    cycle = self.cycle(loaded, self.store, dry_run=loaded.settings.sync.dry_run,
                                       should_stop=self.should_stop, connectors=connectors, progress=self.progress)
                finally:
                    self.progress.end()
            status = cycle_status(cycle)
        except SyncdError as exc:          # e.g. an unreadable key file: this cycle fails, the next retries
            status, error = "failed", exc
            log.error("service.cycle_failed", error=str(exc), error_type=type(exc).__name__,
                      who_acts=exc.who_acts)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the service; it is logged in full
            status, error = "crashed", exc
            log.exception("service.cycle_crashed", error_type=type(exc).__name__)
        duration = round(time.monotonic() - started, 3)
        finished = self.clock()
        self.health.cycle_finished(status, finished)
        self.metrics.observe_cycle(cycle, status, duration, finished, error)
        log.info("service.cycle_finished", status=status, duration_seconds=duration,
                 exit_code=int(cycle.exit_code) if cycle is not None else int(getattr(error, "exit_code", 1)),
                 cycles=self.health.cycles_run)

    def _watch_progress(self) -> None:
        """A stall, once when it starts and once when it ends, in the log and on systemd's STATUS line."""
        change = self.progress.check()
        if change is None:
            return
        # A cycle that ends meanwhile sends its "last cycle ..." line after this lock: keep that one.
        with self._status:
            if not self._cycle_running:
                return
            self.notifier.status("syncing" if change == "resumed" else
                                 f"cycle stalled: no progress for {self.progress.bound:g}s; "
                                 "watchdog pings stopped (systemd restarts the service)")

    def _on_scheduled(self, next_run: dt.datetime | None) -> None:
        self._record_next_run(next_run)
        self.notifier.status(f"last cycle {self.health.last_status} {at(self.clock())}; next cycle {at(next_run)}")

    def _record_next_run(self, next_run: dt.datetime | None) -> None:
        self.metrics.next_cycle.set(next_run.timestamp() if next_run else 0)
        self.held_lease.publish_next_run(next_run)

    # -- SIGHUP (on the main thread) --------------------------------------------------------
    def reload(self) -> bool:
        """Load and validate config and mapping; swap them in only if everything is valid."""
        change = reloading.reload(self.loaded, load=self.load, config_path=self.config_path,
                                  make_trigger=lambda schedule: make_trigger(schedule, self.clock()),
                                  metrics=self.metrics, notifier=self.notifier, check=self._check_live)
        if change is None:
            return False
        self.loaded = change.loaded
        self.progress.bound = stall_bound(self.settings, self._watchdog_seconds)   # timeouts may have changed
        self.connectors.retire(self.loaded)          # now, unless a cycle uses them (then when it ends)
        if change.trigger is not None:
            self.schedule.replace_trigger(change.trigger)
            self._record_next_run(self.schedule.next_run_time())
        reloading.reloaded(change, self.metrics, self.notifier, schedule=describe_schedule(self.settings.schedule),
                           next_cycle=at(self.schedule.next_run_time()))
        return True


    def _check_live(self, change: reloading.Reload) -> None:
        """A new mapping (or new credentials) against the live orgs before it is swapped in: a
        finding that would refuse every record refuses the reload (ConfigError), and the service
        keeps its last good mapping. A system that cannot be reached now does not refuse it: the
        next cycle checks again before its first write."""
        if not {"mapping", "hubspot", "salesforce"} & set(change.changed) or change.loaded.settings.sync.dry_run:
            return
        connectors = self.build_connectors(change.loaded)
        try:
            before_writing(change.loaded.mapping, connectors.metadata)
        except RemoteError as exc:
            log.warning("service.reload_check_deferred", error=str(exc), code=exc.code,
                        action="swapped in; the next cycle checks the mapping before it writes")
        finally:
            connectors.close()


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    log.error("service.thread_crashed", thread=args.thread.name if args.thread else None,
              exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def serve(config_path: Path | None) -> int:
    """`syncd run` without --once. Returns the exit code; raises ConfigError (4) or LockHeld (6)."""
    loaded = app.load(config_path)
    settings = loaded.settings
    configure_logging(settings.logging.format, settings.logging.level, settings.secret_values())
    quiet_scheduler_logs()
    logging.captureWarnings(True)             # Python warnings become log lines, not stray stderr
    threading.excepthook = _log_thread_crash
    store = app.open_store(settings)
    lease = Lease(store, settings.sync.pipeline, "daemon")
    try:
        lease.acquire()
    except LockHeld as exc:
        log.error("service.lock_held", error=str(exc), pipeline=settings.sync.pipeline)
        store.close()
        raise
    service = Service(loaded, store, lease, config_path=config_path or settings.config_path)
    try:
        return service.run()
    except BaseException:
        service.held_lease.release()
        raise
