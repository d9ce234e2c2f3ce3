"""The shipped systemd units: `systemd-analyze verify` accepts them, and they say what the
service needs (notify, watchdog, stop bound, hardening, the credential names syncd reads)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.config import SECRETS, ScheduleSettings
from syncd.service.daemon import STOP_MARGIN_SECONDS

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("syncd.service", "syncd-once.service", "syncd.timer")
SHIPPED_BINARY = "/opt/syncd/.venv/bin/syncd"


def directives(unit: str) -> dict[str, list[str]]:
    """`Key=value` lines (repeatable keys keep every value), comments skipped."""
    found: dict[str, list[str]] = {}
    for line in (ROOT / "systemd" / unit).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min|h)?", value)
    assert match, value
    return int(match[1]) * {"s": 1, None: 1, "min": 60, "h": 3600}[match[2]]


@pytest.fixture(scope="module")
def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (`make test` installs it with apt-get when run as root; "
                    "otherwise: apt-get install systemd)")
    return tool


def installed_copies(tmp_path: Path) -> Path:
    """The units as an install would have them: ExecStart pointing at a syncd that exists here."""
    syncd = Path(sys.executable).with_name("syncd")
    assert syncd.exists(), syncd
    for unit in UNITS:
        text = (ROOT / "systemd" / unit).read_text()
        (tmp_path / unit).write_text(text.replace(SHIPPED_BINARY, str(syncd)))
    return tmp_path


def verify(analyze: str, directory: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([analyze, "verify", *(f"./{u}" for u in units)], cwd=directory,
                          capture_output=True, text=True, timeout=60)


def test_systemd_analyze_verify_accepts_the_units_without_a_single_complaint(analyze, tmp_path):
    result = verify(analyze, installed_copies(tmp_path), *UNITS)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_verification_has_teeth_a_misspelt_directive_is_reported(analyze, tmp_path):
    directory = installed_copies(tmp_path)
    broken = directory / "syncd.service"
    broken.write_text(broken.read_text().replace("ProtectSystem=strict", "ProtectSystm=strict"))
    result = verify(analyze, directory, "syncd.service")
    assert "Unknown key 'ProtectSystm'" in result.stderr + result.stdout


def test_the_service_unit_is_a_hardened_notify_service_with_a_watchdog_and_a_stop_bound():
    unit = directives("syncd.service")
    assert unit["Type"] == ["notify"] and unit["Restart"] == ["on-failure"]
    assert unit["ExecStart"] == [f"{SHIPPED_BINARY} run --config /etc/syncd/syncd.yaml"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert seconds(unit["WatchdogSec"][0]) > 0
    # systemd must give syncd its own bound to finish the batch in flight, and the margin to leave:
    # the default bound fits TimeoutStopSec=; a longer one is asked for with EXTEND_TIMEOUT_USEC=
    # when the stop begins (tests/test_service.py hears it on the notify socket)
    assert seconds(unit["TimeoutStopSec"][0]) >= ScheduleSettings().shutdown_timeout_seconds + STOP_MARGIN_SECONDS
    for key, value in {"DynamicUser": "yes", "StateDirectory": "syncd", "ProtectSystem": "strict",
                       "ProtectHome": "yes", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                       "PrivateDevices": "yes", "CapabilityBoundingSet": ""}.items():
        assert unit[key] == [value], key


@pytest.mark.parametrize("unit", ["syncd.service", "syncd-once.service"])
def test_credentials_are_loaded_under_the_names_syncd_reads(unit):
    names = {line.split(":", 1)[0] for line in directives(unit)["LoadCredential"]}
    readable = {spec.credential for spec in SECRETS}
    assert names and names <= readable
    assert "EnvironmentFile" not in directives(unit)          # the alternative stays commented out


def test_the_timer_runs_one_cycle_at_a_time_through_the_once_unit():
    timer, once = directives("syncd.timer"), directives("syncd-once.service")
    assert timer["Unit"] == ["syncd-once.service"] and "OnUnitInactiveSec" in timer
    assert once["Type"] == ["oneshot"] and once["ExecStart"][0].endswith("run --once --config /etc/syncd/syncd.yaml")
    assert "3" in once["SuccessExitStatus"][0].split()                  # rejected records are not a unit failure


def test_the_environment_file_example_sets_only_settings_syncd_knows():
    from syncd.config import _LEAVES, env_var_name

    known = {env_var_name(loc) for loc in _LEAVES}
    lines = [line.split("=", 1)[0] for line in (ROOT / "systemd" / "syncd.env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines and set(lines) <= known
