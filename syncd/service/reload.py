"""SIGHUP: load config and mapping again, validate them, and swap them in only if all is valid.

Loading happens in the service's main loop, off the cycle's path; a cycle in flight keeps the
configuration it started with (the swap replaces a reference). Everything that can fail, the new
schedule included, is built before anything is swapped, so a failed reload changes nothing:
``service.reload_failed`` lists the problems and the service carries on with what it had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from apscheduler.triggers.base import BaseTrigger

from syncd import app
from syncd.config import ScheduleSettings
from syncd.core.errors import ConfigError, Problem
from syncd.app.logs import configure_logging
from syncd.service.metrics import Metrics
from syncd.service.notify import Notifier

log = structlog.get_logger("syncd.service")

# Settings the running service cannot switch: its lease lives in this database for this pipeline.
FIXED_ON_RELOAD = {("sync", "pipeline"): "sync.pipeline", ("state", "database_url"): "state.database_url"}
SECTIONS = ("mapping", "hubspot", "salesforce", "tls", "sync", "schedule", "logging", "metrics")


@dataclass(frozen=True)
class Reload:
    """A validated new configuration, ready to swap in."""

    loaded: app.Loaded
    trigger: BaseTrigger | None          # a new schedule, or None when it did not change
    changed: list[str]                   # the sections that differ
    restart_needed: list[str]            # settings that only take effect after a restart


def prepare(old: app.Loaded, new: app.Loaded, make_trigger: Callable[[ScheduleSettings], BaseTrigger]) -> Reload:
    """Compare and build; raises ConfigError when the new configuration cannot be used."""
    problems = [Problem(str(new.settings.config_path or "environment"), name,
                        "cannot change while the service runs (its lock lives there); "
                        "restart the service instead")
                for (section, key), name in FIXED_ON_RELOAD.items()
                if _value(old.settings, section, key) != _value(new.settings, section, key)]
    if problems:
        raise ConfigError(problems)
    schedule_changed = new.settings.schedule != old.settings.schedule
    trigger = make_trigger(new.settings.schedule) if schedule_changed else None
    changed = [name for name in SECTIONS if getattr(old.settings, name) != getattr(new.settings, name)]
    if old.mapping != new.mapping and "mapping" not in changed:
        changed.append("mapping")
    restart_needed = [f"metrics.{key}" for key in ("listen", "status_page", "status_token")
                      if getattr(new.settings.metrics, key) != getattr(old.settings.metrics, key)]
    return Reload(new, trigger, changed, restart_needed)


def reload(current: app.Loaded, *, load: Callable[[Path | None], app.Loaded], config_path: Path | None,
           make_trigger: Callable[[ScheduleSettings], BaseTrigger], metrics: Metrics,
           notifier: Notifier, check: Callable[[Reload], None] | None = None) -> Reload | None:
    """Load and validate (``check``: the new mapping against the live orgs, raising ConfigError);
    None (logged, counted, told to systemd) when the new files are refused. On success the new
    secrets are already in the log scrubber; the caller swaps and reports."""
    notifier.reloading()
    try:
        change = prepare(current, load(config_path), make_trigger)
        if check is not None:
            check(change)
    except ConfigError as exc:
        _refused([str(p) for p in exc.problems], metrics, notifier)
        return None
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, keep the running config
        _refused([f"{type(exc).__name__}: {exc}"], metrics, notifier, traceback=True)
        return None
    settings = change.loaded.settings
    # The old secrets stay masked too: a cycle in flight may still log with them.
    configure_logging(settings.logging.format, settings.logging.level,
                      [*current.settings.secret_values(), *settings.secret_values()])
    return change


def reloaded(change: Reload, metrics: Metrics, notifier: Notifier, *, schedule: str, next_cycle: str) -> None:
    """Report a reload that was swapped in."""
    settings = change.loaded.settings
    metrics.reloads.labels("ok").inc()
    log.info("service.reloaded", config=str(settings.config_path) if settings.config_path else None,
             mapping=change.loaded.mapping.source, changed=change.changed, schedule=schedule,
             restart_needed=change.restart_needed)
    notifier.ready(status=f"reloaded; next cycle {next_cycle}")


def _refused(problems: list[str], metrics: Metrics, notifier: Notifier, *, traceback: bool = False) -> None:
    metrics.reloads.labels("failed").inc()
    log.error("service.reload_failed", problems=problems,
              action="still running on the previous configuration and mapping", exc_info=traceback)
    notifier.ready(status="reload failed; running on the previous configuration")


def _value(settings: Any, section: str, key: str) -> Any:
    value = getattr(getattr(settings, section), key)
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value
