"""`syncd run` as a real service process against the emulators (issue #4's acceptance points).

Each test starts `syncd run` as a subprocess (tests/daemon.py); the emulators run in this process
and count every API request they answer, which is what the daemon's metrics are checked against.
Where a test needs a cycle in a given state (between two cycles, in the middle of a batch), it
holds the cycle's next request at a gate in front of an emulator instead of timing its actions.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mappings
from state.lease import current_lease
from syncd.core.errors import ExitCode
from syncd.service.daemon import STOP_MARGIN_SECONDS
from tests.conftest import Syncd, qualified
from tests.daemon import (Daemon, GatedStack, NotifyListener, assert_logs_are_documented_json_without_secrets,
                          clean_env, configure, free_port, gated_stack, http_get, sample, scrape, syncd_command)

PIPELINE = "hubspot-to-salesforce"
BUNDLED_MAPPING = Path(mappings.__file__).parent / "hubspot-to-salesforce.yaml"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[GatedStack]:
    with gated_stack(tmp_path) as emulators:
        yield emulators


def api_counts(stack: Syncd) -> tuple[int, int]:
    """API requests each emulator answered (Salesforce's OAuth token calls are not API calls)."""
    salesforce = stack.salesforce.requests
    return stack.hubspot.requests.count(), salesforce.count() - salesforce.count(path_contains="/oauth2/token")


# -- acceptance 1 and 6 -----------------------------------------------------------------------
def test_the_service_runs_cycles_on_schedule_and_its_metrics_match_the_emulators(stack):
    ids = stack.hubspot.create_contacts(qualified(5))
    port = free_port()
    # Two cycles go through; the third is held at its first API call (one search page: 5 contacts),
    # so the metrics and the emulators' counts are compared while no cycle is half done.
    stack.searches.allow(2)
    with Daemon(configure(stack, interval=1, port=port)) as daemon:
        started = daemon.wait_for("service.started")[0]
        assert started["schedule"] == "every 1s" and started["pid"] == daemon.pid
        daemon.wait_held(stack.searches)              # the third cycle, before its first API call
        hubspot_calls, salesforce_calls = api_counts(stack)
        metrics = scrape(port)
        assert (sample(metrics, "syncd_api_calls_total", system="hubspot"),
                sample(metrics, "syncd_api_calls_total", system="salesforce")) == (hubspot_calls, salesforce_calls)
        assert sample(metrics, "syncd_cycles_total", status="ok") == 2
        assert sample(metrics, "syncd_cycle_duration_seconds_count") == 2
        assert sample(metrics, "syncd_cycles_total", status="failed") == 0
        # records: the 5 contacts were created once and read again (unchanged) by the second cycle
        assert sample(metrics, "syncd_records_total", direction="forward", outcome="created") == 5 \
            == len(stack.leads_by_hubspot_id()) == len(ids)
        assert sample(metrics, "syncd_records_total", direction="forward", outcome="read") == 10
        assert sample(metrics, "syncd_records_total", direction="forward", outcome="unchanged") == 5
        # quota left, as each system reported it in its last answer: every HubSpot call counts
        # against the daily limit, every Salesforce REST call (not the OAuth ones) against the org's
        assert sample(metrics, "syncd_api_quota_remaining", system="hubspot") == \
            stack.hubspot.daily_limit - hubspot_calls
        assert sample(metrics, "syncd_api_quota_remaining", system="salesforce") == \
            stack.salesforce.api_limit - salesforce_calls
        finished = [dt.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
                    for e in daemon.events("service.cycle_finished")]
        last_success = sample(metrics, "syncd_last_success_timestamp_seconds")
        assert finished[0].timestamp() <= last_success <= finished[1].timestamp()    # the second cycle's end
        assert sample(metrics, "syncd_next_cycle_timestamp_seconds") > last_success
        assert sample(metrics, "syncd_lease_held") == 1
        # The connectors live across cycles: one Salesforce login for the daemon's whole life.
        assert stack.salesforce.requests.count(path_contains="/oauth2/token") == 1
        status, _, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body)["status"] == "alive"
        assert http_get(f"http://127.0.0.1:{port}/nothing")[0] == 404

        stack.searches.open()
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
        metrics = scrape(port)
        assert sample(metrics, "syncd_cycles_total", status="failed") == 1
        assert sample(metrics, "syncd_remote_errors_total", system="hubspot", code="INVALID_AUTHENTICATION") == 1
        assert daemon.stop() == 0
    assert_logs_are_documented_json_without_secrets(daemon, stack)


