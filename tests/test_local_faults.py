"""Local faults (issue #8): a state store that is read-only, full, corrupt, emptied, gone or
unreachable ends the run with exit 7, one clear line naming the store and the kind of fault, and a
``run.failed`` log line; never a traceback with exit 1. Once the fault is fixed, a rerun converges:
one Lead per contact, nothing lost.

Each test runs the real `syncd run --once` process against the emulators and breaks the store the
way an operator's machine would: a directory syncd's user cannot write (run as root, the process
first drops the capability to ignore file modes), a database that cannot grow (SQLITE_FULL, as
on a full disk: tests/full_disk.py), garbage or zero bytes in the file, a PostgreSQL port
nobody listens on or a role that does not exist."""

from __future__ import annotations

import ctypes
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.core.errors import ExitCode
from tests.conftest import Syncd, qualified
from tests.daemon import clean_env, free_port, syncd_command

CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, PR_CAPBSET_DROP = 1, 2, 24


def without_root_privilege() -> None:
    """In the child, before exec: drop the capabilities that let root ignore file permissions,
    so a directory mode 0555 is read-only for syncd even when the tests run as root."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_once(syncd: Syncd, *, env: dict[str, str] | None = None, max_pages: int | None = None,
             ) -> tuple[int, list[dict], str]:
    """`syncd run --once` as a process: exit code, its JSON log lines, its stderr. ``max_pages``:
    the state database cannot grow past that many pages, as on a full disk (tests/full_disk.py)."""
    args = ("run", "--once", "--config", str(syncd.stack.config_path))
    command = syncd_command(*args)
    if max_pages:
        command = [sys.executable, "-P", str(Path(__file__).with_name("full_disk.py")), *args]
        env = {**(env or {}), "TEST_STATE_MAX_PAGES": str(max_pages)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=clean_env(**(env or {})),
                          preexec_fn=without_root_privilege)
    lines = [json.loads(line) for line in (done.stdout + done.stderr).splitlines() if line.startswith("{")]
    return done.returncode, lines, done.stderr


def failed_with(lines: list[dict], kind: str) -> dict:
    (failed,) = [line for line in lines if line["event"] == "run.failed"]
    assert failed["error_type"] == "StateUnavailable" and failed["code"] == kind, failed
    assert failed["who_acts"] == "operator"
    return failed


def assert_clean_failure(code: int, lines: list[dict], stderr: str, kind: str) -> dict:
    assert code == ExitCode.LOCAL_FAILURE, stderr
    assert "Traceback" not in stderr
    failed = failed_with(lines, kind)
    assert failed["error"].startswith(f"state store {kind.replace('_', ' ')}: ")
    return failed


def state_db(syncd: Syncd) -> Path:
    return syncd.stack.directory / "state" / "syncd.db"


def test_a_state_directory_syncd_cannot_write_is_exit_7_read_only_and_the_rerun_converges(syncd):
    ids = syncd.hubspot.create_contacts(qualified(3))
    assert run_once(syncd)[0] == ExitCode.OK
    syncd.hubspot.create_contacts(qualified(2, start=3))
    state = state_db(syncd).parent
    state.chmod(0o555)
    for path in state.iterdir():
        path.chmod(0o444)
    try:
        result = run_once(syncd)
    finally:
        state.chmod(0o755)
        for path in state.iterdir():
            path.chmod(0o644)
    failed = assert_clean_failure(*result, kind=failed_kind(result))
    assert str(state) in failed["error"]

    assert run_once(syncd)[0] == ExitCode.OK
    assert len(syncd.leads_by_hubspot_id()) == 5 and set(ids) <= set(syncd.leads_by_hubspot_id())


def failed_kind(result: tuple[int, list[dict], str]) -> str:
    """SQLite says "readonly database" or "unable to open" depending on which file it could not
    write (the database, its journal); both name the store and are the operator's to fix."""
    kinds = [line.get("code") for line in result[1] if line["event"] == "run.failed"]
    assert kinds and kinds[0] in ("read_only", "unreachable"), result
    return kinds[0]


def test_a_full_disk_mid_run_is_exit_7_full_and_the_rerun_delivers_every_lead_exactly_once(syncd):
    syncd.hubspot.create_contacts(qualified(3))
    assert run_once(syncd)[0] == ExitCode.OK
    ids = syncd.hubspot.create_contacts(qualified(1500, start=3))
    with sqlite3.connect(state_db(syncd)) as db:
        (pages,) = db.execute("PRAGMA page_count").fetchone()
    result = run_once(syncd, max_pages=pages + 20)      # room for a batch or two
    assert_clean_failure(*result, kind="full")
    written_before_the_fault = len(syncd.leads())
    assert 3 < written_before_the_fault < 1503          # it failed mid-run, after real writes

    assert run_once(syncd)[0] == ExitCode.OK
    leads = syncd.leads_by_hubspot_id()                 # asserts one Lead per contact
    assert len(leads) == 1503 and set(ids) <= set(leads)


