"""`syncd doctor` (issue #9, acceptance 6): one line per check, in order, against the emulators with
the real SDKs. Each broken thing is its own line with the right exit code, and the other checks
still run (a broken mapping does not hide a wrong token); checks that need a failed one are skipped."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.salesforce.demo_org import with_overrides
from emulators.stack import Stack, start_stack
from syncd.cli import main
from syncd.core.errors import ExitCode
from tests.test_mapping_check import _FIXED

CHECKS = ["config", "mapping", "state", "hubspot.connection", "hubspot.token", "hubspot.scopes",
          "salesforce.connection", "salesforce.login", "salesforce.api_version", "salesforce.objects",
          "salesforce.fields", "salesforce.external_id", "mapping.live"]
SF_LATER = ["salesforce.api_version", "salesforce.objects", "salesforce.fields", "salesforce.external_id"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One emulator pair for every case; each case breaks one thing and ``_restore`` mends it."""
    stack = start_stack(tmp_path_factory.mktemp("doctor"), hubspot=HubSpotEmulator(access_tokens=(), rate_limits=False),
                        salesforce=SalesforceEmulator())
    try:
        yield stack
    finally:
        stack.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wrong_token(stack: Stack) -> None:
    stack.hubspot.revoke_token(stack.hubspot_token)


def _missing_scope(stack: Stack) -> None:
    stack.hubspot.set_token_scopes(stack.hubspot_token, ["oauth", "crm.objects.contacts.read"])


def _wrong_secret(stack: Stack) -> None:
    (stack.directory / "secrets" / "salesforce_client_secret").write_text("not-the-secret\n")


def _locked_field(stack: Stack) -> None:
    lead = stack.salesforce.schema.get("Lead")
    stack.salesforce.add_field("Lead", with_overrides(lead.field("Title"), createable=False, updateable=False))


def _unreachable(stack: Stack) -> None:
    text = stack.config_path.read_text()
    stack.config_path.write_text(text.replace(stack.hubspot_server.url, f"https://127.0.0.1:{_closed_port()}"))


def _broken_mapping(stack: Stack) -> None:
    (stack.directory / "mapping.yaml").write_text(_FIXED.replace("Title:", "Titel:"))


def _state_gone(stack: Stack) -> None:
    state = stack.directory / "state"
    state.mkdir(exist_ok=True)
    (state / "syncd.db.created").write_text("syncd created a database here\n")


def _restore(stack: Stack, title) -> None:
    stack.hubspot.add_token(stack.hubspot_token)
    stack.hubspot.set_token_scopes(stack.hubspot_token, None)
    stack.salesforce.add_field("Lead", title)
    (stack.directory / "mapping.yaml").write_text(_FIXED)
    (stack.directory / "state" / "syncd.db.created").unlink(missing_ok=True)
    stack.write_config(mapping=stack.directory / "mapping.yaml")


# case: what to break, the exit code, and the lines that are not "ok": check -> (status, detail pattern)
CASES: list[tuple[str, Callable[[Stack], None] | None, int, dict[str, tuple[str, str]]]] = [
    ("all ok", None, 0, {}),
    ("wrong HubSpot token", _wrong_token, ExitCode.REMOTE_UNAVAILABLE, {
        "hubspot.token": ("FAIL", r"HubSpot private-app token refused \(401\)"),
        "hubspot.scopes": ("skipped", "needs hubspot.token"), "mapping.live": ("skipped", "needs HubSpot")}),
    ("HubSpot token missing a scope", _missing_scope, ExitCode.CONFIG_ERROR, {
        "hubspot.scopes": ("FAIL", r"the private app lacks crm\.schemas\.contacts\.read"),
        "mapping.live": ("skipped", "needs HubSpot")}),
    ("Salesforce wrong client secret", _wrong_secret, ExitCode.REMOTE_UNAVAILABLE, {
        "salesforce.login": ("FAIL", r"login refused: .*invalid_client"),
        **{c: ("skipped", "needs salesforce.login") for c in SF_LATER},
        "mapping.live": ("skipped", "needs Salesforce")}),
    ("Salesforce field not writable", _locked_field, ExitCode.CONFIG_ERROR, {
        "salesforce.fields": ("FAIL", r"may not write Lead\.Title$"),
        "mapping.live": ("FAIL", r"1 finding \(1 would refuse every record\)")}),
    ("HubSpot unreachable", _unreachable, ExitCode.REMOTE_UNAVAILABLE, {
        "hubspot.connection": ("FAIL", r"https://127\.0\.0\.1:\d+ unreachable: .*CONNECTION_FAILED"),
        "hubspot.token": ("skipped", "needs hubspot.connection"),
        "hubspot.scopes": ("skipped", "needs hubspot.connection"), "mapping.live": ("skipped", "needs HubSpot")}),
    ("broken mapping", _broken_mapping, ExitCode.CONFIG_ERROR, {
        "mapping.live": ("FAIL", r"^1 finding \(1 would refuse every record\)")}),
    ("state database unusable", _state_gone, ExitCode.LOCAL_FAILURE, {
        "state": ("FAIL", r"state store missing: .*syncd\.db: the file is gone")}),
]


@pytest.mark.parametrize(("case", "brake", "code", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_problem_is_its_own_line_with_its_exit_code_and_the_other_checks_still_run(
        stack: Stack, capsys, case: str, brake, code: int, expected: dict[str, tuple[str, str]]) -> None:
    title = stack.salesforce.schema.get("Lead").field("Title")
    _restore(stack, title)
    if brake is not None:
        brake(stack)
    try:
        assert main(["doctor", "--config", str(stack.config_path), "--format", "json"]) == code
    finally:
        _restore(stack, title)
    lines = json.loads(capsys.readouterr().out)
    assert [line["check"] for line in lines] == CHECKS
    for line in lines:
        status, pattern = expected.get(line["check"], ("ok", ""))
        assert line["status"] == status, line
        assert re.search(pattern, line["detail"]), line
        assert bool(line["fix"]) == (status == "FAIL"), line
        assert stack.hubspot_token not in json.dumps(line) and stack.salesforce_client_secret not in json.dumps(line)


def test_without_a_config_it_names_the_places_searched_and_skips_the_rest(tmp_path: Path, capsys,
                                                                           monkeypatch) -> None:
    if Path("/etc/syncd/syncd.yaml").exists():
        pytest.skip("this machine has /etc/syncd/syncd.yaml, a searched place")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["doctor", "--format", "table"]) == ExitCode.CONFIG_ERROR
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(CHECKS)
    assert re.match(r"FAIL +config +no config file found \(searched .*syncd\.yaml", out[0])
    assert all(re.match(r"skipped +\S+ +needs config$", line) for line in out[1:])
