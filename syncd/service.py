"""`syncd run`: the service. Runs the sync cycle on a schedule until told to stop.

- **Schedule.** A thin APScheduler 3 ``BackgroundScheduler`` with one job: the cycle
  (``syncd.app.cycle.run_cycle``, the same one ``run --once`` runs). ``max_instances=1``: runs never
  overlap; a due time that finds the previous cycle still running is remembered and the next
  cycle starts as soon as it ends (a slow cycle delays the next, it does not stack).
  ``coalesce=True``: many missed due times make one run. A cycle that fails (remote down, a bug)
  is logged and counted, and the next due time runs again; the process lives on.
- **One syncer.** The daemon takes the pipeline's lease (``state.lease``) before anything else and
  holds it for its life, heartbeating from a thread; a second daemon or a ``run --once`` is refused
  with exit code 6 and a message naming the holder.
- **Signals.** The first SIGTERM/SIGINT asks the cycle to stop after the batch in flight (the
  runner commits it and leaves the cursor), stops the scheduler, waits at most
  ``schedule.shutdown_timeout_seconds`` and exits 0. A second signal, or the wait running out,
  exits at once with 128 + the signal number. That is safe for state: every state write is one
  SQLite/PostgreSQL transaction, which the database either commits whole or rolls back when the
  process vanishes, and a Salesforce write that was sent but not yet recorded is an idempotent
  upsert that the next run repeats harmlessly. SIGHUP reloads config and mapping: the new files
  are loaded and validated in the main thread, off the cycle's path; only a fully valid set
  replaces the running one (``service.reloaded``), otherwise the problems are logged
  (``service.reload_failed``) and the daemon carries on with what it had.
- **systemd.** ``syncd.notify``: READY=1 once the lease is held and the scheduler runs, STATUS=
  after each cycle, WATCHDOG=1 from the main loop, STOPPING=1 on the way out.
- **Monitoring.** ``syncd.metrics``: Prometheus metrics, ``/healthz`` and ``/readyz``.

Signal handlers only set attributes; the main loop polls them every ``TICK`` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from apscheduler.events import (EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES,
                                EVENT_JOB_MISSED, JobExecutionEvent, JobSubmissionEvent)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from state.lease import KeepAlive, Lease
from state.store import StateStore
from syncd import app
from syncd.core import __version__
from syncd.config import ScheduleSettings
from syncd.app.connectors import Connectors
from syncd.app.cycle import run_cycle
from syncd.run.result import CycleResult
from syncd.core.errors import ConfigError, LockHeld, Problem, SyncdError
from syncd.logs import configure_logging
from syncd.metrics import READY_WITHIN_CYCLES, SUCCESS_STATUSES, HealthServer, Metrics
from syncd.notify import Notifier

log = structlog.get_logger("syncd.service")

UTC = dt.timezone.utc
JOB_ID = "sync-cycle"
TICK = 0.25                     # main loop period: signal flags, reload requests, watchdog
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Settings the running daemon cannot switch: its lease lives in this database for this pipeline.
FIXED_ON_RELOAD = {("sync", "pipeline"): "sync.pipeline", ("state", "database_url"): "state.database_url"}

CycleRunner = Callable[..., CycleResult]


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


# -- schedule -------------------------------------------------------------------------------
def make_trigger(schedule: ScheduleSettings, now: dt.datetime | None = None) -> BaseTrigger:
    """The schedule as an APScheduler trigger; an interval's grid starts at ``now`` (the service's
    clock, so a test that fixes the clock fixes the grid too)."""
    if schedule.cron:
        return CronTrigger.from_crontab(schedule.cron, timezone=UTC)
    seconds = schedule.interval_seconds or (schedule.interval_minutes or 15) * 60
    return IntervalTrigger(seconds=seconds, timezone=UTC, start_date=now)


def describe_schedule(schedule: ScheduleSettings) -> str:
    if schedule.cron:
        return f"cron '{schedule.cron}' (UTC)"
    if schedule.interval_seconds:
        return f"every {schedule.interval_seconds}s"
    return f"every {schedule.interval_minutes} min"


def period_seconds(trigger: BaseTrigger, now: dt.datetime) -> float:
    """The gap between the next two due times: the nominal interval, also for cron."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(microseconds=1)) if first else None
    return (second - first).total_seconds() if first and second else 3600.0


