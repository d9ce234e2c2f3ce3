"""`syncd run` as a real service process against the emulators (issue #4's acceptance points).

Each test starts `python -m syncd.cli run` as a subprocess; the emulators run in this process and
count every API request they answer, which is what the daemon's metrics are checked against.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mappings
from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.stack import start_stack
from syncd.core.errors import ExitCode
from tests.conftest import Syncd, qualified
from tests.daemon import (Daemon, NotifyListener, clean_env, documented_events, free_port, http_get, sample,
                          scrape, syncd_command)

PIPELINE = "hubspot-to-salesforce"
BUNDLED_MAPPING = Path(mappings.__file__).parent / "hubspot-to-salesforce.yaml"
COMMON_FIELDS = {"event", "level", "timestamp", "run_id", "pipeline", "leg", "exception", "logger"}


class SlowWrites(SalesforceEmulator):
    """Answers each Collections write after ``write_delay`` seconds, and, once ``hold`` is cleared,
    keeps every later write waiting until it is set again: a cycle that can be interrupted in the
    middle, deterministically, whatever the machine's load."""

    write_delay = 0.0

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - the base class's
        super().__init__(*args, **kwargs)
        self.hold = threading.Event()
        self.hold.set()

    def dispatch(self, request):  # noqa: ANN001, ANN201 - werkzeug types, as the base class
        if request.method == "PATCH" and "/composite/sobjects" in request.path:
            if self.write_delay:
                time.sleep(self.write_delay)
            self.hold.wait(timeout=60)
        return super().dispatch(request)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Syncd]:
    # Rate limits on, so HubSpot's non-search answers carry X-HubSpot-RateLimit-Daily-Remaining.
    emulators = start_stack(tmp_path / "stack", hubspot=HubSpotEmulator(access_tokens=()), salesforce=SlowWrites())
    try:
        yield Syncd(emulators, tmp_path)
    finally:
        emulators.stop()


def configure(stack: Syncd, *, interval: int = 1, port: int | None = None, shutdown: int = 10,
              mapping: Path | None = None) -> Path:
    extra = f"schedule:\n  interval_seconds: {interval}\n  shutdown_timeout_seconds: {shutdown}\n"
    if port is not None:
        extra += f"metrics:\n  listen: 127.0.0.1:{port}\n"
    return stack.write_config(mapping=mapping, extra=extra)


def api_counts(stack: Syncd) -> tuple[int, int]:
    """API requests each emulator answered (Salesforce's OAuth token calls are not API calls)."""
    salesforce = stack.salesforce.requests
    return stack.hubspot.requests.count(), salesforce.count() - salesforce.count(path_contains="/oauth2/token")


def scrape_between_cycles(stack: Syncd, port: int, timeout: float = 15.0) -> tuple[dict, tuple[int, int]]:
    """/metrics at a moment no cycle is in flight: the emulators' counts did not move while we
    scraped and equal what the metrics say. Gives up (failing the test) if they never agree.
    Returns the metrics and the emulators' (HubSpot, Salesforce) API call counts at that moment."""
    deadline = time.monotonic() + timeout
    while True:
        before = api_counts(stack)
        metrics = scrape(port)
        after = api_counts(stack)
        said = (sample(metrics, "syncd_api_calls_total", system="hubspot"),
                sample(metrics, "syncd_api_calls_total", system="salesforce"))
        if before == after == said:
            return metrics, after
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics say {said} API calls, the emulators counted {after}")
        time.sleep(0.1)


def assert_logs_are_documented_json_without_secrets(daemon: Daemon, stack: Syncd) -> None:
    documented = documented_events()
    secrets = [stack.stack.hubspot_token, stack.stack.salesforce_client_secret]
    assert daemon.stderr == [], daemon.stderr
    assert daemon.stdout
    for line in daemon.stdout:
        entry = json.loads(line)
        assert {"event", "level", "timestamp"} <= entry.keys(), line
        assert dt.datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).tzinfo is not None
        assert entry["event"] in documented, f"{entry['event']} is not in docs/log-events.md"
        undocumented = entry.keys() - COMMON_FIELDS - documented[entry["event"]]
        assert not undocumented, f"{entry['event']}: fields {undocumented} are not in docs/log-events.md"
        for secret in secrets:
            assert secret not in line


