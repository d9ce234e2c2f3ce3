"""Input mistakes that used to pass quietly: no config file anywhere, a file far too big to be a
config or mapping, a qualify operator that does not exist."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.core.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory and home with no syncd.yaml in any searched place, and no state yet."""
    if Path("/etc/syncd/syncd.yaml").exists():
        pytest.skip("this machine has /etc/syncd/syncd.yaml, a searched place")
    monkeypatch.chdir(tmp_path)
    for name in ("SYNCD_CONFIG", "XDG_CONFIG_HOME", "STATE_DIRECTORY", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


@pytest.mark.parametrize("args", [
    ["status"], ["status", "--format", "csv"], ["report"], ["report", "--format", "csv", "-o", "report.csv"],
    ["run", "--once"], ["run", "--once", "--dry-run"], ["run"], ["setup", "hubspot", "--dry-run"],
    ["mapping", "validate"], ["mapping", "check"], ["rejected", "list"], ["rejected", "retry", "--all"],
    ["rejected", "clear", "--all"], ["preview", "1"],
], ids=lambda args: " ".join(args))
def test_a_command_that_needs_a_config_names_the_places_searched_exits_4_and_creates_nothing(
        nowhere: Path, capsys, args: list[str]) -> None:
    assert main(args) == ExitCode.CONFIG_ERROR
    err = capsys.readouterr().err
    assert err == (f"error: no config file found (searched ./syncd.yaml, {nowhere}/home/.config/syncd/syncd.yaml, "
                   "/etc/syncd/syncd.yaml); pass --config FILE or set SYNCD_CONFIG, starting from "
                   "syncd.example.yaml\n")
    assert sorted(p.name for p in nowhere.rglob("*")) == []          # no state database, no report.csv


def test_a_mapping_file_needs_no_config(nowhere: Path, capsys) -> None:
    assert main(["mapping", "validate", str(ROOT / "mappings" / "hubspot-to-salesforce.yaml")]) == ExitCode.OK
    assert capsys.readouterr().out.startswith("ok ")


def test_a_mapping_over_one_mib_is_refused_before_it_is_parsed(tmp_path: Path, capsys) -> None:
    bundled = (ROOT / "mappings" / "hubspot-to-salesforce.yaml").read_text()
    big = tmp_path / "big.yaml"
    big.write_text(bundled + "".join(f"# padding line {i}\n" for i in range(70_000)))
    assert big.stat().st_size > 1 << 20
    started = time.perf_counter()
    assert main(["mapping", "validate", str(big)]) == ExitCode.CONFIG_ERROR
    assert time.perf_counter() - started < 5                       # refused unread, not parsed for a minute
    assert capsys.readouterr().err == (f"error: {big}: the file is larger than 1 MiB; a config or mapping is a "
                                       "few KiB: is this the right file?\n")


def test_a_wrong_qualify_operator_lists_the_valid_ones(tmp_path: Path, capsys) -> None:
    bundled = (ROOT / "mappings" / "hubspot-to-salesforce.yaml").read_text()
    assert "    in: [" in bundled
    broken = tmp_path / "mapping.yaml"
    broken.write_text(bundled.replace("    in: [", "    one_of: [", 1))
    assert main(["mapping", "validate", str(broken)]) == ExitCode.CONFIG_ERROR
    err = capsys.readouterr().err
    assert ".one_of: unknown key 'one_of'; a condition has 'property' and one operator: equals, not_equals, " \
           "in, not_in, gt, gte, lt, lte, exists, contains_token" in err