def test_a_corrupt_state_file_is_exit_7_corrupt(syncd):
    syncd.hubspot.create_contacts(qualified(2))
    assert run_once(syncd)[0] == ExitCode.OK
    for path in state_db(syncd).parent.glob("syncd.db-*"):
        path.unlink()
    state_db(syncd).write_bytes(b"this is not a database " * 512)
    failed = assert_clean_failure(*run_once(syncd), kind="corrupt")
    assert "restore the state database from a backup" in failed["error"]


@pytest.mark.parametrize("damage", ["emptied", "deleted"])
def test_a_state_file_emptied_or_deleted_is_reported_not_silently_started_afresh(syncd, damage):
    syncd.hubspot.create_contacts(qualified(2))
    assert run_once(syncd)[0] == ExitCode.OK
    writes = syncd.salesforce_writes()
    for path in state_db(syncd).parent.glob("syncd.db-*"):
        path.unlink()
    if damage == "emptied":
        state_db(syncd).write_bytes(b"")
    else:
        state_db(syncd).unlink()
    failed = assert_clean_failure(*run_once(syncd), kind="missing")
    assert "syncd.db.created" in failed["error"]
    assert syncd.salesforce_writes() == writes          # nothing was sent on an empty memory

    # Starting afresh is a decision: delete the marker, and syncd matches the Leads again by
    # HubSpot id (the upsert key); nothing is duplicated.
    (state_db(syncd).parent / "syncd.db.created").unlink()
    assert run_once(syncd)[0] == ExitCode.OK
    assert len(syncd.leads_by_hubspot_id()) == 2 and len(syncd.leads()) == 2


@pytest.mark.parametrize(("url", "kind"), [
    ("postgresql+psycopg://syncd:pw-{secret}@127.0.0.1:{port}/test", "unreachable"),
    ("postgresql+psycopg://no_such_role:pw-{secret}@127.0.0.1:5432/test", "refused"),
])
def test_an_unreachable_or_refusing_postgresql_is_exit_7_without_its_password(syncd, url, kind):
    from tests.conftest import postgres_or_skip
    if "5432" in url:
        postgres_or_skip()
    secret = "s3cr3tpassw0rd"
    database_url = url.format(secret=secret, port=free_port())
    code, lines, stderr = run_once(syncd, env={"SYNCD_STATE__DATABASE_URL": database_url})
    assert_clean_failure(code, lines, stderr, kind)
    assert secret not in stderr and all(secret not in json.dumps(line) for line in lines)
    assert syncd.salesforce_writes() == 0


def test_a_malformed_remote_reply_is_retried_as_weather_not_a_crash(syncd):
    ids = syncd.hubspot.create_contacts(qualified(3))
    syncd.hubspot.inject_fault("POST", "/search", 200, body={"total": 3, "results": "notalist"}, times=2)
    code, lines, stderr = run_once(syncd)
    assert code == ExitCode.OK, stderr
    retries = [line for line in lines if line["event"] == "remote.retry"]
    assert [r["code"] for r in retries] == ["UNEXPECTED_RESPONSE"] * 2
    assert sorted(syncd.leads_by_hubspot_id()) == sorted(ids)


def test_status_works_on_a_read_only_state_directory(syncd):
    syncd.hubspot.create_contacts(qualified(2))
    assert run_once(syncd)[0] == ExitCode.OK
    state = state_db(syncd).parent
    state.chmod(0o555)
    for path in state.iterdir():
        path.chmod(0o444)
    try:
        done = subprocess.run(syncd_command("status", "--config", str(syncd.stack.config_path)), capture_output=True,
                              text=True, timeout=60, env=clean_env(), preexec_fn=without_root_privilege)
    finally:
        state.chmod(0o755)
        for path in state.iterdir():
            path.chmod(0o644)
    assert done.returncode == ExitCode.OK, done.stderr
    assert "2 contacts linked to Salesforce" in done.stdout


def test_the_state_database_is_created_readable_by_its_owner_only(syncd):
    syncd.hubspot.create_contacts(qualified(1))
    assert run_once(syncd)[0] == ExitCode.OK
    assert state_db(syncd).stat().st_mode & 0o777 == 0o600
