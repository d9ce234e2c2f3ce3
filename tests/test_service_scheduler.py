"""The service's scheduling rules, in-process with a stand-in cycle (no network): runs never
overlap, a slow cycle delays the next instead of stacking, a crash is logged and the next due
time still runs, and /readyz counts scheduled cycles since the last success."""

from __future__ import annotations

import datetime as dt
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from structlog.testing import capture_logs

from state.lock import Lease
from state.store import StateStore
from syncd import app
from syncd.config import load_settings
from syncd.cycle import CycleResult
from syncd.core.errors import ConfigError, ExitCode
from syncd.mapping import load_mapping
from syncd.metrics import Metrics
from syncd.service.notify import Notifier
from syncd.runner import RunResult
from syncd.service import Service, due_times_between

UTC = dt.timezone.utc


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def make_service(tmp_path: Path, cycle: Callable, *, interval: int = 1, cron: str | None = None,
                 clock: Callable[[], dt.datetime] | None = None, extra: str = "") -> Service:
    config = tmp_path / "syncd.yaml"
    when = f"cron: '{cron}'" if cron else f"interval_seconds: {interval}"
    config.write_text(f"schedule:\n  {when}\n  shutdown_timeout_seconds: 5\n"
                      f"state:\n  directory: {tmp_path / 'state'}\n{extra}")
    settings = load_settings(config, {}, require_credentials=False)
    store = StateStore(settings.state.database_url.get_secret_value())
    store.migrate()
    lease = Lease(store, settings.sync.pipeline, "daemon")
    lease.acquire()
    options = {"clock": clock} if clock else {}
    return Service(app.Loaded(settings, load_mapping(None)), store, lease, notifier=Notifier(env={}),
                   metrics=Metrics(), cycle=cycle, **options)


def run_for(service: Service, seconds: float) -> int:
    """Run the service in this (main) thread; a timer plays the first SIGTERM."""
    threading.Timer(seconds, lambda: service.signals.stop.request(signal.SIGTERM)).start()
    return service.run()


class Recorder:
    """A stand-in cycle: records when each call ran and how many ran at once."""

    def __init__(self, behaviours: dict[int, Callable[[], None]]) -> None:
        self.behaviours = behaviours
        self.spans: list[tuple[float, float]] = []
        self.active = self.most_active = 0
        self._lock = threading.Lock()

    def __call__(self, loaded, store, *, dry_run: bool, should_stop, **_) -> CycleResult:  # noqa: ANN001
        with self._lock:
            number = len(self.spans)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        started = time.monotonic()
        try:
            self.behaviours.get(number, lambda: None)()
            return CycleResult(RunResult(f"run-{number}", "ok"))
        finally:
            with self._lock:
                self.active -= 1
                self.spans.append((started, time.monotonic()))


def test_runs_never_overlap_and_a_slow_cycle_delays_the_next_once_instead_of_stacking(tmp_path, restore_signals):
    recorder = Recorder({0: lambda: time.sleep(4.3)})           # due again at 2 s and 4 s meanwhile
    service = make_service(tmp_path, recorder, interval=2)
    with capture_logs() as logs:
        assert run_for(service, 6.6) == 0
    spans = sorted(recorder.spans)
    assert recorder.most_active == 1
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    slow_end = spans[0][1]
    # The two due times it overran ran once, as soon as it ended (not at 6 s, not twice) ...
    delayed = [start - slow_end for start, _ in spans[1:] if start - slow_end < 1.2]
    assert len(delayed) == 1 and delayed[0] < 0.5
    assert 2 <= len(spans) <= 3                   # ... then back on the 2 s grid (6 s)
    assert [e for e in logs if e["event"] == "service.cycle_delayed"]
    assert not [e for e in logs if e["event"] in ("service.listener_failed", "service.cycle_crashed")]
    assert service.metrics.cycles.labels("ok")._value.get() == len(spans)


def test_a_crashing_cycle_is_logged_with_its_traceback_and_the_next_due_time_still_runs(tmp_path, restore_signals):
    def crash() -> None:
        raise RuntimeError("a bug in a cycle")

    recorder = Recorder({0: crash})
    service = make_service(tmp_path, recorder, interval=1)
    with capture_logs() as logs:
        assert run_for(service, 2.3) == 0
    assert len(recorder.spans) >= 2
    (crashed,) = [e for e in logs if e["event"] == "service.cycle_crashed"]
    assert crashed["error_type"] == "RuntimeError" and crashed["log_level"] == "error" and crashed["exc_info"]
    assert [e["status"] for e in logs if e["event"] == "service.cycle_finished"][:2] == ["crashed", "ok"]
    assert service.metrics.cycles.labels("crashed")._value.get() == 1
    assert service.health.last_status == "ok"


def test_a_cron_schedule_waits_for_its_first_matching_time_instead_of_running_at_start(tmp_path, restore_signals):
    recorder = Recorder({})
    service = make_service(tmp_path, recorder, cron="0 0 1 1 *")
    next_runs: list[dt.datetime | None] = []
    threading.Timer(0.5, lambda: next_runs.append(service.schedule.next_run_time())).start()
    assert run_for(service, 0.8) == 0
    assert recorder.spans == []
    assert next_runs[0] == dt.datetime(dt.datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)


def test_a_success_restored_from_before_this_start_up_is_judged_by_its_age(tmp_path):
    """A daemon restarted after days of failed cycles must not read ready for its first cycles."""
    now = [dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)]
    service = make_service(tmp_path, Recorder({}), interval=60, clock=lambda: now[0])
    try:
        service.health.last_success = service.schedule.trigger.start_date - dt.timedelta(days=3)
        ready, body = service.health.readiness()
        assert not ready and body["reason"] == "no successful cycle in the last 3 scheduled cycles"
        service.health.last_success = service.schedule.trigger.start_date - dt.timedelta(seconds=70)
        now[0] = service.schedule.trigger.start_date
        assert service.health.readiness()[0] is True
    finally:
        service.lease.release()


def test_readiness_fails_after_three_scheduled_cycles_without_a_success(tmp_path):
    now = [dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)]
    service = make_service(tmp_path, Recorder({}), interval=60, clock=lambda: now[0])
    try:
        assert service.health.readiness() == (False, {"ready": False, "reason": "no cycle has succeeded yet",
                                               "last_success_at": None, "last_status": None, "within_cycles": 3})
        grid = service.schedule.trigger.start_date                      # due times: grid + k * 60 s
        service.health.last_success = grid + dt.timedelta(seconds=5)
        now[0] = grid + dt.timedelta(seconds=150)              # due at +60 and +120 since: fine
        assert service.health.readiness()[0] is True
        now[0] = grid + dt.timedelta(seconds=181)              # +180 too: three missed
        ready, body = service.health.readiness()
        assert not ready and body["reason"] == "no successful cycle in the last 3 scheduled cycles"
        service.signals.stop.request(signal.SIGTERM)
        assert service.health.readiness()[1]["reason"] == "stopping"
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