# -- acceptance 1 and 6 -----------------------------------------------------------------------
def test_the_service_runs_cycles_on_schedule_and_its_metrics_and_readiness_match_the_emulators(stack):
    ids = stack.hubspot.create_contacts(qualified(5))
    port = free_port()
    with Daemon(configure(stack, interval=1, port=port)) as daemon:
        started = daemon.wait_for("service.started")[0]
        assert started["schedule"] == "every 1s" and started["pid"] == daemon.pid
        daemon.wait_for("service.cycle_finished", count=2)
        metrics, (hubspot_calls, salesforce_calls) = scrape_between_cycles(stack, port)
        cycles = sample(metrics, "syncd_cycles_total", status="ok")
        assert cycles >= 2 and sample(metrics, "syncd_cycle_duration_seconds_count") == cycles
        assert sample(metrics, "syncd_cycles_total", status="failed") == 0
        # records: the 5 contacts were created once and read again (unchanged) by every later cycle
        assert sample(metrics, "syncd_records_total", direction="forward", outcome="created") == 5 \
            == len(stack.leads_by_hubspot_id()) == len(ids)
        assert sample(metrics, "syncd_records_total", direction="forward", outcome="read") == 5 * cycles
        assert sample(metrics, "syncd_records_total", direction="forward", outcome="unchanged") == 5 * (cycles - 1)
        # quota left, as each system reported it in its last answer: every HubSpot call counts
        # against the daily limit, every Salesforce REST call (not the OAuth ones) against the org's
        assert sample(metrics, "syncd_api_quota_remaining", system="hubspot") == \
            stack.hubspot.daily_limit - hubspot_calls
        assert sample(metrics, "syncd_api_quota_remaining", system="salesforce") == \
            stack.salesforce.api_limit - salesforce_calls
        last_success = sample(metrics, "syncd_last_success_timestamp_seconds")
        assert abs(time.time() - last_success) < 30
        assert sample(metrics, "syncd_next_cycle_timestamp_seconds") > last_success
        assert sample(metrics, "syncd_lease_held") == 1
        # The connectors live across cycles: one Salesforce login for the daemon's whole life.
        assert stack.salesforce.requests.count(path_contains="/oauth2/token") == 1

        status, content_type, body = http_get(f"http://127.0.0.1:{port}/readyz")
        assert (status, content_type) == (200, "application/json") and json.loads(body)["ready"] is True
        status, _, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body)["status"] == "alive"
        assert http_get(f"http://127.0.0.1:{port}/nothing")[0] == 404
        assert daemon.stop() == 0
    assert daemon.events("service.stopped")
    assert_logs_are_documented_json_without_secrets(daemon, stack)


def test_a_failed_cycle_is_logged_counted_by_its_error_code_and_retried_on_the_next_tick(stack):
    ids = stack.hubspot.create_contacts(qualified(3))
    stack.hubspot.inject_fault("POST", "/search", 401, times=1, body={
        "status": "error", "message": "Authentication credentials not found.",
        "correlationId": "c0ffee", "category": "INVALID_AUTHENTICATION"})
    port = free_port()
    with Daemon(configure(stack, interval=1, port=port)) as daemon:
        failed = daemon.wait_for("service.cycle_finished", where=lambda e: e["status"] == "failed")[0]
        assert failed["exit_code"] == ExitCode.REMOTE_UNAVAILABLE
        (error,) = daemon.events("run.failed")
        assert (error["code"], error["who_acts"]) == ("INVALID_AUTHENTICATION", "config")
        daemon.wait_for("service.cycle_finished", where=lambda e: e["status"] == "ok")
        assert daemon.process.poll() is None                  # the same process, still running
        assert sorted(stack.leads_by_hubspot_id()) == sorted(ids)
        metrics, _ = scrape_between_cycles(stack, port)
        assert sample(metrics, "syncd_cycles_total", status="failed") == 1
        assert sample(metrics, "syncd_remote_errors_total", system="hubspot", code="INVALID_AUTHENTICATION") == 1
        assert http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        assert daemon.stop() == 0
    assert_logs_are_documented_json_without_secrets(daemon, stack)


