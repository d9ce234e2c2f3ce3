"""The command line as a user meets it: exit codes, one-line errors, status, demo, docs."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from state.lease import Lease, this_host_key, utcnow
from syncd.cli import cli, main
from syncd.core.errors import ExitCode
from syncd.app.logs import SecretScrubber
from syncd.mapping import mapping_json_schema
from tests.conftest import qualified

ROOT = Path(__file__).resolve().parent.parent


def _api_calls(syncd) -> int:
    return len(syncd.hubspot.requests.entries()) + len(syncd.salesforce.requests.entries())


@pytest.mark.parametrize("mapping_text,expected", [
    ("version: 1\nqualify: [{property: lifecyclestage, in: [salesqualifiedlead]}]\n"
     "salesforce: {external_id_field: X__c, matchbyemail: true}\nfields: {LastName: {from: lastname}}\n",
     r"bad\.yaml:3:\d+: salesforce\.matchbyemail: unknown key"),
    ("version: 1\nqualify: [{property: lifecyclestage, in: [x]}]\nsalesforce: {external_id_field: X__c}\n"
     "fields:\n  LastName: {from: lastname, type: integer}\n",
     r"bad\.yaml:5:\d+: fields\.LastName\.type: .*'string'"),
    ("version: 1\nqualify: [{property: lifecyclestage, in: [x]}\n",
     r"bad\.yaml:\d+:\d+: YAML syntax error"),
], ids=["unknown-key", "bad-value", "bad-yaml"])
def test_a_broken_mapping_fails_before_any_api_call_naming_file_line_and_field(syncd, capsys, mapping_text, expected):
    bad = syncd.tmp / "bad.yaml"
    bad.write_text(mapping_text)
    syncd.write_config(mapping=bad)
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    assert re.search(expected, capsys.readouterr().err)
    assert _api_calls(syncd) == 0


def test_a_broken_config_reports_every_problem_before_any_api_call(syncd, capsys):
    config = syncd.stack.config_path
    config.write_text(config.read_text().replace("hubspot:\n", "hubspot:\n  acess_token: x\n")
                      + "sync:\n  lookback_minutes: lots\n")
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    err = capsys.readouterr().err
    assert re.search(r"syncd\.yaml:3:3: hubspot\.acess_token: unknown key 'acess_token' \(did you mean 'access_token'\?\)", err)
    assert "sync.lookback_minutes" in err and "2 problems" in err
    assert _api_calls(syncd) == 0


def test_a_missing_token_says_how_to_provide_it_and_exits_4(syncd, capsys):
    (syncd.stack.directory / "secrets" / "hubspot_access_token").unlink()
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    err = capsys.readouterr().err
    assert "hubspot.access_token_file" in err and _api_calls(syncd) == 0


def test_status_shows_runs_watermarks_and_rejections(syncd, capsys):
    contacts = qualified(3)
    contacts[1]["company"] = "C" * 300
    syncd.hubspot.create_contacts(contacts)
    assert syncd.cli("run", "--once") == ExitCode.RECORDS_REJECTED
    capsys.readouterr()
    assert syncd.cli("status", "--json") == ExitCode.OK
    status = json.loads(capsys.readouterr().out)
    assert status["linked_contacts"] == 2 and status["rejected_records"] == 1
    forward = next(r for r in status["runs"] if r["leg"] == "forward")     # a cycle runs both legs
    assert forward["status"] == "partial" and forward["counts"]["created"] == 2
    assert status["rejections"][0]["code"] == "STRING_TOO_LONG"
    assert "hubspot.contacts.lastmodifieddate" in status["watermarks"]


def dead_pid() -> int:
    """The pid of a process of ours that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