def due_times_between(trigger: BaseTrigger, since: dt.datetime, now: dt.datetime, limit: int) -> int:
    """How many due times fall in (since, now], counting at most ``limit``."""
    if isinstance(trigger, IntervalTrigger):
        # An interval trigger only knows due times after start-up, so a success restored from
        # before this start-up would count nothing: extend its grid (start + k * interval)
        # backwards and count the grid points in (since, now].
        step = trigger.interval.total_seconds()
        first = (since - trigger.start_date).total_seconds() // step + 1
        last = (now - trigger.start_date).total_seconds() // step
        return int(min(limit, max(0, last - first + 1)))
    count, moment = 0, since
    while count < limit:
        due = trigger.get_next_fire_time(None, moment + dt.timedelta(microseconds=1))
        if due is None or due > now:
            break
        count, moment = count + 1, due
    return count


def cycle_status(cycle: CycleResult) -> str:
    """The worst of the legs' statuses."""
    statuses = [r.status for r in cycle.results]
    for status in ("failed", "interrupted", "partial", "dry_run"):
        if status in statuses:
            return status
    return "ok"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _exit_now(signum: int, event: str, **fields: Any) -> None:
    """Leave without waiting for the cycle. See the module docstring for why state survives."""
    try:   # a signal landing inside a stdout write makes this write re-entrant: exit regardless
        log.warning(event, signal=_signal_name(signum), exit_code=128 + signum, **fields)
        _flush()
    except Exception:  # noqa: BLE001,S110 - nothing may stand between the second signal and the exit
        pass
    os._exit(128 + signum)