# -- acceptance 2 -----------------------------------------------------------------------------
@pytest.mark.parametrize("signals, expected_code", [
    ([signal.SIGTERM], 0),
    ([signal.SIGTERM, signal.SIGTERM], 128 + signal.SIGTERM),
    ([signal.SIGKILL], -signal.SIGKILL),
], ids=["sigterm-finishes-the-batch-and-exits-0", "second-sigterm-exits-at-once", "kill-9"])
def test_stopping_the_service_mid_cycle_keeps_state_consistent_and_a_rerun_converges(stack, signals, expected_code,
                                                                                   capsys):
    total = 1400                                       # 7 batches of 200, written 4 at a time
    ids = stack.hubspot.create_contacts(qualified(total))
    shutdown_bound = 10
    with Daemon(configure(stack, interval=3600, shutdown=shutdown_bound)) as daemon:
        daemon.wait_for("salesforce.batch_written")    # mid-cycle: one batch in ...
        stack.salesforce.hold.clear()                  # ... the next ones held in flight
        sent = daemon.signal(signals[0])
        if len(signals) > 1:
            daemon.wait_for("service.stopping")
            daemon.signal(signals[1])
        elif signals == [signal.SIGTERM]:
            daemon.wait_for("service.stopping")
        stack.salesforce.hold.set()                    # the writes in flight may now finish
        code = daemon.wait(timeout=shutdown_bound + 5)
        elapsed = time.monotonic() - sent
    assert code == expected_code, daemon.transcript()
    assert elapsed < shutdown_bound
    written = len(stack.leads_by_hubspot_id())
    assert 200 <= written < total                      # it really was stopped mid-cycle
    store = stack.store()
    try:
        if signals == [signal.SIGTERM]:
            # The batch in flight was finished and committed; the cursor stayed; the lock was freed.
            assert daemon.events("run.stopping") and daemon.events("service.stopped")
            forward = [e for e in daemon.events("run.finished") if e.get("leg") == "forward"]
            assert [e["status"] for e in forward] == ["interrupted"]
            assert forward[0]["created"] == written == store.count_links(PIPELINE)
            assert store.get_cursor(PIPELINE, "hubspot.contacts.lastmodifieddate") is None
            from state.lease import current_lease
            assert current_lease(store, PIPELINE) is None
            assert_logs_are_documented_json_without_secrets(daemon, stack)
    finally:
        store.close()
    capsys.readouterr()
    assert stack.cli("run", "--once") == ExitCode.OK    # takes over a dead holder's lease at once
    rerun = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    takeovers = [e for e in rerun if e["event"] == "lease.taken_over"]
    if signals == [signal.SIGTERM]:
        assert takeovers == []                           # released on the way out
    else:
        assert [(e["reason"], e["previous_holder"]) for e in takeovers] == \
            [("process gone", f"{socket.gethostname()}:{daemon.pid}")]
    leads = stack.leads_by_hubspot_id()                  # raises on a second Lead for any contact
    assert sorted(leads) == sorted(ids) and len(stack.leads()) == total
    store = stack.store()
    try:
        assert store.count_links(PIPELINE) == total
        assert all(run.status != "running" for run in store.recent_runs(PIPELINE, 10))
    finally:
        store.close()