@pytest.mark.parametrize("holder, heartbeat_ago, line, lock", [
    ("dead-here", 5, r"daemon pid {pid} on {host} is not running \(last heartbeat \d+s ago\); "
                     r"the next syncer takes the lease over at once", {"holder_running": False, "stale": False}),
    ("elsewhere", 120, r"stale — daemon pid {pid} on {host} stopped heart-beating \d+s ago",
     {"holder_running": None, "stale": True}),
    ("dead-here", 120, r"daemon pid {pid} on {host} is not running", {"holder_running": False, "stale": True}),
    ("alive-here", 5, r"held by daemon pid {pid} on {host} since", {"holder_running": True, "stale": False}),
    ("elsewhere", 5, r"held by daemon pid {pid} on {host} since", {"holder_running": None, "stale": False}),
], ids=["same-host-process-gone", "other-host-heartbeat-stale", "gone-and-stale", "alive", "other-host-fresh"])
def test_status_names_a_dead_lock_holder_as_dead(syncd, capsys, holder, heartbeat_ago, line, lock):
    """Same host and PID namespace: the pid is checked; any host: a heartbeat older than the TTL is stale."""
    host = socket.gethostname() if holder != "elsewhere" else "other-vm"
    pid = {"dead-here": dead_pid, "alive-here": os.getpid, "elsewhere": lambda: 4242}[holder]()
    host_key = this_host_key() if holder != "elsewhere" else "other-vm/4026531836"
    beat = utcnow() - dt.timedelta(seconds=heartbeat_ago)
    store = syncd.store()
    try:   # the row a daemon left: acquired, last heart-beating `heartbeat_ago` seconds ago (TTL 60 s)
        Lease(store, "hubspot-to-salesforce", "daemon", holder=f"{host}:{pid}", host_key=host_key,
              clock=lambda: beat).acquire()
    finally:
        store.close()
    capsys.readouterr()
    assert syncd.cli("status", "--json") == ExitCode.OK
    shown = json.loads(capsys.readouterr().out)["lock"]
    assert shown["holder"] == f"{host}:{pid}" and {key: shown[key] for key in lock} == lock
    assert syncd.cli("status") == ExitCode.OK
    text = " ".join(capsys.readouterr().out.split())       # the console wraps long lines
    assert re.search(line.format(pid=pid, host=re.escape(host)), text), text


