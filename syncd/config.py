"""Runtime settings: ``syncd.yaml`` + ``SYNCD_*`` environment variables + secret files.

Where each value comes from, highest precedence first:

1. ``SYNCD_<SECTION>__<KEY>`` environment variables, e.g. ``SYNCD_SYNC__LOOKBACK_MINUTES=30``
   or ``SYNCD_SALESFORCE__AUTH__CLIENT_ID``. An empty variable counts as not set. Any other
   ``SYNCD_*`` variable (except those in ``NON_SETTING_VARIABLES``) is an error, so typos are
   caught instead of silently ignored.
2. The YAML config file (see ``syncd.example.yaml``). Relative paths in it resolve against the
   file's folder; relative paths from the environment resolve against the working directory.
3. Defaults, some of them from the systemd environment (``$STATE_DIRECTORY``).

Secrets (HubSpot token, Salesforce client secret and private key, database URL) can also come
from files, for each secret ``x``: env ``x`` > env ``x_FILE`` > YAML ``x`` > YAML ``x_file`` >
``$CREDENTIALS_DIRECTORY/<section>_<x>`` (systemd ``LoadCredential=``). Setting both ``x`` and
``x_file`` at the same level is an error. Secrets are ``SecretStr``: they never appear in
reprs, and no error message ever quotes a configured *value*.

Also: setting one of ``schedule.interval_minutes``, ``schedule.cron`` and
``schedule.interval_seconds`` from the environment drops the others from the file, because they
are alternatives.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError,
                      ValidationInfo, field_validator, model_validator)

from syncd.core.errors import ConfigError, Problem
from .yamlsource import (Loc, YamlDocument, explain_validation_error, load_yaml, render_loc,
                         unknown_key_hint)

__all__ = [
    "Settings", "HubSpotSettings", "SalesforceSettings", "SalesforceAuth", "TlsSettings",
    "StateSettings", "SyncSettings", "ScheduleSettings", "LoggingSettings", "MetricsSettings",
    "DEFAULT_SEARCH_PATH", "NON_SETTING_VARIABLES", "search_path", "find_config",
    "load_settings", "settings_json_schema", "env_var_name",
]

ENV_PREFIX = "SYNCD_"
NON_SETTING_VARIABLES = frozenset({"SYNCD_CONFIG"})      # SYNCD_* variables that are not settings
BUNDLED_MAPPING = "hubspot-to-salesforce.yaml"
MIN_API_VERSION = 46.0                                    # sObject Collections upsert
_MAX_SECRET_FILE_BYTES = 1 << 20


def env_var_name(loc: Loc) -> str:
    """``('hubspot', 'access_token')`` -> ``SYNCD_HUBSPOT__ACCESS_TOKEN``."""
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


# --------------------------------------------------------------------------------------------
# Models. Every section forbids unknown keys; validators explain in plain words and never
# quote the value they reject.

_NO_VERIFY = ("TLS certificate verification cannot be disabled in syncd; if a corporate proxy "
              "re-signs HTTPS traffic, add its CA certificate with tls.ca_bundle")
_VERIFY_HINTS = {key: _NO_VERIFY for key in (
    "verify", "verify_ssl", "ssl_verify", "verify_tls", "tls_verify", "verify_certificates",
    "insecure", "skip_verify", "insecure_skip_verify", "disable_verification")}


class _Section(BaseModel):
    # Admins write `client_id: 12345` or `pipeline: 2024`: numbers are fine where text is due.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_section(cls, data: Any) -> Any:
        # A section whose keys are all commented out ("tls:" alone) is YAML null: use defaults.
        return {} if data is None else data


def _subsection() -> Any:
    """Default for a section: an empty mapping that is *validated*, so the section's own
    defaults and checks (e.g. missing credentials) run even when the file omits it."""
    return Field(default_factory=dict, validate_default=True)


def _require(info: ValidationInfo) -> bool:
    return bool((info.context or {}).get("require_credentials"))


def _how_to_set(loc: Loc, credential: str | None = None, *, secret: bool = True) -> str:
    ways = [env_var_name(loc)]
    if secret:
        ways[0] += f" (or {env_var_name(loc)}_FILE)"
        ways.append(f"{render_loc(loc)}_file in the config file")
    else:
        ways.append(f"{render_loc(loc)} in the config file")
    if credential:
        ways.append(f"a systemd credential named '{credential}' (LoadCredential=)")
    return "set " + ", or ".join(ways)


def _check_url(value: str, example: str) -> str:
    """https only; plain http only to this machine, for emulators and local testing."""
    value = value.strip()
    parts = urlsplit(value)
    try:
        parts.port
    except ValueError:
        raise ValueError(f"has an invalid port; expected a URL like {example}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"must be a URL starting with https://, like {example}")
    if parts.username or parts.password:
        raise ValueError("must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("must not contain '?' or '#'")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ValueError("must use https:// - plain http would send credentials unencrypted; "
                         "http:// is only allowed for 127.0.0.1, localhost or [::1] (local "
                         "testing)")
    return value.rstrip("/")


def _existing_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise ValueError(f"{what} not found: {path}")
    if not path.is_file():
        raise ValueError(f"{what} is not a file: {path}")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{what} is not readable by the user running syncd: {path}")
    return path


class HubSpotSettings(_Section):
    UNKNOWN_KEY_HINTS: ClassVar[dict[str, str]] = _VERIFY_HINTS

    base_url: str = Field("https://api.hubapi.com", description="HubSpot API base URL.")
    access_token: SecretStr | None = Field(
        None, validate_default=True, description="Private-app access token (secret).")
    access_token_file: Path | None = Field(None, description="File holding the access token.")
    timeout_seconds: float = Field(30.0, gt=0, le=600, description="Per-request timeout.")
    max_retries: int = Field(5, ge=0, le=20, description="Retries for transient failures.")
    search_requests_per_second: float = Field(
        4.0, gt=0, le=5, description="Search API pace; HubSpot allows 5 per second.")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, "https://api.hubapi.com")

    @field_validator("access_token")
    @classmethod
    def _token_required(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None and _require(info):
            raise ValueError("no HubSpot access token: " + _how_to_set(
                ("hubspot", "access_token"), "hubspot_access_token"))
        return value


Flow = Literal["client_credentials", "jwt_bearer"]


class SalesforceAuth(_Section):
    """OAuth settings for the connected app. Which keys apply depends on ``flow``."""

    # Keys that belong to one flow only; they are an error with the other flow.
    _ONLY_FOR: ClassVar[dict[str, str]] = {
        "client_secret": "client_credentials", "client_secret_file": "client_credentials",
        "username": "jwt_bearer", "private_key": "jwt_bearer", "private_key_file": "jwt_bearer"}
    _CREDENTIAL: ClassVar[dict[str, str]] = {
        "client_secret": "salesforce_client_secret", "private_key": "salesforce_private_key"}

    flow: Flow | None = Field(None, validate_default=True,
                              description="client_credentials or jwt_bearer.")
    client_id: str | None = Field(None, validate_default=True,
                                  description="Connected app consumer key.")
    client_secret: SecretStr | None = Field(
        None, validate_default=True, description="Consumer secret (client_credentials; secret).")
    client_secret_file: Path | None = Field(None, validate_default=True)
    username: str | None = Field(None, validate_default=True,
                                 description="Integration user (jwt_bearer).")
    private_key: SecretStr | None = Field(
        None, validate_default=True, description="RSA private key PEM text (jwt_bearer; secret).")
    private_key_file: Path | None = Field(None, validate_default=True,
                                          description="RSA private key PEM file (jwt_bearer).")

    @field_validator("flow")
    @classmethod
    def _flow_required(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and _require(info):
            raise ValueError("required: set salesforce.auth.flow to client_credentials or "
                             "jwt_bearer (or SYNCD_SALESFORCE__AUTH__FLOW)")
        return value

    @field_validator("client_id")
    @classmethod
    def _client_id_required(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and _require(info):
            raise ValueError("no Salesforce client id (consumer key): " + _how_to_set(
                ("salesforce", "auth", "client_id"), secret=False))
        return value

    @field_validator("client_secret", "client_secret_file", "username", "private_key",
                     "private_key_file")
    @classmethod
    def _per_flow(cls, value: Any, info: ValidationInfo) -> Any:
        flow, name = info.data.get("flow"), info.field_name or ""
        wanted = cls._ONLY_FOR[name]
        if value is not None and flow is not None and flow != wanted:
            raise ValueError(f"only used with flow: {wanted} (this config uses {flow}); "
                             "remove it")
        if value is None and flow == wanted and _require(info) and not name.endswith("_file"):
            what = {"client_secret": "no Salesforce client secret",
                    "private_key": "no Salesforce private key",
                    "username": "no Salesforce username for the JWT bearer flow"}[name]
            loc = ("salesforce", "auth", name)
            how = (_how_to_set(loc, secret=False) if name == "username"
                   else _how_to_set(loc, cls._CREDENTIAL[name]))
            raise ValueError(f"{what}: {how}")
        return value


class SalesforceSettings(_Section):
    UNKNOWN_KEY_HINTS: ClassVar[dict[str, str]] = _VERIFY_HINTS

    login_url: str = Field("https://login.salesforce.com", description=(
        "Login or My Domain URL, e.g. https://acme.my.salesforce.com"))
    api_version: str = Field("62.0", description='REST API version like "62.0"; 46.0 or newer.')
    auth: SalesforceAuth = _subsection()
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    max_retries: int = Field(5, ge=0, le=20)

    @field_validator("login_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, "https://login.salesforce.com")

    @field_validator("api_version", mode="before")
    @classmethod
    def _api_version(cls, value: Any) -> str:
        # YAML reads 62.0 as a float; accept it, and "v62.0" copied from a URL.
        bad = 'must be a Salesforce API version like "62.0"'
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(bad)
        text = str(float(value)) if isinstance(value, int | float) else value.strip().lstrip("vV")
        match = re.fullmatch(r"(\d{1,3})(?:\.(\d{1,2}))?", text)
        if not match:
            raise ValueError(bad)
        version = f"{int(match[1])}.{int(match[2] or 0)}"
        if float(version) < MIN_API_VERSION:
            raise ValueError(f"is {version}; must be {MIN_API_VERSION} or newer (syncd needs "
                             "sObject Collections upsert)")
        return version


class TlsSettings(_Section):
    UNKNOWN_KEY_HINTS: ClassVar[dict[str, str]] = _VERIFY_HINTS

    ca_bundle: Path | None = Field(
        None, description="Extra CA certificates (PEM) trusted for HubSpot and Salesforce.")

    @field_validator("ca_bundle")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        return None if value is None else _existing_file(value, "CA bundle")


def default_state_directory(env: Mapping[str, str]) -> Path:
    """$STATE_DIRECTORY (systemd StateDirectory=) > $XDG_STATE_HOME/syncd > ~/.local/state/syncd."""
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])   # systemd joins several with ':'
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():                      # the XDG spec says ignore relative
        return Path(xdg) / "syncd"
    return _home(env) / ".local" / "state" / "syncd"


class StateSettings(_Section):
    # None in the schema only: the "before" validator always fills both from the environment.
    directory: Path = Field(None, validate_default=True,  # type: ignore[assignment]
                            description="Where syncd keeps its state; default from "
                                        "$STATE_DIRECTORY, $XDG_STATE_HOME or ~/.local/state.")
    database_url: SecretStr = Field(None, validate_default=True,  # type: ignore[assignment]
                                    description="SQLAlchemy URL; default: sqlite file syncd.db "
                                                "in the state directory. Secret (password).")
    database_url_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any, info: ValidationInfo) -> Any:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("directory") is None:
            env = (info.context or {}).get("env", os.environ)
            data["directory"] = str(default_state_directory(env))
        if data.get("database_url") is None and isinstance(data["directory"], str | Path):
            data["database_url"] = f"sqlite:///{Path(data['directory']) / 'syncd.db'}"
        return data

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme == "sqlite":
            if url != "sqlite://" and not url.startswith("sqlite:////"):
                raise ValueError("a sqlite path must be absolute: sqlite:////var/lib/syncd/"
                                 "syncd.db (four slashes)")
        elif scheme not in ("postgresql", "postgresql+psycopg"):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
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
    dry_run: bool = Field(False, description="Read and plan both legs, but write nothing to Salesforce or HubSpot.")

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
        data = {} if data is None else data
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
        from apscheduler.triggers.cron import CronTrigger   # heavy import; only when used
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"is not a valid cron expression ({exc}); expected 5 fields: "
                             "minute hour day-of-month month day-of-week") from None
        return value


class LoggingSettings(_Section):
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console on a terminal, JSON otherwise.")
    level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("format", "level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def _split_listen(value: str) -> tuple[str, int]:
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([A-Za-z0-9.-]+):(\d{1,5})", value)
    if not match:
        raise ValueError('must be host:port, like "127.0.0.1:9464" or "[::1]:9464"')
    host, port = (match[1], match[2]) if match[1] else (match[3], match[4])
    if match[1]:
        ipaddress.IPv6Address(host)          # raises ValueError, reported by the caller
    if not 1 <= int(port) <= 65535:
        raise ValueError("port must be between 1 and 65535")
    return host, int(port)


class MetricsSettings(_Section):
    listen: str | None = Field(None, description='Prometheus endpoint, e.g. "127.0.0.1:9464"; '
                                                 "null turns metrics off.")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _split_listen(value.strip())
            except ValueError as exc:
                raise ValueError(str(exc) if "host:port" in str(exc) or "port" in str(exc)
                                 else "is not a valid IPv6 address") from None
        return value.strip() if value else value

    @property
    def address(self) -> tuple[str, int] | None:
        return _split_listen(self.listen) if self.listen else None

    @property
    def is_loopback(self) -> bool:
        """False for an address other machines can reach; the caller logs a warning then."""
        if not self.address:
            return True
        host = self.address[0]
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"


def default_mapping_path() -> Path:
    """The mapping shipped in the package (``mappings/hubspot-to-salesforce.yaml``)."""
    try:
        return Path(str(resources.files("mappings") / BUNDLED_MAPPING))
    except (ModuleNotFoundError, TypeError):
        return Path(__file__).resolve().parent.parent / "mappings" / BUNDLED_MAPPING


class Settings(_Section):
    """Everything syncd needs at run time. Build it with ``load_settings``."""

    UNKNOWN_KEY_HINTS: ClassVar[dict[str, str]] = _VERIFY_HINTS

    mapping: Path = Field(default_factory=default_mapping_path,
                          description="Mapping file; default: the one bundled with syncd.")
    hubspot: HubSpotSettings = _subsection()
    salesforce: SalesforceSettings = _subsection()
    tls: TlsSettings = _subsection()
    state: StateSettings = _subsection()
    sync: SyncSettings = _subsection()
    schedule: ScheduleSettings = _subsection()
    logging: LoggingSettings = _subsection()
    metrics: MetricsSettings = _subsection()

    _config_path: Path | None = PrivateAttr(default=None)

    @field_validator("mapping")
    @classmethod
    def _mapping_exists(cls, value: Path) -> Path:
        return _existing_file(value, "mapping file")     # only runs for a configured mapping

    @property
    def config_path(self) -> Path | None:
        """The YAML file these settings came from, or None (environment and defaults only)."""
        return self._config_path

    def secret_values(self) -> list[str]:
        """Every secret string, so logging can scrub them from messages."""
        auth = self.salesforce.auth
        secrets = [s.get_secret_value() for s in (
            self.hubspot.access_token, auth.client_secret, auth.private_key) if s is not None]
        password = urlsplit(self.state.database_url.get_secret_value()).password
        if password:
            secrets += [password, unquote(password)]      # as written and as sent
        return [s for i, s in enumerate(secrets) if s and s not in secrets[:i]]


def settings_json_schema() -> dict[str, Any]:
    """JSON Schema of syncd.yaml, for documentation and editor completion."""
    return Settings.model_json_schema()


# --------------------------------------------------------------------------------------------
# Finding the file


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def search_path(env: Mapping[str, str]) -> list[Path]:
    """./syncd.yaml, $XDG_CONFIG_HOME/syncd/syncd.yaml (~/.config/...), /etc/syncd/syncd.yaml."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    config_home = Path(xdg) if xdg and Path(xdg).is_absolute() else _home(env) / ".config"
    return [Path("syncd.yaml"), config_home / "syncd" / "syncd.yaml",
            Path("/etc/syncd/syncd.yaml")]


