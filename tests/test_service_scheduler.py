"""The service's scheduling rules, in-process with a stand-in cycle (no network): runs never
overlap, a slow cycle delays the next instead of stacking, a crash is logged and the next due
time still runs, /readyz counts scheduled cycles since the last success, and a reload closes the
connectors it replaces once no cycle uses them.

The scheduler tests stop the clock (time-machine, ``tick=False``) at the current moment, whatever
the date, and move it to each due time themselves: the scheduler sees time only through that
clock, so what runs when is decided by the test, not by how fast a loaded machine gets there.
Each step waits for the scheduler's own events instead of sleeping."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from apscheduler.events import EVENT_ALL, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, SchedulerEvent
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from structlog.testing import capture_logs

from state.lease import Lease
from state.store import StateStore
from syncd import app
from syncd.config import load_settings
from syncd.core.errors import ConfigError, ExitCode
from syncd.mapping import load_mapping
from syncd.service.metrics import Metrics
from syncd.run.result import CycleResult, RunResult
from syncd.service import Service, due_times_between
from syncd.service.connections import CycleConnectors
from syncd.service.notify import Notifier

UTC = dt.timezone.utc
TIMEOUT = 30.0                       # only turns a hang into a failure; nothing is timed


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def frozen() -> Iterator[time_machine.Traveller]:
    """The clock stopped now (half a minute past, so that no cron expression matches the start
    itself); move it with ``move_to``."""
    with time_machine.travel(dt.datetime.now(UTC).replace(second=30, microsecond=0), tick=False) as traveller:
        yield traveller


class Notified(Notifier):
    """systemd's end of sd_notify, in-process: READY=1 sets ``ready``."""

    def __init__(self) -> None:
        super().__init__(env={})
        self.ready_sent = threading.Event()

    def send(self, **fields: object) -> bool:
        if "READY" in fields:
            self.ready_sent.set()
        return True


def make_service(tmp_path: Path, cycle: Callable, *, interval: int = 60, cron: str | None = None,
                 clock: Callable[[], dt.datetime] | None = None, extra: str = "", **options: Any) -> Service:
    config = tmp_path / "syncd.yaml"
    when = f"cron: '{cron}'" if cron else f"interval_seconds: {interval}"
    config.write_text(f"schedule:\n  {when}\n  shutdown_timeout_seconds: 60\n"
                      f"state:\n  directory: {tmp_path / 'state'}\n{extra}")
    settings = load_settings(config, {}, require_credentials=False)
    store = StateStore(settings.state.database_url.get_secret_value())
    store.migrate()
    lease = Lease(store, settings.sync.pipeline, "daemon")
    lease.acquire()
    if clock:
        options["clock"] = clock
    return Service(app.Loaded(settings, load_mapping(None)), store, lease, notifier=Notified(),
                   metrics=Metrics(), cycle=cycle, **options)


class Recorder:
    """A stand-in cycle: counts its calls and how many ran at once. ``hold(n)`` keeps call n
    running until ``release(n)``; ``behaviours[n]`` runs inside call n."""

    def __init__(self, behaviours: dict[int, Callable[[], None]] | None = None) -> None:
        self.behaviours = behaviours or {}
        self.calls = self.active = self.most_active = 0
        self.connectors: list[Any] = []              # what each call was given
        self._held: dict[int, threading.Event] = {}
        self._changed = threading.Condition()

    def hold(self, number: int) -> None:
        self._held[number] = threading.Event()

    def release(self, number: int | None = None) -> None:
        for held, event in self._held.items():
            if number is None or held == number:
                event.set()

    def wait_for_calls(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.calls >= count, TIMEOUT), f"{self.calls} calls, not {count}"

    def __call__(self, loaded, store, *, dry_run: bool, should_stop,  # noqa: ANN001
                 connectors=None, **_) -> CycleResult:  # noqa: ANN001
        with self._changed:
            self.connectors.append(connectors)
            number = self.calls
            self.calls += 1
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self._changed.notify_all()
        try:
            if number in self._held:
                assert self._held[number].wait(TIMEOUT)
            self.behaviours.get(number, lambda: None)()
            return CycleResult(RunResult(f"run-{number}", "ok"))
        finally:
            with self._changed:
                self.active -= 1