def test_run_once_output_and_logs_never_contain_a_secret(syncd, capsys):
    contacts = qualified(3)
    contacts[0]["company"] = "C" * 300
    syncd.hubspot.create_contacts(contacts)
    syncd.salesforce.inject_fault("PATCH", "/composite", 401,
                                  [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    syncd.cli("run", "--once")
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert '"run.finished"' in output
    for secret in (syncd.stack.hubspot_token, syncd.stack.salesforce_client_secret):
        assert secret not in output
    state = (syncd.stack.directory / "state" / "syncd.db").read_bytes()
    assert syncd.stack.hubspot_token.encode() not in state


def test_the_scrubber_masks_configured_secrets_anywhere_in_an_event():
    scrub = SecretScrubber(["pat-secret-123", "s3cr3t-value"])
    event = scrub(None, "info", {"event": "x", "message": "Bearer pat-secret-123 refused",
                                 "nested": {"list": ["ok", "a s3cr3t-value b"]}, "client_secret": "anything"})
    assert "pat-secret-123" not in json.dumps(event) and "s3cr3t-value" not in json.dumps(event)
    assert event["client_secret"] == "***" and event["nested"]["list"][0] == "ok"


def test_mapping_validate_accepts_the_bundled_mapping(capsys):
    assert main(["mapping", "validate", str(ROOT / "mappings" / "hubspot-to-salesforce.yaml")]) == 0
    assert capsys.readouterr().out.startswith("ok ")


def test_the_shipped_json_schema_matches_the_models():
    shipped = json.loads((ROOT / "mappings" / "mapping.schema.json").read_text())
    assert shipped == json.loads(json.dumps(mapping_json_schema())), \
        "run: syncd mapping schema -o mappings/mapping.schema.json"


def _commands(group, prefix=""):
    for name, command in sorted(group.commands.items()):
        yield f"{prefix}{name}"
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix}{name} ")


def test_every_command_is_documented_in_the_readme_and_has_an_example():
    main(["--version"])            # registers optional commands
    readme = (ROOT / "README.md").read_text()
    for name in _commands(cli):
        command = cli
        for part in name.split():
            command = command.commands[part]
        if hasattr(command, "commands"):
            continue
        assert f"syncd {name}" in readme, f"`syncd {name}` is not in README.md"
        assert "Example" in (command.help or ""), f"`syncd {name} --help` has no example"


def test_the_demo_runs_a_full_cycle_without_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    done = subprocess.run([sys.executable, "-m", "syncd.cli", "demo", "--dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    finished = [json.loads(line) for line in done.stdout.splitlines() if '"demo.finished"' in line]
    assert len(finished) == 1
    summary = finished[0]
    assert summary["first_run"]["created"] >= 20 and summary["first_run"]["linked_by_email"] == 1
    assert summary["first_run"]["rejected"] == 1
    assert summary["second_run"].get("created", 0) + summary["second_run"].get("updated", 0) == 0
    assert summary["leads_in_salesforce"] == summary["first_run"]["created"] + 1
    # The loop closed (#3): Sales' outcomes reached the HubSpot contacts and the report.
    outcomes = summary["outcomes_on_contacts"]
    assert summary["back_run"]["updated"] == sum(outcomes.values()) and summary["back_run"]["rejected"] == 0
    assert {"won", "lost", "disqualified", "contacted", "opportunity"} <= set(outcomes)
    assert summary["report_totals"]["won"] == outcomes["won"] and summary["report_totals"]["revenue"] > 0
    # The demo's closing hint: the same report from its config, the format from the file's extension.
    report = subprocess.run([sys.executable, "-m", "syncd.cli", "report", "--config",
                             str(tmp_path / "demo" / "syncd.yaml"), "-o", "report.csv"],
                            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    rows = (tmp_path / "report.csv").read_text().splitlines()
    assert rows[0].startswith("source,handed_over,")
    totals = rows[-1].split(",")
    assert totals[0] == "TOTAL" and int(totals[1]) == summary["report_totals"]["handed_over"] > 0
    # The agreement (#10, acceptance 6): the bundled file, measured on what Sales' play intended.
    agreement, alert_lines = summary["agreement"], [e for e in map(json.loads, done.stdout.splitlines())
                                                    if e.get("event") == "agreement.alert"]
    intended = agreement["intended"]
    assert agreement["file"].endswith("mappings/agreement.yaml") and agreement["tasks"] is False
    assert agreement["delivered"] == summary["report_totals"]["handed_over"] == sum(
        intended[k] for k in ("on_time", "late", "never", "too_few"))
    assert agreement["states"] == {"on_time": intended["on_time"], "due_soon": 0,
                                   "breached": intended["late"] + intended["never"],
                                   "closed_too_few_attempts": intended["too_few"]}
    assert intended["on_time"] > intended["late"] > intended["never"] > 0 and intended["too_few"] == 1
    assert agreement["contacted_within_share"] == round((intended["on_time"] + 1) / agreement["delivered"], 3)
    # One breach alert (the one open lead never contacted), and the lead closed after one call.
    alerts = sorted((a["state"], a["lead_id"]) for a in agreement["alerts"])
    assert [state for state, _ in alerts] == ["breached", "closed_too_few_attempts"] and len(alerts) == intended["alerts"]
    assert sorted((e["state"], e["lead_id"]) for e in alert_lines) == alerts
    # The same every run, whatever the day or hour: each attempt is timed in business hours.
    assert (agreement["delivered"], agreement["states"]["on_time"], agreement["states"]["breached"]) == (26, 16, 9)
    assert (agreement["median_hours"], agreement["p90_hours"], agreement["attempts_met_share"]) == (2.0, 11.4, 0.857)
    assert agreement["part_shares"] == {"persona": 0.577, "need": 1.0, "budget": 0.423}


def test_the_demo_kept_running_serves_the_status_page_with_the_agreement(tmp_path):
    """`syncd demo --keep-running` prints the status page's address; the page answers from the demo's state."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    demo = subprocess.Popen([sys.executable, "-m", "syncd.cli", "demo", "--contacts", "16", "--keep-running",
                             "--dir", str(tmp_path / "demo")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env, cwd=tmp_path)
    try:
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if found := re.match(r"Status page: (http://127\.0\.0\.1:\d+/)$", line.strip()):
                break
        else:
            pytest.fail("no status page address: " + "".join(lines)[-2000:])
        (finished,) = [json.loads(line) for line in lines if '"demo.finished"' in line]
        with urllib.request.urlopen(found.group(1), timeout=10) as answer:
            assert answer.status == 200
            page = answer.read().decode()
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=10)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    agreement = finished["agreement"]
    assert f"The agreement, {agreement['month']}" in page
    delivered = re.search(r'data-testid="sla-delivered"><span class="value">(\d+)<', page)
    assert delivered and int(delivered.group(1)) == agreement["delivered"] > 0
    states = dict(re.findall(r"<tr><td>([a-z ]+)</td><td class=\"n\">(\d+)</td></tr>", page))
    assert states["breached"] == str(agreement["states"]["breached"]) != "0"
