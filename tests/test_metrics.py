"""Metrics from cycle results, and the /metrics, /healthz, /readyz endpoint over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections import Counter

from syncd.run.result import CycleResult
from syncd.core.errors import QuotaExhausted
from syncd.service.metrics import Metrics
from syncd.service.endpoint import HealthServer
from syncd.core.records import Rejection
from syncd.run.result import RunResult
from tests.daemon import http_get

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_a_cycle_counts_records_by_direction_and_outcome_calls_quota_and_remote_error_codes():
    forward = RunResult("f", "partial", counts=Counter(read=10, created=7, unchanged=2, rejected=2),
                        api_calls={"hubspot": 3, "salesforce": 4},
                        quota_remaining={"hubspot": 624_990, "salesforce": None},
                        rejections=[Rejection("1", "STRING_TOO_LONG", "Company: too long", "h"),
                                    Rejection("2", "SYNCD_INVALID_NUMBER", "not a number", None)])
    back = RunResult("b", "failed", counts=Counter(read=4, updated=3), api_calls={"hubspot": 1, "salesforce": 2},
                     quota_remaining={"salesforce": 0},
                     error=QuotaExhausted("Salesforce", "used up", status=403, code="REQUEST_LIMIT_EXCEEDED"))
    metrics = Metrics()
    metrics.observe_cycle(CycleResult(forward, back), "failed", 12.5, NOW)
    assert value(metrics, "syncd_records_total", direction="forward", outcome="created") == 7
    assert value(metrics, "syncd_records_total", direction="back", outcome="updated") == 3       # fed back
    assert value(metrics, "syncd_api_calls_total", system="hubspot") == 4
    assert value(metrics, "syncd_api_calls_total", system="salesforce") == 6
    assert value(metrics, "syncd_api_quota_remaining", system="hubspot") == 624_990
    assert value(metrics, "syncd_api_quota_remaining", system="salesforce") == 0
    assert value(metrics, "syncd_remote_errors_total", system="salesforce", code="STRING_TOO_LONG") == 1
    assert value(metrics, "syncd_remote_errors_total", system="salesforce", code="REQUEST_LIMIT_EXCEEDED") == 1
    assert value(metrics, "syncd_remote_errors_total", system="salesforce", code="SYNCD_INVALID_NUMBER") is None
    assert value(metrics, "syncd_cycles_total", status="failed") == 1
    assert value(metrics, "syncd_cycle_duration_seconds_sum") == 12.5
    assert value(metrics, "syncd_last_success_timestamp_seconds") == 0          # a failed cycle is no success
    metrics.observe_cycle(CycleResult(RunResult("f2", "ok")), "ok", 1.0, NOW)
    assert value(metrics, "syncd_last_success_timestamp_seconds") == NOW.timestamp()


def test_a_cycle_that_never_got_results_still_counts_its_remote_error():
    metrics = Metrics()
    metrics.observe_cycle(None, "failed", 0.1, NOW, QuotaExhausted("HubSpot", "daily", status=429, code="DAILY"))
    assert value(metrics, "syncd_remote_errors_total", system="hubspot", code="DAILY") == 1


def test_the_endpoint_serves_metrics_liveness_and_readiness_with_a_reason():
    metrics = Metrics()
    server = HealthServer(("127.0.0.1", 0), metrics, live=lambda: (True, {"status": "alive"}),
                          ready=lambda: (False, {"ready": False, "reason": "no cycle has succeeded yet"})).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        status, content_type, body = http_get(base + "/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4")   # what Prometheus asks for
        assert 'syncd_cycles_total{status="ok"} 0.0' in body
        assert http_get(base + "/healthz")[:2] == (200, "application/json")
        status, _, body = http_get(base + "/readyz")
        assert status == 503 and json.loads(body)["reason"] == "no cycle has succeeded yet"
        assert http_get(base + "/")[0] == 404
        request = urllib.request.Request(base + "/metrics", headers={"Accept": "application/openmetrics-text"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            assert response.read().endswith(b"# EOF\n")
    finally:
        server.stop()


def test_each_metrics_instance_has_its_own_registry():
    first, second = Metrics(), Metrics()
    first.cycles.labels("ok").inc()
    assert value(second, "syncd_cycles_total", status="ok") == 0


def test_no_created_series_are_exposed():
    """prometheus-client's `_created` samples (a Unix time beside each counter) read as counts."""
    metrics = Metrics()
    metrics.observe_cycle(CycleResult(RunResult("f", "ok", counts=Counter(read=1, created=1))), "ok", 1.0, NOW)
    names = {sample.name for family in metrics.registry.collect() for sample in family.samples}
    assert "syncd_records_total" in names and "syncd_cycle_duration_seconds_sum" in names
    assert not [name for name in names if name.endswith("_created")]