class JobEvents:
    """The scheduler's events, counted by code (after the service's own listener has run)."""

    def __init__(self, service: Service) -> None:
        self.counts: Counter[int] = Counter()
        self._changed = threading.Condition()
        service.schedule.scheduler.add_listener(self._heard, EVENT_ALL)

    def _heard(self, event: SchedulerEvent) -> None:
        with self._changed:
            self.counts[event.code] += 1
            self._changed.notify_all()

    def wait(self, code: int, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.counts[code] >= count, TIMEOUT), dict(self.counts)


def next_due(service: Service, clock: time_machine.Traveller) -> dt.datetime:
    """Move the clock to the next due time and wake the scheduler to look."""
    due = service.schedule.next_run_time()
    assert due is not None
    clock.move_to(due)
    service.schedule.scheduler.wakeup()
    return due


def run_service(service: Service, script: Callable[[], None], recorder: Recorder) -> int:
    """Run the service in this (main) thread, where signal handlers can be set, while ``script``
    drives it from another; then stop it as a first SIGTERM would. Held cycles are released
    whatever happens, so a failing script cannot leave the service waiting for one."""
    failures: list[BaseException] = []

    def drive() -> None:
        try:
            assert isinstance(service.notifier, Notified) and service.notifier.ready_sent.wait(TIMEOUT)
            script()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(exc)
        finally:
            recorder.release()
            service.signals.stop.request(signal.SIGTERM)

    driver = threading.Thread(target=drive, name="test-driver")
    driver.start()
    code = service.run()
    driver.join(TIMEOUT)
    if failures:
        raise failures[0]
    return code


def logged(logs: list[dict], event: str, field: str) -> list:
    return [entry[field] for entry in logs if entry["event"] == event]


def test_runs_never_overlap_and_a_slow_cycle_delays_the_next_once_instead_of_stacking(tmp_path, restore_signals,
                                                                                      frozen):
    start = dt.datetime.now(UTC)
    recorder = Recorder()
    recorder.hold(0)                                     # the first cycle is slow: it runs until released
    service = make_service(tmp_path, recorder, interval=60)
    events = JobEvents(service)
    grid = [start + dt.timedelta(seconds=60 * k) for k in range(5)]

    def script() -> None:
        recorder.wait_for_calls(1)
        for overrun in (1, 2):                           # two due times pass while it runs ...
            assert next_due(service, frozen) == grid[overrun]
            events.wait(EVENT_JOB_MAX_INSTANCES, overrun)
        assert recorder.calls == 1                       # ... and start nothing
        recorder.release(0)
        recorder.wait_for_calls(2)                       # the delayed cycle starts as soon as it ends,
        events.wait(EVENT_JOB_EXECUTED, 2)               # with the clock where it was ...
        assert recorder.calls == 2                       # ... once, and then it is back on the grid:
        assert next_due(service, frozen) == grid[3]
        events.wait(EVENT_JOB_EXECUTED, 3)

    with capture_logs() as logs:
        assert run_service(service, script, recorder) == 0
    assert recorder.calls == 3 and recorder.most_active == 1
    assert logged(logs, "service.cycle_delayed", "due_at") == [grid[1].isoformat(), grid[2].isoformat()]
    assert logged(logs, "service.cycle_scheduled", "next_run_at") == [grid[2].isoformat(), grid[3].isoformat(),
                                                                      grid[4].isoformat()]
    assert not [e for e in logs if e["event"] in ("service.listener_failed", "service.cycle_crashed",
                                                  "service.cycle_missed")]
    assert service.metrics.cycles.labels("ok")._value.get() == 3


