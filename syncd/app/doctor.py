"""`syncd doctor`: everything a run needs, checked in order, one line per check.

config -> mapping -> state -> HubSpot (connection, token, scopes) -> Salesforce (connection, login,
API version, object permissions, field-level security of the mapped fields, the External ID field)
-> the live mapping check. A failure does not stop the others: a check that needs what failed says
``skipped: needs X``. Network calls get a short timeout and no retries, so an unreachable host is
reported at once. Writes nothing to either system; the state database is only read (a probe
write is rolled back). The lines and the exit code: ``syncd.app.doctor_result``.
"""

from __future__ import annotations

import os
from pathlib import Path

from state.health import inspect_store
from syncd.app import Loaded
from syncd.app.connectors import Connectors
from syncd.app.doctor_remote import hubspot_checks, live_mapping_check, salesforce_checks
from syncd.app.doctor_result import Line, failed, ok, skipped, warn
from syncd.app.logs import configure_logging
from syncd.config import Settings, load_settings, require_config
from syncd.core.errors import ConfigError, ExitCode, StateUnavailable
from syncd.mapping import Mapping, load_mapping

QUICK_TIMEOUT_SECONDS = 10.0        # a doctor's call: long enough for a slow login, short for a dead host
CONFIG = int(ExitCode.CONFIG_ERROR)
REMOTE_CHECKS = ("hubspot.connection", "hubspot.token", "hubspot.scopes", "salesforce.connection",
                 "salesforce.login", "salesforce.api_version", "salesforce.objects", "salesforce.fields",
                 "salesforce.external_id")


def _problems(exc: ConfigError) -> str:
    return "; ".join(str(p) for p in exc.problems)


def _quick(settings: Settings) -> Settings:
    """The settings with each system's timeout capped and no retries."""
    hs, sf = settings.hubspot, settings.salesforce
    return settings.model_copy(update={
        "hubspot": hs.model_copy(update={"timeout_seconds": min(hs.timeout_seconds, QUICK_TIMEOUT_SECONDS),
                                         "max_retries": 0}),
        "salesforce": sf.model_copy(update={"timeout_seconds": min(sf.timeout_seconds, QUICK_TIMEOUT_SECONDS),
                                            "max_retries": 0})})


def _config(config_path: Path | None, environ: dict[str, str]) -> tuple[Line, Settings | None, bool]:
    """The config line, the settings (None when unusable) and whether the credentials are there."""
    try:
        path = require_config(config_path, environ)
    except ConfigError as exc:
        return failed("config", _problems(exc), "pass --config FILE or set SYNCD_CONFIG", CONFIG), None, False
    try:
        return ok("config", str(path)), load_settings(path, environ, require_credentials=True), True
    except ConfigError as exc:
        line = failed("config", _problems(exc), "fix each problem named (file, line and key, or variable)", CONFIG)
    try:
        return line, load_settings(path, environ, require_credentials=False), False
    except ConfigError:
        return line, None, False


def _mapping(settings: Settings) -> tuple[Line, Mapping | None]:
    try:
        mapping = load_mapping(settings.mapping)
    except ConfigError as exc:
        return failed("mapping", _problems(exc), "fix the mapping (`syncd mapping validate` shows each problem)",
                      CONFIG), None
    return ok("mapping", f"{mapping.source}: {len(mapping.all_rules())} Salesforce fields"), mapping


def _state(settings: Settings) -> Line:
    try:
        health = inspect_store(settings.state.database_url.get_secret_value())
    except StateUnavailable as exc:
        return failed("state", str(exc), "see README \"State store faults\"", int(exc.exit_code))
    if health.version is None:
        return ok("state", f"{health.where}: no database yet; the first run creates it")
    if health.version > health.current:
        return failed("state", f"{health.where}: schema version {health.version}, newer than this syncd's "
                      f"({health.current})", "run the syncd that wrote it, or restore a backup",
                      int(ExitCode.LOCAL_FAILURE))
    if health.version < health.current:
        return warn("state", f"{health.where}: schema version {health.version}; the next run migrates it to "
                    f"{health.current}")
    return ok("state", f"{health.where}: writable, schema version {health.version}")


def diagnose(config_path: Path | None, *, env: dict[str, str] | None = None) -> list[Line]:
    """Every check's line, in order."""
    environ = dict(os.environ if env is None else env)
    config_line, settings, credentials = _config(config_path, environ)
    if settings is None:
        return [config_line, *(skipped(c, "config") for c in ("mapping", "state", *REMOTE_CHECKS, "mapping.live"))]
    configure_logging(settings.logging.format, "error", settings.secret_values())
    mapping_line, mapping = _mapping(settings)
    lines = [config_line, mapping_line, _state(settings)]
    if not credentials or mapping is None:
        needs = "the credentials in config" if not credentials else "mapping"
        return lines + [skipped(c, needs) for c in (*REMOTE_CHECKS, "mapping.live")]
    try:
        connectors = Connectors.build(Loaded(_quick(settings), mapping))
    except ConfigError as exc:
        return lines + [failed("connectors", _problems(exc), "fix the config", CONFIG)] + [
            skipped(c, "connectors") for c in (*REMOTE_CHECKS, "mapping.live")]
    try:
        hubspot, hubspot_ok = hubspot_checks(settings, mapping, connectors)
        salesforce, salesforce_ok = salesforce_checks(settings, mapping, connectors)
        lines += hubspot + salesforce
        if not hubspot_ok:
            lines.append(skipped("mapping.live", "HubSpot's token and scopes"))
        elif not salesforce_ok:
            lines.append(skipped("mapping.live", "Salesforce's login and describe"))
        else:
            lines.append(live_mapping_check(mapping, connectors))
    finally:
        connectors.close()
    return lines
