"""Signals, for the service and for `syncd run --once` alike: the first SIGTERM/SIGINT asks for a
stop after the batch in flight; a second one exits at once with 128 + the signal number.
SIGHUP (the service only) asks for a reload.

Exiting at once is safe for state: every state write is one SQLite/PostgreSQL transaction, which
the database either commits whole or rolls back when the process vanishes, and a Salesforce write
that was sent but not yet recorded is an idempotent upsert that the next run repeats harmlessly.

Handlers only set attributes (or exit): the work they ask for happens outside the handler, in
the service's main loop or between the runner's batches.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import structlog

log = structlog.get_logger("syncd.service")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def signal_name(signum: int) -> str:
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


def exit_now(signum: int, event: str, **fields: Any) -> NoReturn:
    """Leave without waiting for the cycle (see the module docstring for why state survives)."""
    try:   # a signal landing inside a stdout write makes this write re-entrant: exit regardless
        log.warning(event, signal=signal_name(signum), exit_code=128 + signum, **fields)
        _flush()
    except Exception:  # noqa: BLE001,S110 - nothing may stand between the second signal and the exit
        pass
    os._exit(128 + signum)


class StopRequest:
    """The first SIGTERM/SIGINT is remembered (``on_first`` hears it); the second exits at once,
    logged as ``killed_event``."""

    def __init__(self, *, killed_event: str, on_first: Callable[[int], None] | None = None) -> None:
        self.killed_event = killed_event
        self.on_first = on_first
        self.signum: int | None = None

    def requested(self) -> bool:
        return self.signum is not None

    def request(self, signum: int) -> None:
        """Ask for a stop as the first signal would (the service's stop bound uses it too)."""
        if self.signum is None:
            self.signum = signum

    def handle(self, signum: int, _frame: Any) -> None:
        if self.signum is not None:
            exit_now(signum, self.killed_event, reason="second signal")
        self.signum = signum
        if self.on_first is not None:
            self.on_first(signum)

    def install(self) -> dict[int, Any]:
        """Handle SIGTERM and SIGINT from now on; returns the handlers it replaced."""
        return {sig: signal.signal(sig, self.handle) for sig in STOP_SIGNALS}


class ServiceSignals:
    """The service's signals: SIGTERM/SIGINT stop it (a second exits at once), SIGHUP asks for a
    reload, which the main loop picks up with ``take_reload_request``."""

    def __init__(self) -> None:
        self.stop = StopRequest(killed_event="service.killed")
        self._reload_requested = False

    def install(self) -> None:
        self.stop.install()
        signal.signal(signal.SIGHUP, self._on_hangup)

    def _on_hangup(self, _signum: int, _frame: Any) -> None:
        self._reload_requested = True

    def take_reload_request(self) -> bool:
        requested, self._reload_requested = self._reload_requested, False
        return requested


@contextmanager
def graceful_stop() -> Iterator[Callable[[], bool]]:
    """For `syncd run --once`: the first SIGTERM/SIGINT asks the cycle to stop after the batch
    in flight; a second exits at once. Yields the ``should_stop`` callable."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False            # only the main thread may set signal handlers
        return

    def announce(signum: int) -> None:
        log.warning("run.stop_requested", signal=signal_name(signum),
                    action="finishing the batch in flight; a second signal stops at once")

    stop = StopRequest(killed_event="run.killed", on_first=announce)
    previous = stop.install()
    try:
        yield stop.requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