def test_a_crashing_cycle_is_logged_with_its_traceback_and_the_next_due_time_still_runs(tmp_path, restore_signals,
                                                                                        frozen):
    def crash() -> None:
        raise RuntimeError("a bug in a cycle")

    recorder = Recorder({0: crash})
    service = make_service(tmp_path, recorder, interval=60)
    events = JobEvents(service)

    def script() -> None:
        events.wait(EVENT_JOB_EXECUTED, 1)               # the crash is caught: the job itself ends normally
        next_due(service, frozen)
        events.wait(EVENT_JOB_EXECUTED, 2)

    with capture_logs() as logs:
        assert run_service(service, script, recorder) == 0
    assert recorder.calls == 2
    (crashed,) = [e for e in logs if e["event"] == "service.cycle_crashed"]
    assert crashed["error_type"] == "RuntimeError" and crashed["log_level"] == "error" and crashed["exc_info"]
    assert logged(logs, "service.cycle_finished", "status") == ["crashed", "ok"]
    assert service.metrics.cycles.labels("crashed")._value.get() == 1
    assert service.health.last_status == "ok"


def test_a_cron_schedule_waits_for_its_first_matching_time_instead_of_running_at_start(tmp_path, restore_signals,
                                                                                      frozen):
    now = dt.datetime.now(UTC)
    first_of_next_january = dt.datetime(now.year + 1, 1, 1, tzinfo=UTC)
    recorder = Recorder()
    service = make_service(tmp_path, recorder, cron="0 0 1 1 *")
    next_runs: list[dt.datetime | None] = []

    with capture_logs() as logs:
        assert run_service(service, lambda: next_runs.append(service.schedule.next_run_time()), recorder) == 0
    assert recorder.calls == 0
    assert next_runs == [first_of_next_january]
    assert logged(logs, "service.started", "next_run_at") == [first_of_next_january.isoformat()]


def test_a_success_restored_from_before_this_start_up_is_judged_by_its_age(tmp_path):
    """A daemon restarted after days of failed cycles must not read ready for its first cycles."""
    now = [dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)]
    service = make_service(tmp_path, Recorder({}), interval=60, clock=lambda: now[0])
    try:
        health, start = service.health, service.schedule.trigger.start_date
        health.last_success = start - dt.timedelta(days=3)
        ready, body = health.readiness()
        assert not ready and body["reason"] == "no successful cycle in the last 3 scheduled cycles"
        health.last_success = start - dt.timedelta(seconds=70)
        now[0] = start
        assert health.readiness()[0] is True
    finally:
        service.lease.release()


def test_readiness_fails_after_three_scheduled_cycles_without_a_success(tmp_path):
    now = [dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)]
    service = make_service(tmp_path, Recorder({}), interval=60, clock=lambda: now[0])
    try:
        health = service.health
        assert health.readiness() == (False, {"ready": False, "reason": "no cycle has succeeded yet",
                                              "last_success_at": None, "last_status": None, "within_cycles": 3})
        grid = service.schedule.trigger.start_date             # due times: grid + k * 60 s
        health.last_success = grid + dt.timedelta(seconds=5)
        now[0] = grid + dt.timedelta(seconds=150)              # due at +60 and +120 since: fine
        assert health.readiness()[0] is True
        now[0] = grid + dt.timedelta(seconds=181)              # +180 too: three missed
        ready, body = health.readiness()
        assert not ready and body["reason"] == "no successful cycle in the last 3 scheduled cycles"
        service.signals.stop.request(signal.SIGTERM)
        assert health.readiness()[1]["reason"] == "stopping"
    finally:
        service.lease.release()
        service.store.close()


@pytest.mark.parametrize("trigger, since, now, due", [
    (IntervalTrigger(seconds=900, start_date=dt.datetime(2026, 1, 1, tzinfo=UTC)),
     dt.datetime(2026, 3, 2, 10, 1, tzinfo=UTC), dt.datetime(2026, 3, 2, 10, 44, tzinfo=UTC), 2),
    # business hours only: a Friday evening success is still fresh on Monday at 08:20
    (CronTrigger.from_crontab("*/15 8-18 * * mon-fri", timezone=UTC),
     dt.datetime(2026, 3, 6, 18, 50, tzinfo=UTC), dt.datetime(2026, 3, 9, 8, 20, tzinfo=UTC), 2),
    (CronTrigger.from_crontab("0 * * * *", timezone=UTC),
     dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC), dt.datetime(2026, 3, 2, 20, 0, tzinfo=UTC), 3),
], ids=["interval", "cron-over-a-weekend", "capped-at-the-limit"])
def test_due_times_are_counted_from_the_schedule_not_the_wall_clock(trigger, since, now, due):
    assert due_times_between(trigger, since, now, limit=3) == due


