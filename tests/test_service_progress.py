"""The stall judgement behind the watchdog and /healthz, with a clock and a call counter passed in:
what counts as progress, when a cycle counts as stalled, and how the bound is derived."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from syncd.config import load_settings
from syncd.service.progress import CycleProgress, call_seconds, quiet_seconds, stall_bound


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settings(tmp_path: Path, text: str = ""):
    path = tmp_path / "syncd.yaml"
    path.write_text(text)
    return load_settings(path, {"HOME": str(tmp_path)}, require_credentials=False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_no_cycle_means_no_silence_to_judge(clock):
    progress = CycleProgress(10, clock=clock)
    clock.advance(3600)
    assert progress.silence() is None and progress.stalled_for() is None


@pytest.mark.parametrize("move", [
    lambda progress, calls: progress.started(200),
    lambda progress, calls: progress.read(200, None),
    lambda progress, calls: progress.written(200),
    lambda progress, calls: progress.working(),
    lambda progress, calls: calls.update(salesforce=calls["salesforce"] + 1),
], ids=["started", "page-read", "batch-written", "templates-rendering", "api-request-sent"])
def test_each_sign_of_progress_restarts_the_silence(clock, move):
    calls = {"hubspot": 3, "salesforce": 1}
    progress = CycleProgress(10, clock=clock)
    progress.begin(lambda: dict(calls))
    clock.advance(9)
    move(progress, calls)
    progress.silence()              # the main loop looks every tick: a request is noticed when it looks
    clock.advance(9)
    assert progress.silence() == 9 and progress.stalled_for() is None
    clock.advance(2)
    assert progress.stalled_for() == 11


def test_a_stall_is_logged_once_and_so_is_its_end(clock):
    calls = {"hubspot": 0, "salesforce": 0}
    progress = CycleProgress(10, clock=clock)
    progress.begin(lambda: dict(calls))
    with capture_logs() as logs:
        assert progress.check() is None
        clock.advance(12)
        assert [progress.check() for _ in range(3)] == ["stalled", None, None]
        clock.advance(5)
        calls["hubspot"] += 1                                # a request at last
        assert progress.check() == "resumed"
        assert progress.check() is None
        clock.advance(11)
        assert progress.check() == "stalled"                 # a second stall is a new one
        progress.end()                                       # the cycle gave up
        assert progress.check() == "resumed"
    assert [(e["event"], e.get("seconds_since_progress"), e.get("seconds_without_progress"), e.get("cycle_running"))
            for e in logs] == [("service.cycle_stalled", 12, None, None),
                               ("service.cycle_resumed", None, 17, True),
                               ("service.cycle_stalled", 11, None, None),
                               ("service.cycle_resumed", None, 11, False)]


def test_progress_outside_a_cycle_is_ignored(clock):
    progress = CycleProgress(10, clock=clock)
    progress.written(5)                                      # a late call from a finished cycle
    assert progress.silence() is None


def test_the_bounds_follow_the_connectors_settings(tmp_path):
    defaults = settings(tmp_path)
    # 30 s timeout + 30 s longest back-off pause
    assert quiet_seconds(defaults) == 60
    # 6 attempts of 30 s with 5 pauses of 30 s = 330 s, which is also the 300 s budget + one timeout
    assert call_seconds(defaults) == 330
    tuned = settings(tmp_path, "hubspot:\n  timeout_seconds: 10\n  max_retries: 1\n"
                               "salesforce:\n  timeout_seconds: 120\n  max_retries: 0\n")
    assert quiet_seconds(tuned) == 150 and call_seconds(tuned) == 120     # the worse system decides
    generous = settings(tmp_path, "salesforce:\n  timeout_seconds: 100\n  max_retries: 20\n")
    assert call_seconds(generous) == 300 + 100                           # the budget stops the retries


def test_under_systemd_the_bound_is_watchdogsec_and_a_short_one_is_called_out(tmp_path):
    defaults = settings(tmp_path)
    with capture_logs() as logs:
        assert stall_bound(defaults, 120) == 120                # the shipped unit's WatchdogSec=
        assert stall_bound(defaults, None) == call_seconds(defaults)
    assert logs == []
    with capture_logs() as logs:
        assert stall_bound(defaults, 20) == 20
    assert [(e["event"], e["watchdog_seconds"], e["needed_seconds"]) for e in logs] == \
        [("service.watchdog_short", 20, 60)]
