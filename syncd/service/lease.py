"""The daemon's hold on the pipeline's lease (``state.lease``): one syncer per pipeline.

The daemon acquires the lease before anything else and keeps it for its life, heartbeating from
a thread. If it is taken over (this process stalled longer than the TTL), the cycle in flight
stops after its batch and the next cycle tries to take it again. The ``syncd_lease_held`` gauge
follows every change.
"""

from __future__ import annotations

import datetime as dt

import structlog

from state.lease import KeepAlive, Lease
from syncd.core.errors import LockHeld
from syncd.service.metrics import Metrics

log = structlog.get_logger("syncd.service")


class HeldLease:
    def __init__(self, lease: Lease, metrics: Metrics) -> None:
        self.lease = lease
        self.metrics = metrics
        self.keepalive: KeepAlive | None = None

    @property
    def held(self) -> bool:
        return self.lease.held

    def keep(self) -> None:
        """Heartbeat the (just acquired) lease from a thread, replacing any earlier keep-alive."""
        if self.keepalive is not None:
            self.keepalive.stop()
        self.keepalive = self.lease.keep_alive(on_lost=self._lost)
        self.keepalive.__enter__()
        self.metrics.lease_held.set(1)

    def reacquire(self) -> bool:
        """After a loss: take the lease again, or say who holds it and skip this cycle."""
        try:
            self.lease.acquire()
        except LockHeld as exc:
            log.warning("service.cycle_skipped", reason=str(exc))
            return False
        self.keep()
        return True

    def publish_next_run(self, next_run: dt.datetime | None) -> None:
        """`syncd status` in another process reads the next cycle from the lease row."""
        self.lease.next_run_at = next_run
        try:
            self.lease.heartbeat()
        except Exception as exc:  # noqa: BLE001 - the keep-alive thread retries
            log.warning("lease.heartbeat_failed", pipeline=self.lease.pipeline, error=f"{type(exc).__name__}: {exc}")

    def release(self) -> None:
        if self.keepalive is not None:
            self.keepalive.stop()
        try:
            self.lease.release()
        except Exception as exc:  # noqa: BLE001 - the lease expires on its own
            log.warning("lease.release_failed", error=f"{type(exc).__name__}: {exc}")
        self.metrics.lease_held.set(0)

    def _lost(self) -> None:
        self.metrics.lease_held.set(0)
        log.error("service.lease_lost", action="stopping the cycle after the batch in flight; "
                                               "the next cycle tries to take the lease again")
