"""The connectors the service's cycles use: one pair for a configuration, kept across cycles (one
Salesforce login, warm connection pools), replaced after a reload, and closed once no cycle uses
it any more.

A reload swaps the service's configuration from the main thread while a cycle may be running on
the worker thread with the old one, so the old pair is closed by whichever comes last: the reload
(no cycle runs), the end of the cycle that was using it, or at the latest the start of the next
cycle, which builds the new pair. Cycles never overlap, so no two cycles share a pair in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog

from syncd import app
from syncd.app.connectors import Connectors

log = structlog.get_logger("syncd.service")

Build = Callable[[app.Loaded], Connectors]


class CycleConnectors:
    def __init__(self, build: Build) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._current: tuple[app.Loaded, Connectors] | None = None
        self._in_use = False

    @contextmanager
    def using(self, loaded: app.Loaded) -> Iterator[Connectors]:
        """The pair built for ``loaded`` (built now if the one kept was for another configuration),
        marked in use until the block ends."""
        with self._lock:
            if self._current is None or self._current[0] is not loaded:
                self._close()               # not in use: the previous cycle has ended
                self._current = (loaded, self._build(loaded))
            self._in_use = True
            connectors = self._current[1]
        try:
            yield connectors
        finally:
            with self._lock:
                self._in_use = False

    def retire(self, current: app.Loaded | None = None) -> None:
        """Close the pair kept, unless a cycle is using it or it was built for ``current``
        (None: whatever it was built for, e.g. on the way out)."""
        with self._lock:
            if self._in_use or self._current is None or self._current[0] is current:
                return
            self._close()

    def _close(self) -> None:
        if self._current is None:
            return
        _, connectors = self._current
        self._current = None
        try:
            connectors.close()
        except Exception as exc:  # noqa: BLE001 - at worst idle sockets leak; the reload or the cycle goes on
            log.warning("service.connectors_close_failed", error=f"{type(exc).__name__}: {exc}")
