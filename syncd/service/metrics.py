"""Prometheus metrics: a few nouns with labels, in one module.

| metric | type | labels |
|---|---|---|
| ``syncd_records_total`` | counter | ``direction`` (forward: HubSpot -> Salesforce, back: Salesforce -> HubSpot), ``outcome`` (the run's counts: read, created, updated, unchanged, rejected, ...) |
| ``syncd_api_calls_total`` | counter | ``system`` (hubspot, salesforce) |
| ``syncd_api_quota_remaining`` | gauge | ``system``: calls left in the daily allowance, as the system last reported it |
| ``syncd_remote_errors_total`` | counter | ``system``, ``code``: per-record rejections and run-ending errors, by the remote error code |
| ``syncd_cycle_duration_seconds`` | histogram | |
| ``syncd_cycles_total`` | counter | ``status`` (ok, partial, failed, interrupted, crashed, dry_run) |
| ``syncd_last_success_timestamp_seconds`` | gauge | Unix time the last successful cycle (ok or partial) finished |
| ``syncd_next_cycle_timestamp_seconds`` | gauge | Unix time of the next scheduled cycle |
| ``syncd_lease_held`` | gauge | 1 while this process holds the pipeline's lease |
| ``syncd_config_reloads_total`` | counter | ``result`` (ok, failed) |
| ``syncd_agreement_alerts_total`` | counter | ``pipeline``, ``state`` (due_soon, breached, closed_too_few_attempts): the agreement's alerts, one per lead and state |

They are updated from each cycle's results, where the service writes its canonical
``service.cycle_finished`` line (each leg's ``run.finished`` line carries the same counts).

The service serves them on ``metrics.listen`` (``syncd.service.endpoint``), beside ``/healthz``
and ``/readyz`` (``syncd.service.health``).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder

from syncd.core.errors import RemoteError

if TYPE_CHECKING:
    from syncd.run.result import CycleResult

# prometheus-client adds a `<name>_created` sample (a Unix time) beside every counter and
# histogram; it reads as a count (`syncd_records_created{outcome="created"} 1.796e+09`) and
# nothing needs it: counters reset on restart and Prometheus sees that without it. The switch is
# process-wide, and syncd is the only exporter in its process.
disable_created_metrics()

SUCCESS_STATUSES = ("ok", "partial", "dry_run")
CYCLE_STATUSES = ("ok", "partial", "failed", "interrupted", "crashed", "dry_run")
SYSTEMS = ("hubspot", "salesforce")
TARGET_SYSTEM = {"forward": "salesforce", "back": "hubspot"}      # the system each leg writes to
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics:
    """syncd's metrics in their own registry (tests and several services never share one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry = registry or CollectorRegistry()
        self._lock = threading.Lock()
        self.records = Counter("syncd_records", "Records handled by a sync leg, by direction and outcome.",
                               ["direction", "outcome"], registry=registry)
        self.api_calls = Counter("syncd_api_calls", "API calls made to a remote system.", ["system"],
                                 registry=registry)
        self.quota_remaining = Gauge("syncd_api_quota_remaining",
                                     "API calls left in the daily allowance, as last reported by the system.",
                                     ["system"], registry=registry)
        self.remote_errors = Counter("syncd_remote_errors",
                                     "Errors answered by a remote system (record rejections and run-ending "
                                     "errors), by error code.", ["system", "code"], registry=registry)
        self.cycle_duration = Histogram("syncd_cycle_duration_seconds", "Duration of a sync cycle.",
                                        buckets=DURATION_BUCKETS, registry=registry)
        self.cycles = Counter("syncd_cycles", "Sync cycles run, by status.", ["status"], registry=registry)
        self.last_success = Gauge("syncd_last_success_timestamp_seconds",
                                  "Unix time the last successful cycle finished.", registry=registry)
        self.next_cycle = Gauge("syncd_next_cycle_timestamp_seconds",
                                "Unix time of the next scheduled cycle.", registry=registry)
        self.lease_held = Gauge("syncd_lease_held", "1 while this process holds the pipeline's lease.",
                                registry=registry)
        self.reloads = Counter("syncd_config_reloads", "Configuration reloads (SIGHUP), by result.",
                               ["result"], registry=registry)
        self.agreement_alerts = Counter("syncd_agreement_alerts", "Sales–Marketing agreement alerts raised "
                                        "(one per lead and state), by pipeline and state.", ["pipeline", "state"],
                                        registry=registry)
        # Series that exist from the start, so rate() and absent() alerts work before any traffic.
        for system in SYSTEMS:
            self.api_calls.labels(system)
        for status in CYCLE_STATUSES:
            self.cycles.labels(status)
        for outcome in ("read", "created", "updated", "rejected"):
            self.records.labels("forward", outcome)
        for result in ("ok", "failed"):
            self.reloads.labels(result)

    def observe_cycle(self, cycle: CycleResult | None, status: str, duration_seconds: float,
                      finished_at: dt.datetime, error: Exception | None = None) -> None:
        """Count one cycle: its legs' records, API calls, quota and remote errors, its status.
        A scrape sees a cycle's figures all or none (they are updated under the exposition lock)."""
        with self._lock:
            self._observe(cycle, status, duration_seconds, finished_at, error)

    def _observe(self, cycle: CycleResult | None, status: str, duration_seconds: float,
                 finished_at: dt.datetime, error: Exception | None) -> None:
        legs = [] if cycle is None else [(direction, getattr(cycle, direction, None))
                                         for direction in ("forward", "back")]
        for direction, result in legs:
            if result is None:
                continue
            for outcome, count in result.counts.items():
                if count:
                    self.records.labels(direction, outcome).inc(count)
            for system, calls in (result.api_calls or {}).items():
                self.api_calls.labels(system).inc(calls)
            for system, remaining in (getattr(result, "quota_remaining", None) or {}).items():
                if remaining is not None:
                    self.quota_remaining.labels(system).set(remaining)
            for rejection in result.rejections:
                if not rejection.code.startswith("SYNCD_"):        # SYNCD_* codes are our own mapping's
                    self.remote_errors.labels(TARGET_SYSTEM[direction], rejection.code).inc()
            self._remote_error(result.error)
        if cycle is None:
            self._remote_error(error)
        else:
            for state, count in cycle.agreement_alerts.items():
                self.agreement_alerts.labels(cycle.pipeline or "", state).inc(count)
        self.cycles.labels(status).inc()
        self.cycle_duration.observe(duration_seconds)
        if status in SUCCESS_STATUSES:
            self.last_success.set(finished_at.timestamp())

    def _remote_error(self, error: Exception | None) -> None:
        if isinstance(error, RemoteError):
            code = error.code or (f"HTTP_{error.status}" if error.status else type(error).__name__)
            self.remote_errors.labels(error.system.lower(), code).inc()

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (Prometheus text, or OpenMetrics)."""
        encoder, content_type = choose_encoder(accept)
        with self._lock:
            return encoder(self.registry), content_type