DEFAULT_SEARCH_PATH: list[Path] = search_path(os.environ)


def find_config(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """--config (must exist) > $SYNCD_CONFIG (must exist) > first file in the search path >
    None, in which case settings come from the environment and defaults."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(Problem(str(path), "", "config file not found"
                                      if not path.exists() else "is not a file"))
        return path
    if env.get("SYNCD_CONFIG"):
        path = Path(env["SYNCD_CONFIG"])
        if not path.is_file():
            raise ConfigError(Problem("environment", "", f"SYNCD_CONFIG points to {path}, "
                                      "which is not an existing file"))
        return path
    return next((p for p in search_path(env) if p.is_file()), None)


# --------------------------------------------------------------------------------------------
# Loading: YAML layer + environment layer + secret files, then one validation pass


def _leaves(model: type[BaseModel] = Settings, prefix: Loc = ()) -> dict[Loc, Any]:
    """Every settable key as a loc, with its annotation (sections are not leaves)."""
    out: dict[Loc, Any] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.update(_leaves(annotation, prefix + (name,)))
        else:
            out[prefix + (name,)] = annotation
    return out


_LEAVES = _leaves()
_SECTIONS = {loc[:i] for loc in _LEAVES for i in range(1, len(loc))}
_PATH_LEAVES = [loc for loc, tp in _LEAVES.items() if tp in (Path, Path | None)]


@dataclass(frozen=True)
class _Secret:
    section: Loc
    name: str
    credential: str                 # file name in $CREDENTIALS_DIRECTORY
    flow: str | None = None         # a Salesforce secret only needed by this auth flow

    @property
    def loc(self) -> Loc:
        return self.section + (self.name,)

    @property
    def file_loc(self) -> Loc:
        return self.section + (self.name + "_file",)


SECRETS = (
    _Secret(("hubspot",), "access_token", "hubspot_access_token"),
    _Secret(("salesforce", "auth"), "client_secret", "salesforce_client_secret",
            "client_credentials"),
    _Secret(("salesforce", "auth"), "private_key", "salesforce_private_key", "jwt_bearer"),
    _Secret(("state",), "database_url", "state_database_url"),
)


@dataclass(frozen=True)
class _Origin:
    """Where a final value came from, so problems point at the right place."""

    source: str                     # config file path, "environment" or a secret file path
    yaml_loc: Loc | None = None     # where to look in the YAML file
    variable: str | None = None     # the environment variable that set it


class _Loader:
    def __init__(self, path: Path | None, env: Mapping[str, str], require_credentials: bool):
        self.env = env
        self.require_credentials = require_credentials
        self.doc: YamlDocument | None = load_yaml(path) if path is not None else None
        self.base_dir = Path(path).absolute().parent if path is not None else Path.cwd()
        self.problems: list[Problem] = []
        self.origins: dict[Loc, _Origin] = {}
        self.skip: set[Loc] = set()     # already reported (e.g. unreadable secret file)

    # -- problems at a place --------------------------------------------------------------
    def env_problem(self, loc: Loc, variable: str, message: str) -> None:
        self.problems.append(Problem("environment", render_loc(loc), f"{message} (from "
                                                                      f"{variable})"))

    def yaml_problem(self, loc: Loc, message: str, *, at: Loc | None = None,
                     at_key: bool = False) -> None:
        assert self.doc is not None
        at = loc if at is None else at
        where = self.doc.key_position(at) if at_key else self.doc.position(at)
        self.problems.append(Problem(self.doc.source, render_loc(loc), message, *where))

    # -- the layers -----------------------------------------------------------------------
    def env_layer(self) -> dict[Loc, tuple[str, str]]:
        """SYNCD_* variables as {loc: (variable, value)}; unknown names are problems."""
        layer = {}
        for variable, value in sorted(self.env.items()):
            if not variable.startswith(ENV_PREFIX) or variable in NON_SETTING_VARIABLES:
                continue
            loc = tuple(part.lower() for part in variable[len(ENV_PREFIX):].split("__"))
            if loc in _LEAVES:
                if value != "":                          # empty means "not set"
                    layer[loc] = (variable, value)
            elif loc in _SECTIONS:
                example = env_var_name(next(leaf for leaf in _LEAVES if leaf[:len(loc)] == loc))
                self.problems.append(Problem("environment", "", f"{variable} names a section, "
                                             f"not a setting; set its keys, e.g. {example}"))
            else:
                self.problems.append(Problem("environment", "", self._unknown_variable(
                    variable, loc)))
        return layer

    @staticmethod
    def _unknown_variable(variable: str, loc: Loc) -> str:
        message = f"unknown variable {variable}"
        names = [env_var_name(leaf) for leaf in _LEAVES] + sorted(NON_SETTING_VARIABLES)
        close = difflib.get_close_matches(variable, names, n=1, cutoff=0.75)
        if close:
            message += f" (did you mean {close[0]}?)"
        model: Any = Settings
        for part in loc[:-1]:
            field = model.model_fields.get(part) if isinstance(model, type) else None
            model = field.annotation if field else None
        hint = unknown_key_hint(model, loc[-1]) if isinstance(model, type) and \
            issubclass(model, BaseModel) else None
        return f"{message}; {hint}" if hint else message

    def resolve_path(self, raw: str, base: Path) -> str:
        if raw == "~" or raw.startswith("~/"):
            raw = str(_home(self.env)) + raw[1:]
        path = Path(raw)
        return str(path if path.is_absolute() else base / path)

    def read_secret_file(self, path: Path) -> tuple[str | None, str | None]:
        """(text, None) or (None, what went wrong). Trailing newlines are stripped."""
        try:
            if path.stat().st_size > _MAX_SECRET_FILE_BYTES:
                return None, f"{path} is too large to be a secret (over 1 MiB)"
            text = path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            return None, f"file not found: {path}"
        except IsADirectoryError:
            return None, f"{path} is a directory, not a file"
        except PermissionError:
            return None, f"permission denied reading {path} (the user running syncd needs " \
                         "read access)"
        except OSError as exc:
            return None, f"cannot read {path}: {exc.strerror or exc}"
        except UnicodeDecodeError:
            return None, f"{path} is not UTF-8 text"
        text = text.rstrip("\r\n")
        if not text.strip():
            return None, f"{path} is empty"
        return text, None

    def resolve_secret(self, spec: _Secret, data: dict[str, Any],
                       env_layer: dict[Loc, tuple[str, str]], flow: Any) -> None:
        if spec.flow is not None and flow is not None and flow != spec.flow:
            return   # the other flow's secret: leave it for the model to reject if it is set
        section = _section(data, spec.section, create=False)
        env_value = env_layer.pop(spec.loc, None)
        env_file = env_layer.pop(spec.file_loc, None)
        yaml_value = section.get(spec.name) if section is not None else None
        yaml_file = section.get(spec.name + "_file") if section is not None else None
        if env_value and env_file:
            self.problems.append(Problem("environment", render_loc(spec.loc), f"set only one of "
                                         f"{env_value[0]} and {env_file[0]}"))
        if yaml_value is not None and yaml_file is not None and self.doc is not None:
            self.yaml_problem(spec.loc, f"set only one of '{spec.name}' and "
                                        f"'{spec.name}_file'", at=spec.file_loc, at_key=True)
        credentials = self.env.get("CREDENTIALS_DIRECTORY")
        credential = Path(credentials) / spec.credential if credentials else None

        if env_value:
            value, origin = env_value[1], _Origin("environment", variable=env_value[0])
            file_used = None
        elif env_file:
            file_used = self.resolve_path(env_file[1], Path.cwd())
            origin = _Origin("environment", variable=env_file[0])
            value, error = self.read_secret_file(Path(file_used))
            if error:
                self.env_problem(spec.file_loc, env_file[0], error)
        elif yaml_value is not None:
            return                                   # already in data, positions as written
        elif isinstance(yaml_file, str):             # not a str: the model reports the type
            file_used = yaml_file                    # resolved against the config folder
            origin = _Origin(self.doc.source if self.doc else "", yaml_loc=spec.file_loc)
            value, error = self.read_secret_file(Path(file_used))
            if error:
                self.yaml_problem(spec.file_loc, error)
        elif credential is not None and credential.is_file():
            file_used = str(credential)
            origin = _Origin(str(credential))
            value, error = self.read_secret_file(credential)
            if error:
                self.problems.append(Problem(str(credential), render_loc(spec.loc), error))
        else:
            return
        if value is None:
            self.skip.add(spec.loc)                  # reported; don't also say "missing"
        section = _section(data, spec.section, create=True)
        if section is None:
            return
        section[spec.name] = value
        section[spec.name + "_file"] = file_used
        self.origins[spec.loc] = origin
        if file_used is not None:
            self.origins[spec.file_loc] = origin

    def build(self) -> dict[str, Any]:
        data = copy.deepcopy(self.doc.data) if self.doc is not None else {}
        for loc in _PATH_LEAVES:                      # YAML paths: relative to the file's folder
            section = _section(data, loc[:-1], create=False)
            if section is not None and isinstance(section.get(loc[-1]), str):
                section[loc[-1]] = self.resolve_path(section[loc[-1]], self.base_dir)
        env_layer = self.env_layer()
        flow_env = env_layer.get(("salesforce", "auth", "flow"))
        auth = _section(data, ("salesforce", "auth"), create=False)
        flow = flow_env[1] if flow_env else (auth or {}).get("flow")
        for spec in SECRETS:
            self.resolve_secret(spec, data, env_layer, flow)
        # interval_minutes, cron and interval_seconds are alternatives: one from the
        # environment replaces the others from the file.
        for key in ScheduleSettings.ALTERNATIVES:
            schedule = _section(data, ("schedule",), create=False)
            if ("schedule", key) in env_layer and schedule is not None:
                for other in ScheduleSettings.ALTERNATIVES:
                    if other != key and ("schedule", other) not in env_layer:
                        schedule.pop(other, None)
        for loc, (variable, value) in env_layer.items():
            section = _section(data, loc[:-1], create=True)
            if section is None:
                continue
            section[loc[-1]] = self.resolve_path(value, Path.cwd()) if loc in _PATH_LEAVES \
                else value
            self.origins[loc] = _Origin("environment", variable=variable)
        return data

    def problem_for(self, loc: Loc, message: str, at_key: bool) -> Problem | None:
        if any(loc[:i] in self.skip for i in range(1, len(loc) + 1)):
            return None
        origin = next((self.origins[loc[:i]] for i in range(len(loc), 0, -1)
                       if loc[:i] in self.origins), None)
        if origin is not None and origin.variable:
            return Problem("environment", render_loc(loc), f"{message} (from {origin.variable})")
        if origin is not None and origin.yaml_loc is None:
            return Problem(origin.source, render_loc(loc), message)   # a credentials file
        if self.doc is None:
            return Problem("environment", render_loc(loc), message)   # defaults, no file
        yaml_loc = origin.yaml_loc if origin is not None and origin.yaml_loc else loc
        where = self.doc.key_position(yaml_loc) if at_key else self.doc.position(yaml_loc)
        return Problem(self.doc.source, render_loc(loc), message, *where)


def _section(data: dict[str, Any], loc: Loc, *, create: bool) -> dict[str, Any] | None:
    """The dict at loc inside data; with create, make missing (or non-mapping) levels."""
    for part in loc:
        child = data.get(part)
        if not isinstance(child, dict):
            if not create:
                return None
            child = data[part] = {}
        data = child
    return data


def load_settings(path: Path | None, env: Mapping[str, str] = os.environ, *,
                  require_credentials: bool = True) -> Settings:
    """Build Settings from the config file at ``path`` (None: environment and defaults only),
    the environment and secret files. Raises ConfigError listing every problem found.

    ``require_credentials=False`` is for commands that never call HubSpot or Salesforce
    (``mapping validate``, ``status``): missing tokens and keys are then not problems.
    """
    loader = _Loader(path, env, require_credentials)      # YAML syntax errors raise here
    data = loader.build()
    settings = None
    try:
        settings = Settings.model_validate(data, context={
            "env": env, "require_credentials": require_credentials})
    except ValidationError as exc:
        for info in explain_validation_error(exc, model=Settings, data=data):
            problem = loader.problem_for(info.loc, info.message, info.at_key)
            if problem is not None:
                loader.problems.append(problem)
    if loader.problems or settings is None:
        # File problems in file order first, then the environment's.
        ordered = sorted(loader.problems, key=lambda p: (
            p.source == "environment", p.source, p.line or 0, p.column or 0))
        raise ConfigError(ordered)
    settings._config_path = Path(path) if path is not None else None
    return settings