# -- acceptance 3 -----------------------------------------------------------------------------
def test_sighup_with_a_broken_mapping_keeps_the_old_one_and_a_good_one_is_used_by_the_next_cycle(stack, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(BUNDLED_MAPPING.read_text())
    stack.hubspot.create_contacts(qualified(3))           # source ORGANIC_SEARCH -> LeadSource "Search"
    with Daemon(configure(stack, interval=1, mapping=mapping)) as daemon:
        daemon.wait_for("service.cycle_finished")
        assert {lead["LeadSource"] for lead in stack.leads()} == {"Search"}

        mapping.write_text(BUNDLED_MAPPING.read_text() + "\ncolour: blue\n")
        daemon.signal(signal.SIGHUP)
        (failed,) = daemon.wait_for("service.reload_failed")
        assert any(str(mapping) in p and "colour" in p for p in failed["problems"]), failed
        cycles = len(daemon.events("service.cycle_finished"))
        daemon.wait_for("service.cycle_finished", count=cycles + 2)      # still syncing, on the old mapping
        forward = [e for e in daemon.events("run.finished") if e.get("leg") == "forward"]
        assert all(e["status"] == "ok" and e["updated"] == e["created"] == 0 for e in forward[1:])
        assert {lead["LeadSource"] for lead in stack.leads()} == {"Search"}

        mapping.write_text(BUNDLED_MAPPING.read_text().replace("ORGANIC_SEARCH: Search", "ORGANIC_SEARCH: Web"))
        daemon.signal(signal.SIGHUP)
        (reloaded,) = daemon.wait_for("service.reloaded")
        assert reloaded["changed"] == ["mapping"] and reloaded["mapping"] == str(mapping)
        daemon.wait_for("run.finished", where=lambda e: e.get("leg") == "forward" and e["updated"] == 3)
        assert {lead["LeadSource"] for lead in stack.leads()} == {"Web"}
        assert daemon.stop() == 0
    assert_logs_are_documented_json_without_secrets(daemon, stack)


# -- acceptance 4 and `syncd status` ------------------------------------------------------------
def test_a_second_syncer_is_refused_naming_the_holder_writes_nothing_and_status_shows_the_daemon(stack, capsys):
    stack.hubspot.create_contacts(qualified(2))
    config = configure(stack, interval=3600)
    holder = f"pid {{pid}} on {socket.gethostname()}"
    with Daemon(config) as daemon:
        daemon.wait_for("service.cycle_scheduled")
        new_ids = stack.hubspot.create_contacts(qualified(2, start=10))
        before = (api_counts(stack), len(stack.leads()))

        once = subprocess.run(syncd_command("run", "--once", "--config", str(config)), capture_output=True,
                              text=True, env=clean_env(), timeout=60)
        assert once.returncode == ExitCode.LOCKED
        assert once.stderr.startswith("error: pipeline 'hubspot-to-salesforce' is being synced by a daemon ")
        assert holder.format(pid=daemon.pid) in once.stderr and "since" in once.stderr

        with Daemon(config) as second:
            assert second.wait(timeout=30) == ExitCode.LOCKED
        assert holder.format(pid=daemon.pid) in second.events("service.lock_held")[0]["error"]
        assert (api_counts(stack), len(stack.leads())) == before       # neither read nor wrote

        capsys.readouterr()
        assert stack.cli("status", "--json") == 0
        report = json.loads(capsys.readouterr().out)
        lock = report["lock"]
        assert lock["holder"] == f"{socket.gethostname()}:{daemon.pid}" and lock["kind"] == "daemon"
        assert not lock["stale"] and dt.datetime.fromisoformat(lock["next_run_at"]) > dt.datetime.now(dt.timezone.utc)
        assert report["runs"] and report["runs"][0]["status"] == "ok"
        assert stack.cli("status") == 0
        assert f"lock: held by daemon pid {daemon.pid}" in capsys.readouterr().out
        assert daemon.stop() == 0

    assert stack.cli("run", "--once") == ExitCode.OK                # the daemon is gone: the lock is free
    assert set(new_ids) <= set(stack.leads_by_hubspot_id())


# -- acceptance 5 (sd_notify) -----------------------------------------------------------------
def test_systemd_hears_ready_status_watchdog_and_stopping_on_its_notify_socket(stack):
    with NotifyListener() as systemd:
        env = clean_env(NOTIFY_SOCKET=systemd.name, WATCHDOG_USEC="400000")
        with Daemon(configure(stack, interval=1), env=env) as daemon:
            (ready,) = systemd.wait_for("READY")
            assert ready["READY"] == "1" and "next cycle" in ready["STATUS"]
            assert daemon.wait_for("service.started")[0]["watchdog_seconds"] == 0.2
            systemd.wait_for("WATCHDOG", count=3)
            daemon.wait_for("service.cycle_finished", count=2)
            statuses = [m["STATUS"] for m in systemd.with_key("STATUS")]
            assert "syncing" in statuses
            after_cycle = re.compile(r"last cycle ok at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; next cycle at \d{4}-")
            assert any(after_cycle.match(s) for s in statuses), statuses
            assert daemon.stop() == 0
        stopping = systemd.wait_for("STOPPING")
        assert stopping[0]["STOPPING"] == "1"
        order = [next(iter(m)) for m in systemd.messages]
        assert order.index("READY") < order.index("STOPPING")
