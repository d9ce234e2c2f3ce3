"""Is the cycle in flight moving? The service's answer, behind ``WATCHDOG=1`` and ``/healthz``.

A cycle hung on a remote call keeps the main loop and the scheduler alive, so "the process runs"
proves nothing about it. Instead, the cycle shows that it moves: a page read and a batch written
(``Progress``, which the runner calls), and every API request it sends to either system (the
connectors' call counters, counted per attempt). The back leg reports no pages, but it makes
requests; a retried call makes one per attempt. A cycle that shows none of these for longer than
the *stall bound* is stalled: the service stops pinging systemd's watchdog (which then kills and
restarts it), ``/healthz`` answers 503 saying why, and ``service.cycle_stalled`` is logged once.

The stall bound, derived rather than configured:

- Under systemd's watchdog (``WATCHDOG_USEC``, from ``WatchdogSec=``) it is ``WatchdogSec``: the
  operator's own statement of how long the service may go unanswered. The service is then
  restarted at most twice ``WatchdogSec`` after the cycle last moved. A healthy cycle can be
  silent for one request that takes its whole timeout plus the retry policy's longest back-off
  pause (``quiet_seconds``); a shorter ``WatchdogSec`` would kill healthy cycles, so it is
  reported at start-up (``service.watchdog_short``) but obeyed: a test uses it to stand for a
  request whose timeout never fires.
- Without it, the longest one remote call can take, retries and pauses included
  (``call_seconds``): only a call hung past its own timeouts gets there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from connectors.retry import RetryPolicy
from syncd.config import Settings

log = structlog.get_logger("syncd.service")

_POLICY = RetryPolicy()      # the pauses and the budget syncd.app's connectors use; attempts come from the settings
Calls = Callable[[], dict[str, int]]


def quiet_seconds(settings: Settings) -> float:
    """The longest a healthy cycle goes without a sign of progress: a request that takes its
    whole timeout, then the longest back-off pause before the next attempt."""
    longest_request = max(settings.hubspot.timeout_seconds, settings.salesforce.timeout_seconds)
    return longest_request + _POLICY.max_pause_seconds


def call_seconds(settings: Settings) -> float:
    """The longest one remote call can take, retries included: every attempt to its whole
    timeout with the longest pause between two, and no attempt starts after the policy's budget."""
    worst = 0.0
    for section in (settings.hubspot, settings.salesforce):
        attempts = section.max_retries + 1
        every_attempt = attempts * section.timeout_seconds + (attempts - 1) * _POLICY.max_pause_seconds
        worst = max(worst, min(every_attempt, _POLICY.budget_seconds + section.timeout_seconds))
    return worst


def stall_bound(settings: Settings, watchdog_seconds: float | None) -> float:
    """Seconds a cycle may go without progress before it counts as stalled (see the module docstring)."""
    if watchdog_seconds:
        if watchdog_seconds < quiet_seconds(settings):
            log.warning("service.watchdog_short", watchdog_seconds=watchdog_seconds,
                        needed_seconds=quiet_seconds(settings),
                        advice="WatchdogSec= is shorter than one request's timeout plus a retry pause: "
                               "a healthy cycle may be restarted; raise WatchdogSec= or lower "
                               "hubspot/salesforce.timeout_seconds")
        return watchdog_seconds
    return call_seconds(settings)


class CycleProgress:
    """When the cycle in flight last moved. Implements ``syncd.core.ports.Progress`` (the runner
    calls it from the cycle's threads); the service reads it from the main loop and the endpoint."""

    def __init__(self, bound: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.bound = bound
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: Calls | None = None
        self._calls_seen = 0
        self._moved_at: float | None = None          # None: no cycle runs
        self._stalled_since: float | None = None     # the last move before a stall that was logged

    # -- the cycle ------------------------------------------------------------------------
    def begin(self, calls: Calls | None = None) -> None:
        """A cycle starts; ``calls`` counts the API requests its connectors have sent."""
        with self._lock:
            self._calls = calls
            self._calls_seen = sum(calls().values()) if calls else 0
            self._moved_at = self._clock()

    def end(self) -> None:
        with self._lock:
            self._calls, self._moved_at = None, None

    def started(self, total: int | None) -> None:
        self._moved()

    def read(self, records: int, total: int | None) -> None:
        self._moved()

    def written(self, records: int) -> None:
        self._moved()

    def working(self) -> None:
        # Templates rendering: each contact's render is bounded (``syncd.mapping.budget``), so a
        # page of contacts that each spend their whole budget moves, slowly, and is not a hang.
        self._moved()

    def _moved(self) -> None:
        with self._lock:
            if self._moved_at is not None:
                self._moved_at = self._clock()

    # -- the judgement ----------------------------------------------------------------------
    def silence(self) -> float | None:
        """Seconds since the cycle in flight last moved; None when no cycle runs. API requests
        are noticed here, when the service looks (its main loop, every quarter second)."""
        with self._lock:
            if self._moved_at is None:
                return None
            if self._calls is not None:
                sent = sum(self._calls().values())
                if sent != self._calls_seen:
                    self._calls_seen, self._moved_at = sent, self._clock()
            return self._clock() - self._moved_at

    def stalled_for(self) -> float | None:
        """Seconds without progress when that is past the bound, else None."""
        silence = self.silence()
        return silence if silence is not None and silence > self.bound else None

    def check(self) -> str | None:
        """Log a stall once when it starts and once when it ends (the cycle moved again, or
        ended); returns ``"stalled"`` or ``"resumed"`` at those moments (for systemd's STATUS
        line), else None. Called from the service's main loop only."""
        stalled = self.stalled_for()
        if stalled is not None and self._stalled_since is None:
            self._stalled_since = self._clock() - stalled
            log.error("service.cycle_stalled", seconds_since_progress=round(stalled, 1), bound_seconds=self.bound,
                      action="no watchdog ping until it moves: systemd restarts the service")
            return "stalled"
        if stalled is None and self._stalled_since is not None:
            quiet = round(self._clock() - self._stalled_since, 1)
            self._stalled_since = None
            log.info("service.cycle_resumed", seconds_without_progress=quiet, cycle_running=self.silence() is not None)
            return "resumed"
        return None