# -- `run --once` under a supervisor --------------------------------------------------------
@contextmanager
def graceful_stop() -> Iterator[Callable[[], bool]]:
    """For `syncd run --once`: the first SIGTERM/SIGINT asks the cycle to stop after the batch
    in flight; a second exits at once. Yields the ``should_stop`` callable."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    requested: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        if requested:
            _exit_now(signum, "run.killed", reason="second signal")
        requested.append(signum)
        log.warning("run.stop_requested", signal=_signal_name(signum),
                    action="finishing the batch in flight; a second signal stops at once")

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield lambda: bool(requested)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# -- the daemon ------------------------------------------------------------------------------
class Service:
    """The scheduler, the lease, the health endpoint and the signal handling around run_cycle."""

    def __init__(self, loaded: app.Loaded, store: StateStore, lease: Lease, *,
                 config_path: Path | None = None, notifier: Notifier | None = None,
                 metrics: Metrics | None = None, cycle: CycleRunner = run_cycle,
                 load: Callable[[Path | None], app.Loaded] = app.load,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.loaded = loaded
        self.store = store
        self.lease = lease
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.metrics = metrics or Metrics()
        self.cycle = cycle
        self.load = load
        self.clock = clock
        self.trigger = make_trigger(loaded.settings.schedule, clock())
        self.started_at = clock()
        self.last_success: dt.datetime | None = None
        self.last_status: str | None = None
        self.cycles_run = 0
        self.stop_signal: int | None = None          # set by the first SIGTERM/SIGINT
        self.reload_requested = False                # set by SIGHUP
        self._idle = threading.Event()               # no cycle running
        self._idle.set()
        self._due_while_running = False
        self._cycle_running = False
        self.scheduler = BackgroundScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(1)},
                                             job_defaults={"coalesce": True, "max_instances": 1})
        self.scheduler.add_listener(self._on_job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
                                    | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self.http: HealthServer | None = None
        self.keepalive: KeepAlive | None = None
        self._connectors: tuple[app.Loaded, Connectors] | None = None   # reused until a reload

    @property
    def settings(self):  # noqa: ANN201 - syncd.config.Settings
        return self.loaded.settings

    # -- life -----------------------------------------------------------------------------
    def run(self) -> int:
        self._install_signal_handlers()
        self._restore_last_success()
        self._start_http()
        self.keepalive = self.lease.keep_alive(on_lost=self._lease_lost)
        self.keepalive.__enter__()
        self.metrics.lease_held.set(1)
        schedule = self.settings.schedule
        # An interval schedule runs a cycle at start-up; cron waits for its first matching time.
        # (next_run_time=None would add the job paused, so leave it out for cron.)
        first = {} if schedule.cron else {"next_run_time": self.clock()}
        self.scheduler.add_job(self._run_cycle, self.trigger, id=JOB_ID, name="sync cycle",
                               misfire_grace_time=self._grace(), **first)
        next_run = first.get("next_run_time") or self.trigger.get_next_fire_time(None, self.clock())
        log.info("service.started", version=__version__, pid=os.getpid(), pipeline=self.settings.sync.pipeline,
                 schedule=describe_schedule(schedule), next_run_at=_iso(next_run),
                 metrics=self.settings.metrics.listen, shutdown_timeout_seconds=schedule.shutdown_timeout_seconds,
                 watchdog_seconds=self.notifier.watchdog_interval, holder=self.lease.holder)
        self.scheduler.start()
        self._record_next_run(self._next_run_time())
        self.notifier.ready(status=f"started; {describe_schedule(schedule)}; next cycle {_clock(next_run)}")
        self._main_loop()
        return self._shutdown()

    def _main_loop(self) -> None:
        watchdog = self.notifier.watchdog_interval
        next_ping = 0.0
        while self.stop_signal is None:
            if self.reload_requested:
                self.reload_requested = False
                self.reload()
            if watchdog and time.monotonic() >= next_ping and self._healthy():
                self.notifier.watchdog()
                next_ping = time.monotonic() + watchdog
            time.sleep(TICK if not watchdog else min(TICK, watchdog))

    def _shutdown(self) -> int:
        signum = self.stop_signal or signal.SIGTERM
        timeout = self.settings.schedule.shutdown_timeout_seconds
        running = self._cycle_running
        log.info("service.stopping", signal=_signal_name(signum), cycle_running=running,
                 timeout_seconds=timeout)
        self.notifier.stopping(status="stopping: finishing the batch in flight" if running else "stopping")
        self.scheduler.shutdown(wait=False)
        if not self._idle.wait(timeout):
            # The cycle thread is still alive and may yet commit a batch, so the lease is not
            # released here: the "process gone" check frees it at once on this host, the TTL elsewhere.
            _exit_now(signum, "service.stop_timeout", timeout_seconds=timeout,
                      state="committed batches kept; the next run repeats the unconfirmed one")
        self._release()
        if self.http is not None:
            self.http.stop()
        self.store.close()
        log.info("service.stopped", exit_code=0, cycles=self.cycles_run)
        return 0

    def _release(self) -> None:
        if self.keepalive is not None:
            self.keepalive.stop()
        try:
            self.lease.release()
        except Exception as exc:  # noqa: BLE001 - the lease expires on its own
            log.warning("lease.release_failed", error=f"{type(exc).__name__}: {exc}")
        self.metrics.lease_held.set(0)

    # -- signals ----------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_hangup)

    def _on_stop_signal(self, signum: int, _frame: Any) -> None:
        if self.stop_signal is not None:
            _exit_now(signum, "service.killed", reason="second signal")
        self.stop_signal = signum

    def _on_hangup(self, _signum: int, _frame: Any) -> None:
        self.reload_requested = True

    def should_stop(self) -> bool:
        """Asked by the runner between batches."""
        return self.stop_signal is not None or not self.lease.held

    # -- the job --------------------------------------------------------------------------
    def _run_cycle(self) -> None:
        self._idle.clear()                 # before the check: shutdown then waits for us, or we see its signal
        if self.stop_signal is not None:
            self._idle.set()
            return
        self._cycle_running = True
        try:
            if not self.lease.held and not self._reacquire():
                return
            self._one_cycle()
        finally:
            self._cycle_running = False
            self._idle.set()

    def _one_cycle(self) -> None:
        loaded = self.loaded              # a reload swaps the reference; this cycle keeps its own
        self.notifier.status("syncing")
        started = time.monotonic()
        cycle: CycleResult | None = None
        error: Exception | None = None
        try:
            if self._connectors is None or self._connectors[0] is not loaded:
                self._connectors = (loaded, Connectors.build(loaded))
            cycle = self.cycle(loaded, self.store, dry_run=loaded.settings.sync.dry_run,
                               should_stop=self.should_stop, connectors=self._connectors[1])
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
        self.cycles_run += 1
        self.last_status = status
        if status in SUCCESS_STATUSES:
            self.last_success = finished
        self.metrics.observe_cycle(cycle, status, duration, finished, error)
        log.info("service.cycle_finished", status=status, duration_seconds=duration,
                 exit_code=int(cycle.exit_code) if cycle is not None else int(getattr(error, "exit_code", 1)),
                 cycles=self.cycles_run)

    def _on_job_event(self, event: JobExecutionEvent | JobSubmissionEvent) -> None:
        try:
            if event.code == EVENT_JOB_MAX_INSTANCES:
                self._due_while_running = True
                log.info("service.cycle_delayed", reason="the previous cycle is still running",
                         due_at=_iso(max(event.scheduled_run_times, default=None)))
                return
            if event.code == EVENT_JOB_MISSED:
                log.warning("service.cycle_missed", due_at=_iso(event.scheduled_run_time),
                            reason="the scheduler woke up too late (machine suspended or overloaded)")
                return
            if event.code == EVENT_JOB_ERROR:      # _run_cycle catches everything; belt and braces
                log.error("service.cycle_crashed", error_type=type(event.exception).__name__,
                          error=str(event.exception))
            if self.stop_signal is not None:
                return
            if self._due_while_running:            # run the delayed cycle now, once
                self._due_while_running = False
                self.scheduler.modify_job(JOB_ID, next_run_time=self.clock())
            next_run = self._next_run_time()
            self._record_next_run(next_run)
            log.info("service.cycle_scheduled", next_run_at=_iso(next_run))
            last = f"last cycle {self.last_status} {_clock(self.clock())}"
            self.notifier.status(f"{last}; next cycle {_clock(next_run)}")
        except Exception as exc:  # noqa: BLE001 - a listener must never break the scheduler
            log.error("service.listener_failed", error=f"{type(exc).__name__}: {exc}")

    def _next_run_time(self) -> dt.datetime | None:
        job = self.scheduler.get_job(JOB_ID)
        return job.next_run_time if job is not None else None

    def _record_next_run(self, next_run: dt.datetime | None) -> None:
        """`syncd status` in another process reads the next cycle from the lease row."""
        self.lease.next_run_at = next_run
        self.metrics.next_cycle.set(next_run.timestamp() if next_run else 0)
        try:
            self.lease.heartbeat()
        except Exception as exc:  # noqa: BLE001 - the keep-alive thread retries
            log.warning("lease.heartbeat_failed", pipeline=self.lease.pipeline, error=f"{type(exc).__name__}: {exc}")

    def _grace(self) -> int:
        """A due time missed by less than one period still runs (once, coalesced)."""
        return max(1, int(period_seconds(self.trigger, self.clock())))

    # -- the lease ------------------------------------------------------------------------
    def _lease_lost(self) -> None:
        self.metrics.lease_held.set(0)
        log.error("service.lease_lost", action="stopping the cycle after the batch in flight; "
                                               "the next cycle tries to take the lease again")

    def _reacquire(self) -> bool:
        try:
            self.lease.acquire()
        except LockHeld as exc:
            log.warning("service.cycle_skipped", reason=str(exc))
            return False
        if self.keepalive is not None:
            self.keepalive.stop()
        self.keepalive = self.lease.keep_alive(on_lost=self._lease_lost)
        self.keepalive.__enter__()
        self.metrics.lease_held.set(1)
        return True

    # -- health ---------------------------------------------------------------------------
    def _healthy(self) -> bool:
        return self.scheduler.running and self.stop_signal is None

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        ok = self._healthy() or self.stop_signal is not None
        return ok, {"status": "alive" if ok else "scheduler stopped", "pid": os.getpid(),
                    "uptime_seconds": round((self.clock() - self.started_at).total_seconds(), 1),
                    "cycles": self.cycles_run, "lease_held": self.lease.held}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        now = self.clock()
        body: dict[str, Any] = {"last_success_at": _iso(self.last_success), "last_status": self.last_status,
                                "within_cycles": READY_WITHIN_CYCLES}
        if self.stop_signal is not None:
            return False, {"ready": False, "reason": "stopping", **body}
        if not self.lease.held:
            return False, {"ready": False, "reason": "another syncer holds the lease", **body}
        if self.last_success is None:
            return False, {"ready": False, "reason": "no cycle has succeeded yet", **body}
        missed = due_times_between(self.trigger, self.last_success, now, READY_WITHIN_CYCLES)
        if missed >= READY_WITHIN_CYCLES:
            return False, {"ready": False, "reason": f"no successful cycle in the last {missed} scheduled "
                                                     f"cycles", **body}
        return True, {"ready": True, **body}

    def _restore_last_success(self) -> None:
        """After a restart, the last success recorded in state counts for /readyz and the gauge."""
        for run in self.store.recent_runs(self.settings.sync.pipeline, 20):
            if run.status in ("ok", "partial") and run.finished_at is not None:
                finished = run.finished_at if run.finished_at.tzinfo else run.finished_at.replace(tzinfo=UTC)
                self.last_success = finished
                self.metrics.last_success.set(finished.timestamp())
                return

    def _start_http(self) -> None:
        metrics = self.settings.metrics
        if metrics.address is None:
            return
        try:
            self.http = HealthServer(metrics.address, self.metrics, live=self.liveness,
                                     ready=self.readiness).start()
        except OSError as exc:
            source = str(self.settings.config_path or "environment")
            raise ConfigError(Problem(source, "metrics.listen", f"cannot listen on {metrics.listen}: "
                                                                 f"{exc.strerror or exc}")) from None
        if not metrics.is_loopback:
            log.warning("metrics.exposed", listen=metrics.listen,
                        advice="other machines can read /metrics; firewall the port or use 127.0.0.1")
        log.info("metrics.listening", listen=metrics.listen, port=self.http.port)

    # -- SIGHUP ---------------------------------------------------------------------------
    def reload(self) -> bool:
        """Load and validate config and mapping; swap them in only if everything is valid."""
        old = self.loaded
        self.notifier.reloading()
        try:
            new = self.load(self.config_path)
            problems = [Problem(str(new.settings.config_path or "environment"), name,
                                "cannot change while the service runs (its lock lives there); "
                                "restart the service instead")
                        for (section, key), name in FIXED_ON_RELOAD.items()
                        if _value(old.settings, section, key) != _value(new.settings, section, key)]
            if problems:
                raise ConfigError(problems)
            # Built before anything is swapped, so a schedule that cannot be built is a failed reload.
            new_trigger = make_trigger(new.settings.schedule, self.clock()) if new.settings.schedule != old.settings.schedule else None
        except ConfigError as exc:
            self.metrics.reloads.labels("failed").inc()
            log.error("service.reload_failed", problems=[str(p) for p in exc.problems],
                      action="still running on the previous configuration and mapping")
            self.notifier.ready(status="reload failed; running on the previous configuration")
            return False
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, keep the running config
            self.metrics.reloads.labels("failed").inc()
            log.exception("service.reload_failed", problems=[f"{type(exc).__name__}: {exc}"],
                          action="still running on the previous configuration and mapping")
            self.notifier.ready(status="reload failed; running on the previous configuration")
            return False
        settings = new.settings
        configure_logging(settings.logging.format, settings.logging.level,
                          [*old.settings.secret_values(), *settings.secret_values()])
        _quiet_libraries()
        self.loaded = new
        changed = [name for name in ("mapping", "hubspot", "salesforce", "tls", "sync", "schedule", "logging",
                                     "metrics") if getattr(old.settings, name) != getattr(settings, name)]
        if old.mapping != new.mapping and "mapping" not in changed:
            changed.append("mapping")
        if new_trigger is not None:
            self.trigger = new_trigger
            self.scheduler.reschedule_job(JOB_ID, trigger=self.trigger)
            self.scheduler.modify_job(JOB_ID, misfire_grace_time=self._grace())
            self._record_next_run(self._next_run_time())
        restart_needed = ["metrics.listen"] if settings.metrics.listen != old.settings.metrics.listen else []
        self.metrics.reloads.labels("ok").inc()
        log.info("service.reloaded", config=str(settings.config_path) if settings.config_path else None,
                 mapping=new.mapping.source, changed=changed, schedule=describe_schedule(settings.schedule),
                 restart_needed=restart_needed)
        self.notifier.ready(status=f"reloaded; next cycle {_clock(self._next_run_time())}")
        return True


def _value(settings: Any, section: str, key: str) -> Any:
    value = getattr(getattr(settings, section), key)
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _clock(moment: dt.datetime | None) -> str:
    return moment.astimezone(UTC).strftime("at %Y-%m-%d %H:%M:%S UTC") if moment else "not scheduled"


def _quiet_libraries() -> None:
    # Our listener reports scheduler events in our own words (service.cycle_delayed, ...);
    # APScheduler's own INFO/WARNING lines would only repeat them.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    log.error("service.thread_crashed", thread=args.thread.name if args.thread else None,
              exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def serve(config_path: Path | None) -> int:
    """`syncd run` without --once. Returns the exit code; raises ConfigError (4) or LockHeld (6)."""
    loaded = app.load(config_path)
    settings = loaded.settings
    configure_logging(settings.logging.format, settings.logging.level, settings.secret_values())
    _quiet_libraries()
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
        service._release()
        raise
