"""What ``syncd.yaml`` may say: the sections of ``Settings``, their defaults and checks.

Every section forbids unknown keys; validators explain in plain words and never quote the value
they reject. Whether credentials must be present depends on the command, so that is checked
when loading (``syncd.config.secrets.missing_credentials``), not here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationInfo,
                      field_validator, model_validator)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from . import checks

__all__ = [
    "Settings", "HubSpotSettings", "SalesforceSettings", "SalesforceAuth", "TlsSettings",
    "StateSettings", "SyncSettings", "ScheduleSettings", "LoggingSettings", "MetricsSettings",
    "default_state_directory", "default_mapping_path", "home",
]

BUNDLED_MAPPING = "hubspot-to-salesforce.yaml"
Flow = Literal["client_credentials", "jwt_bearer"]

_NO_VERIFY = ("TLS certificate verification cannot be disabled in syncd; if a corporate proxy "
              "re-signs HTTPS traffic, add its CA certificate with tls.ca_bundle")
_VERIFY_HINTS = {key: _NO_VERIFY for key in (
    "verify", "verify_ssl", "ssl_verify", "verify_tls", "tls_verify", "verify_certificates",
    "insecure", "skip_verify", "insecure_skip_verify", "disable_verification")}

# Admins write `client_id: 12345` or `pipeline: 2024`: numbers are fine where text is due.
_CLOSED = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class _Section(BaseModel):
    model_config = _CLOSED


def _subsection() -> Any:
    """Default for a section: an empty mapping that is *validated*, so the section's own
    defaults and checks run even when the file omits it."""
    return Field(default_factory=dict, validate_default=True)


class HubSpotSettings(_Section):
    UNKNOWN_KEY_HINTS: ClassVar[dict[str, str]] = _VERIFY_HINTS

    base_url: str = Field("https://api.hubapi.com", description="HubSpot API base URL.")
    access_token: SecretStr | None = Field(None, description="Private-app access token (secret).")
    access_token_file: Path | None = Field(None, description="File holding the access token.")
    timeout_seconds: float = Field(30.0, gt=0, le=600, description="Per-request timeout.")
    max_retries: int = Field(5, ge=0, le=20, description="Retries for transient failures.")
    search_requests_per_second: int = Field(
        5, ge=1, le=5, description="Search calls per second; HubSpot allows 5 per account.")
    requests_per_ten_seconds: int = Field(
        190, ge=10, le=250, description="Calls per rolling 10 s (the private app's burst limit): 190 on "
                                        "Professional and Enterprise, 100 on Free and Starter, 250 with the "
                                        "API limit increase. Searches count here too.")
    quota_reserve_percent: float = Field(
        20, ge=0, le=90, description="Share of the account's daily API calls syncd leaves to other "
                                     "integrations: it stops (exit 5) rather than use them.")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return checks.https_url(value, "https://api.hubapi.com")

    @field_validator("access_token")
    @classmethod
    def _one_line(cls, value: SecretStr | None) -> SecretStr | None:
        return checks.secret_text(value)


class SalesforceAuth(_Section):
    """OAuth settings for the connected app. Which keys apply depends on ``flow``."""

    # Keys that belong to one flow only; they are an error with the other flow.
    ONLY_FOR: ClassVar[dict[str, str]] = {
        "client_secret": "client_credentials", "client_secret_file": "client_credentials",
        "username": "jwt_bearer", "private_key": "jwt_bearer", "private_key_file": "jwt_bearer"}

    flow: Flow = Field("client_credentials", description=(
        "client_credentials (the default) or jwt_bearer."))
    client_id: str | None = Field(None, description="Connected app consumer key.")
    client_secret: SecretStr | None = Field(
        None, validate_default=True, description="Consumer secret (client_credentials; secret).")
    client_secret_file: Path | None = Field(None, validate_default=True)
    username: str | None = Field(None, validate_default=True,
                                 description="Integration user (jwt_bearer).")
    private_key: SecretStr | None = Field(
        None, validate_default=True, description="RSA private key PEM text (jwt_bearer; secret).")
    private_key_file: Path | None = Field(None, validate_default=True,
                                          description="RSA private key PEM file (jwt_bearer).")

    @field_validator("client_secret", "private_key")
    @classmethod
    def _secret_text(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        return checks.secret_text(value, multiline=info.field_name == "private_key")

    @field_validator(*ONLY_FOR)
    @classmethod
    def _per_flow(cls, value: Any, info: ValidationInfo) -> Any:
        flow, wanted = info.data.get("flow"), cls.ONLY_FOR[info.field_name or ""]
        if value is not None and flow is not None and flow != wanted:
            raise ValueError(f"only used with flow: {wanted} (this config uses {flow}); "
                             "remove it")
        return value


class SalesforceSettings(_Section):
    UNKNOWN_KEY_HINTS: ClassVar[dict[str, str]] = _VERIFY_HINTS

    login_url: str = Field("https://login.salesforce.com", description=(
        "Login or My Domain URL, e.g. https://acme.my.salesforce.com"))
    api_version: str = Field("62.0", description='REST API version like "62.0"; 46.0 or newer.')
    auth: SalesforceAuth = _subsection()
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    max_retries: int = Field(5, ge=0, le=20)
    quota_reserve_percent: float = Field(
        20, ge=0, le=90, description="Share of the org's daily API requests (rolling 24 h) syncd leaves to "
                                     "the org's other integrations: it stops (exit 5) rather than use them.")

    @field_validator("login_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return checks.https_url(value, "https://login.salesforce.com")

    @field_validator("api_version", mode="before")
    @classmethod
    def _api_version(cls, value: Any) -> str:
        return checks.api_version(value)   # YAML reads 62.0 as a float; accept it


class TlsSettings(_Section):
    UNKNOWN_KEY_HINTS: ClassVar[dict[str, str]] = _VERIFY_HINTS

    ca_bundle: Path | None = Field(
        None, description="Extra CA certificates (PEM) trusted for HubSpot and Salesforce.")

    @field_validator("ca_bundle")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        return None if value is None else checks.existing_file(value, "CA bundle")


def home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def default_state_directory(env: Mapping[str, str]) -> Path:
    """$STATE_DIRECTORY (systemd StateDirectory=) > $XDG_STATE_HOME/syncd > ~/.local/state/syncd."""
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])   # systemd joins several with ':'
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():                      # the XDG spec says ignore relative
        return Path(xdg) / "syncd"
    return home(env) / ".local" / "state" / "syncd"


class StateSettings(_Section):
    # load_settings passes the directory from the environment it was given; os.environ is only
    # the fallback for a Settings built directly (tests of other modules).
    directory: Path = Field(default_factory=lambda: default_state_directory(os.environ),
                            description="Where syncd keeps its state; default from "
                                        "$STATE_DIRECTORY, $XDG_STATE_HOME or ~/.local/state.")
    database_url: SecretStr = Field(None, validate_default=True,  # type: ignore[assignment]
                                    description="SQLAlchemy URL; default: sqlite file syncd.db "
                                                "in the state directory. Secret (password).")
    database_url_file: Path | None = None

    @field_validator("database_url", mode="before")
    @classmethod
    def _sqlite_in_directory(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and isinstance(info.data.get("directory"), Path):
            return f"sqlite:///{info.data['directory'] / 'syncd.db'}"
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: SecretStr) -> SecretStr:
        checks.secret_text(value)
        checks.database_url(value.get_secret_value())
        return value

    def database_url_for_display(self) -> str:
        """The URL with any password replaced by ***, for logs and `syncd status`."""
        url = self.database_url.get_secret_value()
        password = urlsplit(url).password
        return url.replace(f":{password}@", ":***@", 1) if password else url


class SyncSettings(_Section):
    lookback_minutes: int = Field(
        10, ge=0, le=1440, description="Re-read window for HubSpot search's eventual consistency.")
    pipeline: str = Field("hubspot-to-salesforce",
                          description="Name for state rows, locks and logs ([a-z0-9-]+).")
    dry_run: bool = Field(False, description="Read and plan both legs, but write nothing to "
                                             "Salesforce or HubSpot.")
    archived_scan_minutes: int = Field(
        60, ge=0, le=10080, description="How often the forward leg lists HubSpot's archived contacts (the "
                                        "recycle bin) for linked contacts that left; 0: every run. "
                                        "`run --once --full` always scans.")

    @field_validator("pipeline")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9-]{1,63}", value):
            raise ValueError("must be 1-63 lowercase letters, digits or '-'")
        return value


class ScheduleSettings(_Section):
    interval_minutes: int | None = Field(
        None, ge=1, le=1440, description="Run every N minutes (default 15 when cron is unset).")
    cron: str | None = Field(None, validate_default=True,
                             description='Crontab expression like "*/15 * * * *".')
    interval_seconds: int | None = Field(
        None, ge=1, le=86400, validate_default=True,
        description="Run every N seconds (tests, demos); instead of interval_minutes or cron.")
    shutdown_timeout_seconds: float = Field(30.0, ge=0, le=3600)

    ALTERNATIVES: ClassVar[tuple[str, ...]] = ("interval_minutes", "cron", "interval_seconds")

    @model_validator(mode="before")
    @classmethod
    def _default_interval(cls, data: Any) -> Any:
        if isinstance(data, dict) and all(data.get(key) is None for key in cls.ALTERNATIVES):
            data = {**data, "interval_minutes": 15}
        return data

    @field_validator("interval_seconds")
    @classmethod
    def _one_schedule(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and (info.data.get("interval_minutes") is not None
                                  or info.data.get("cron") is not None):
            raise ValueError("set only one of schedule.interval_minutes, schedule.cron and "
                             "schedule.interval_seconds")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("interval_minutes") is not None:
            raise ValueError("set either schedule.interval_minutes or schedule.cron, not both")
        checks.cron(value)
        return value


class LoggingSettings(_Section):
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console on a terminal, JSON otherwise.")
    level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("format", "level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class MetricsSettings(_Section):
    listen: str | None = Field(None, description='Prometheus endpoint, e.g. "127.0.0.1:9464"; '
                                                 "null turns metrics off.")
    status_page: bool = Field(True, description="Serve the read-only status page at / on the same "
                                                "address (false: metrics and health checks only).")
    status_token: SecretStr | None = Field(
        None, description="Token the status page asks for (Authorization: Bearer, or ?token=); "
                          "required when listen is not a loopback address (secret).")
    status_token_file: Path | None = Field(None, description="File holding the status page's token.")

    @field_validator("status_token")
    @classmethod
    def _token_one_line(cls, value: SecretStr | None) -> SecretStr | None:
        return checks.secret_text(value)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.strip()
            checks.listen_address(value)
        return value or None

    @property
    def address(self) -> tuple[str, int] | None:
        return checks.listen_address(self.listen) if self.listen else None

    @property
    def is_loopback(self) -> bool:
        """False for an address other machines can reach; the caller logs a warning then."""
        return checks.is_loopback(self.address[0]) if self.address else True


def default_mapping_path() -> Path:
    """The mapping shipped in the package (``mappings/hubspot-to-salesforce.yaml``)."""
    try:
        return Path(str(resources.files("mappings") / BUNDLED_MAPPING))
    except (ModuleNotFoundError, TypeError):
        return Path(__file__).resolve().parents[2] / "mappings" / BUNDLED_MAPPING


class Settings(BaseSettings):
    """Everything syncd needs at run time. Build it with ``syncd.config.load_settings``.

    The ``SYNCD_<SECTION>__<KEY>`` naming is pydantic-settings' (``env_prefix``,
    ``env_nested_delimiter``, ``env_ignore_empty``), used by ``syncd.config.sources``, which
    layers the environment, the file and the credentials explicitly. Built directly -
    ``Settings(...)``, or ``Settings.model_validate(...)``, which pydantic also sends through
    ``BaseSettings.__init__`` - it reads only what it is given (tests of other modules do that).
    """

    model_config = SettingsConfigDict(
        **_CLOSED, validate_default=False, env_prefix="SYNCD_", env_nested_delimiter="__",
        env_ignore_empty=True, case_sensitive=False)
    UNKNOWN_KEY_HINTS: ClassVar[dict[str, str]] = _VERIFY_HINTS

    mapping: Path = Field(default_factory=default_mapping_path,
                          description="Mapping file; default: the one bundled with syncd.")
    agreement: Path | None = Field(None, description="Sales–Marketing agreement file (issue #10); "
                                                     "none: no agreement features.")
    hubspot: HubSpotSettings = _subsection()
    salesforce: SalesforceSettings = _subsection()
    tls: TlsSettings = _subsection()
    state: StateSettings = _subsection()
    sync: SyncSettings = _subsection()
    schedule: ScheduleSettings = _subsection()
    logging: LoggingSettings = _subsection()
    metrics: MetricsSettings = _subsection()

    _config_path: Path | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   **_: PydanticBaseSettingsSource
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)     # no hidden reading of os.environ, .env or secret files

    @field_validator("mapping")
    @classmethod
    def _mapping_exists(cls, value: Path) -> Path:
        return checks.existing_file(value, "mapping file")   # only for a configured mapping

    @field_validator("agreement")
    @classmethod
    def _agreement_exists(cls, value: Path | None) -> Path | None:
        return None if value is None else checks.existing_file(value, "agreement file")

    @property
    def config_path(self) -> Path | None:
        """The YAML file these settings came from, or None (environment and defaults only)."""
        return self._config_path

    def secret_values(self) -> list[str]:
        """Every secret string, so logging can scrub them from messages."""
        auth = self.salesforce.auth
        secrets = [s.get_secret_value() for s in (
            self.hubspot.access_token, auth.client_secret, auth.private_key, self.metrics.status_token)
            if s is not None]
        password = urlsplit(self.state.database_url.get_secret_value()).password
        if password:
            secrets += [password, unquote(password)]      # as written and as sent
        return [s for i, s in enumerate(secrets) if s and s not in secrets[:i]]


def settings_json_schema() -> dict[str, Any]:
    """JSON Schema of syncd.yaml, for documentation and editor completion."""
    return Settings.model_json_schema()
