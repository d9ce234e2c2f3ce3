"""schedule.interval_seconds: the third way to say when the service syncs."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.core.errors import ConfigError
from syncd.service import describe_schedule, make_trigger


def settings(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "syncd.yaml"
    path.write_text(text)
    return load_settings(path, env or {"HOME": str(tmp_path)}, require_credentials=False)


def test_interval_seconds_schedules_every_n_seconds(tmp_path):
    schedule = settings(tmp_path, "schedule:\n  interval_seconds: 5\n").schedule
    assert (schedule.interval_seconds, schedule.interval_minutes, schedule.cron) == (5, None, None)
    assert make_trigger(schedule).interval.total_seconds() == 5 and describe_schedule(schedule) == "every 5s"


def test_the_default_stays_every_15_minutes(tmp_path):
    schedule = settings(tmp_path, "sync:\n  pipeline: p\n").schedule
    assert make_trigger(schedule).interval.total_seconds() == 900 and describe_schedule(schedule) == "every 15 min"


@pytest.mark.parametrize("text, message", [
    ("schedule:\n  interval_minutes: 5\n  interval_seconds: 30\n", "set only one of schedule.interval_minutes"),
    ("schedule:\n  cron: '*/5 * * * *'\n  interval_seconds: 30\n", "set only one of schedule.interval_minutes"),
    ("schedule:\n  interval_seconds: 0\n", "must be at least 1"),
], ids=["with-minutes", "with-cron", "zero"])
def test_interval_seconds_is_validated_and_exclusive(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        settings(tmp_path, text)
    assert "schedule.interval_seconds" in str(error.value) and message in str(error.value)


def test_interval_seconds_from_the_environment_replaces_the_files_schedule(tmp_path):
    env = {"HOME": str(tmp_path), "SYNCD_SCHEDULE__INTERVAL_SECONDS": "20"}
    schedule = settings(tmp_path, "schedule:\n  cron: '0 * * * *'\n", env).schedule
    assert (schedule.interval_seconds, schedule.cron, schedule.interval_minutes) == (20, None, None)