# -- acceptance 2 -----------------------------------------------------------------------------
def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` (state another process writes) until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.02)


def store_counts(stack: Syncd) -> dict[str, object]:
    """What state says: links committed, the contacts cursor, who holds the lease."""
    store = stack.store()
    try:
        return {"links": store.count_links(PIPELINE),
                "cursor": store.get_cursor(PIPELINE, "hubspot.contacts.lastmodifieddate"),
                "lease": current_lease(store, PIPELINE)}
    finally:
        store.close()


@pytest.mark.parametrize("signals, expected_code", [
    ([signal.SIGTERM], 0),
    ([signal.SIGTERM, signal.SIGTERM], 128 + signal.SIGTERM),
    ([signal.SIGKILL], -signal.SIGKILL),
], ids=["sigterm-finishes-the-batch-and-exits-0", "second-sigterm-exits-at-once", "kill-9"])
def test_stopping_the_service_mid_cycle_keeps_state_consistent_and_a_rerun_converges(stack, signals, expected_code,
                                                                                   capsys):
    total = 1400                     # 7 batches of 200; the daemon sends up to 4 at a time
    ids = stack.hubspot.create_contacts(qualified(total))
    stack.writes.allow(1)            # the first batch is written; the next ones are held in flight
    with Daemon(configure(stack, interval=3600)) as daemon:
        daemon.wait_held(stack.writes)                             # mid-cycle: one batch in, more to go
        wait_until(lambda: store_counts(stack)["links"] == 200)   # ... and recorded (writes overlap)
        daemon.signal(signals[0])
        if signals[0] == signal.SIGTERM:
            daemon.wait_for("service.stopping")                    # the first signal has been handled
            if len(signals) > 1:
                daemon.signal(signals[1])                          # ... and the batches are still in flight
            else:
                stack.writes.open()                                # the batches in flight are answered
        code = daemon.wait()
        committed = store_counts(stack)
        stack.writes.open()              # a write sent before a kill still reaches Salesforce ...
        stack.writes.wait_until_handled()                          # ... but syncd never recorded it
    assert code == expected_code, daemon.transcript()
    assert not daemon.events("service.stop_timeout")
    written = len(stack.leads_by_hubspot_id())
    if signals == [signal.SIGTERM]:
        # The batches in flight were finished and committed, nothing more was sent; the cursor
        # stayed; the lock was freed.
        assert daemon.events("run.stopping") and daemon.events("service.stopped")
        forward = [e for e in daemon.events("run.finished") if e.get("leg") == "forward"]
        assert [e["status"] for e in forward] == ["interrupted"]
        assert 400 <= forward[0]["created"] == written == committed["links"] < total
        assert committed == {"links": written, "cursor": None, "lease": None}
        assert_logs_are_documented_json_without_secrets(daemon, stack)
    else:
        # Only the batch answered before the stop is in state; the ones in flight reached
        # Salesforce without being recorded: the rerun repeats them (idempotent upserts).
        assert committed["links"] == 200 and committed["cursor"] is None
        assert 400 <= written < total
        if signals[0] == signal.SIGTERM:
            (killed,) = daemon.events("service.killed")
            assert (killed["signal"], killed["exit_code"], killed["reason"]) == ("SIGTERM", 143, "second signal")

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


def test_a_template_failing_at_render_time_rejects_its_records_and_the_service_keeps_cycling(stack, tmp_path):
    """Issue #9, acceptance 2: a template that fails for some contacts only (a TypeError: adding a
    number to text) rejects those with SYNCD_TEMPLATE_ERROR naming the field; the cycle ends
    `partial` with exit 3, the others become Leads, the back leg still runs, and the service
    keeps cycling."""
    mapping = tmp_path / "mapping.yaml"
    bundled = BUNDLED_MAPPING.read_text()
    assert "  Title:\n    from: jobtitle\n" in bundled
    mapping.write_text(bundled.replace("  Title:\n    from: jobtitle\n", "  Title:\n    template: \"{% if jobtitle == "
                                       "'bad' %}{{ company + 1 }}{% else %}{{ jobtitle }}{% endif %}\"\n"))
    contacts = qualified(3)
    contacts[1]["jobtitle"] = "bad"
    ids = stack.hubspot.create_contacts(contacts)
    with Daemon(configure(stack, interval=1, mapping=mapping)) as daemon:
        finished = daemon.wait_for("service.cycle_finished", count=3)
        # The first cycle rejects it; later ones find it still rejected (same contact, same mapping:
        # not rendered again) and end ok, the rejection kept in state for the admin.
        assert [(e["status"], e["exit_code"]) for e in finished] == \
            [("partial", ExitCode.RECORDS_REJECTED), ("ok", ExitCode.OK), ("ok", ExitCode.OK)]
        forward = [e for e in daemon.events("run.finished") if e.get("leg") == "forward"]
        assert [e["still_rejected"] for e in forward[1:3]] == [1, 1]
        (rejected,) = [e for e in daemon.events("record.rejected") if e.get("leg") == "forward"][:1]
        assert (rejected["hubspot_id"], rejected["code"]) == (ids[1], "SYNCD_TEMPLATE_ERROR")
        assert rejected["message"].startswith("Title:")
        assert sorted(stack.leads_by_hubspot_id()) == sorted([ids[0], ids[2]])
        assert len([e for e in daemon.events("run.finished") if e.get("leg") == "back"]) >= 3
        assert daemon.stop() == 0
    assert_logs_are_documented_json_without_secrets(daemon, stack)


# -- acceptance 4 and `syncd status` ------------------------------------------------------------
def test_a_second_syncer_is_refused_naming_the_holder_writes_nothing_and_status_and_readyz_show_the_daemon(
        stack, capsys):
    stack.hubspot.create_contacts(qualified(2))
    port = free_port()
    # Hourly, so the start-up cycle keeps the daemon ready (for 3 hours) whatever the machine's pace.
    config = configure(stack, interval=3600, port=port)
    holder = f"pid {{pid}} on {socket.gethostname()}"
    with Daemon(config) as daemon:
        daemon.wait_for("service.cycle_scheduled")
        status, content_type, body = http_get(f"http://127.0.0.1:{port}/readyz")
        assert (status, content_type) == (200, "application/json") and json.loads(body)["ready"] is True, body
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
        # The longest stop bound syncd accepts, far beyond the unit's TimeoutStopSec=45s.
        with Daemon(configure(stack, interval=1, shutdown=3600), env=env) as daemon:
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
        # systemd is asked for the whole stop bound and the margin, from the moment the stop begins
        assert int(stopping[0]["EXTEND_TIMEOUT_USEC"]) == (3600 + STOP_MARGIN_SECONDS) * 1_000_000
        order = [next(iter(m)) for m in systemd.messages]
        assert order.index("READY") < order.index("STOPPING")