def test_a_metrics_port_already_taken_is_a_config_error_naming_the_setting(tmp_path, restore_signals):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        service = make_service(tmp_path, Recorder({}), extra=f"metrics:\n  listen: 127.0.0.1:{port}\n")
        with pytest.raises(ConfigError) as error:
            service.run()
    assert f"metrics.listen: cannot listen on 127.0.0.1:{port}: Address already in use" in str(error.value)
    assert error.value.exit_code == ExitCode.CONFIG_ERROR
    service.lease.release()
    service.store.close()


class FakeConnectors:
    """Stands in for ``syncd.app.connectors.Connectors``: the configuration it was built for, and
    how often it was closed."""

    def __init__(self, loaded: app.Loaded) -> None:
        self.loaded = loaded
        self.closed = 0

    def calls(self) -> dict[str, int]:
        return {"hubspot": 0, "salesforce": 0}

    def close(self) -> None:
        self.closed += 1


def sighup_and_wait_for_the_swap(service: Service) -> None:
    """SIGHUP, as `systemctl reload` sends it; returns once the service runs on the new configuration."""
    before = service.loaded
    os.kill(os.getpid(), signal.SIGHUP)
    deadline = time.monotonic() + TIMEOUT
    while service.loaded is before:
        assert time.monotonic() < deadline, "the reload never happened"
        time.sleep(0.01)


def test_a_reload_closes_the_connectors_it_replaces_once_no_cycle_uses_them(tmp_path, restore_signals, frozen):
    built: list[FakeConnectors] = []

    def build(loaded: app.Loaded) -> FakeConnectors:
        built.append(FakeConnectors(loaded))
        return built[-1]

    recorder = Recorder()
    recorder.hold(1)                                     # the second cycle runs while a reload comes in
    service = make_service(tmp_path, recorder, interval=60, build_connectors=build,
                           load=lambda _path: app.Loaded(service.settings, load_mapping(None)))
    events = JobEvents(service)

    def closed() -> list[int]:
        return [connectors.closed for connectors in built]

    def script() -> None:
        events.wait(EVENT_JOB_EXECUTED, 1)
        next_due(service, frozen)
        recorder.wait_for_calls(2)
        sighup_and_wait_for_the_swap(service)
        assert closed() == [0]                           # the cycle in flight still uses them
        recorder.release(1)
        events.wait(EVENT_JOB_EXECUTED, 2)
        assert closed() == [1]                           # closed as that cycle ended, before the next
        next_due(service, frozen)
        events.wait(EVENT_JOB_EXECUTED, 3)
        assert closed() == [1, 0] and built[1].loaded is service.loaded
        sighup_and_wait_for_the_swap(service)            # between cycles: closed at once
        assert closed() == [1, 1]
        next_due(service, frozen)
        events.wait(EVENT_JOB_EXECUTED, 4)

    assert run_service(service, script, recorder) == 0
    # one pair per configuration, shared by its cycles; the last one closed on the way out
    assert recorder.connectors == [built[0], built[0], built[1], built[2]]
    assert closed() == [1, 1, 1]


def test_connectors_that_fail_to_close_are_reported_and_the_service_goes_on(tmp_path):
    class Unclosable(FakeConnectors):
        def close(self) -> None:
            raise OSError("socket already gone")

    config = tmp_path / "syncd.yaml"
    config.write_text(f"state:\n  directory: {tmp_path / 'state'}\n")
    first, second = (app.Loaded(load_settings(config, {}, require_credentials=False), load_mapping(None))
                     for _ in range(2))
    kept = CycleConnectors(Unclosable)
    with kept.using(first):
        pass
    with capture_logs() as logs, kept.using(second) as connectors:      # replaces (and closes) the first pair
        assert connectors.loaded is second
    assert [(e["event"], e["error"]) for e in logs] == [("service.connectors_close_failed",
                                                         "OSError: socket already gone")]
