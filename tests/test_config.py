"""Behaviour of syncd.config: layering, secrets, validation messages, search path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.config import (DEFAULT_SEARCH_PATH, Settings, find_config, load_settings,
                          search_path, settings_json_schema)
from syncd.core.errors import ConfigError, ExitCode, Problem

ROOT = Path(__file__).resolve().parent.parent

TOKEN = "pat-na1-0000-SECRET-TOKEN"
CLIENT_SECRET = "SECRET-client-secret-42"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvSECRETKEY\n-----END PRIVATE KEY-----"

CREDS = {  # enough for require_credentials=True with client_credentials
    "SYNCD_HUBSPOT__ACCESS_TOKEN": TOKEN,
    "SYNCD_SALESFORCE__AUTH__FLOW": "client_credentials",
    "SYNCD_SALESFORCE__AUTH__CLIENT_ID": "3MVG9-client-id",
    "SYNCD_SALESFORCE__AUTH__CLIENT_SECRET": CLIENT_SECRET,
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """A clean environment: nothing leaks in from the machine running the tests."""
    return {"HOME": str(home)}


def write(folder: Path, text: str, name: str = "syncd.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def config_error(path: Path | None, env: dict[str, str], **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env, **kwargs)
    assert info.value.exit_code == ExitCode.CONFIG_ERROR
    return info.value


def problem_for(error: ConfigError, field: str) -> Problem:
    matches = [p for p in error.problems if p.field == field]
    assert len(matches) == 1, error.render()
    return matches[0]


# ---------------------------------------------------------------------------------------------
# The example file and defaults


def test_example_config_is_valid_and_documents_every_key(env: dict[str, str]) -> None:
    example = ROOT / "syncd.example.yaml"
    settings = load_settings(example, {**env, **CREDS})
    assert settings.config_path == example
    assert settings.salesforce.api_version == "62.0"
    assert settings.schedule.interval_minutes == 15 and settings.schedule.cron is None
    assert settings.hubspot.access_token.get_secret_value() == TOKEN
    text = example.read_text()
    for section, model in Settings.model_fields.items():
        assert f"{section}:" in text
        sub = model.annotation
        for key in getattr(sub, "model_fields", {}):
            assert f"{key}:" in text, f"{section}.{key} is not documented in the example"


def test_defaults_without_a_file(env: dict[str, str], home: Path) -> None:
    settings = load_settings(None, {**env, **CREDS})
    assert settings.config_path is None
    assert settings.mapping.name == "hubspot-to-salesforce.yaml"
    assert settings.hubspot.base_url == "https://api.hubapi.com"
    assert settings.hubspot.search_requests_per_second == 5 and settings.hubspot.requests_per_ten_seconds == 190
    assert settings.salesforce.login_url == "https://login.salesforce.com"
    assert settings.state.directory == home / ".local/state/syncd"
    assert settings.state.database_url.get_secret_value() == \
        f"sqlite:///{home}/.local/state/syncd/syncd.db"
    assert (settings.sync.lookback_minutes, settings.sync.pipeline, settings.sync.dry_run) == (
        10, "hubspot-to-salesforce", False)
    assert (settings.logging.format, settings.logging.level) == ("auto", "info")
    assert settings.metrics.listen is None and settings.metrics.address is None


@pytest.mark.parametrize("extra, expected", [
    ({"STATE_DIRECTORY": "/var/lib/syncd:/var/lib/other"}, "/var/lib/syncd"),
    ({"XDG_STATE_HOME": "/xdg/state"}, "/xdg/state/syncd"),
    ({"XDG_STATE_HOME": "relative/ignored"}, "{home}/.local/state/syncd"),
    ({"STATE_DIRECTORY": "/srv/s", "XDG_STATE_HOME": "/xdg"}, "/srv/s"),
], ids=["systemd-state-directory", "xdg-state-home", "relative-xdg-ignored", "systemd-wins"])
def test_state_directory_default(env: dict[str, str], home: Path, extra: dict,
                                 expected: str) -> None:
    settings = load_settings(None, {**env, **extra}, require_credentials=False)
    assert settings.state.directory == Path(expected.format(home=home))
    assert settings.state.database_url.get_secret_value() == \
        f"sqlite:///{expected.format(home=home)}/syncd.db"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path,
                                                          env: dict[str, str]) -> None:
    write(tmp_path / "conf/maps", "fields: []\n", "m.yaml")
    write(tmp_path / "conf", "-----BEGIN CERTIFICATE-----\n", "ca.pem")
    path = write(tmp_path / "conf", "mapping: maps/m.yaml\ntls:\n  ca_bundle: ca.pem\n"
                                    "state:\n  directory: state\n")
    settings = load_settings(path, env, require_credentials=False)
    assert settings.mapping == tmp_path / "conf/maps/m.yaml"
    assert settings.tls.ca_bundle == tmp_path / "conf/ca.pem"
    assert settings.state.directory == tmp_path / "conf/state"
    assert settings.state.database_url.get_secret_value() == \
        f"sqlite:///{tmp_path}/conf/state/syncd.db"


def test_api_version_float_is_normalised(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "salesforce:\n  api_version: 61.0\n")
    assert load_settings(path, env, require_credentials=False).salesforce.api_version == "61.0"
    env["SYNCD_SALESFORCE__API_VERSION"] = "v60.0"
    assert load_settings(path, env, require_credentials=False).salesforce.api_version == "60.0"


# ---------------------------------------------------------------------------------------------
# Validation errors: file:line:column: field: message


@pytest.mark.parametrize("yaml, field, line, column, words", [
    ("hubspot:\n  acess_token: x\n", "hubspot.acess_token", 2, 3,
     "unknown key 'acess_token' (did you mean 'access_token'?)"),
    ("hubspot:\n  timeout_seconds: soon\n", "hubspot.timeout_seconds", 2, 20,
     "expected a number, got text"),
    ("hubspot:\n  max_retries: 100\n", "hubspot.max_retries", 2, 16, "must be at most 20"),
    ("hubspot:\n  search_requests_per_second: 10\n", "hubspot.search_requests_per_second",
     2, 31, "must be at most 5"),
    ("hubspot:\n  base_url: http://api.hubapi.com\n", "hubspot.base_url", 2, 13,
     "must use https://"),
    ("salesforce:\n  login_url: acme.my.salesforce.com\n", "salesforce.login_url", 2, 14,
     "must be a URL starting with https://"),
    ("salesforce:\n  login_url: https://u:p@login.salesforce.com\n", "salesforce.login_url",
     2, 14, "must not contain a user name or password"),
    ("salesforce:\n  api_version: 45.0\n", "salesforce.api_version", 2, 16,
     "must be 46.0 or newer"),
    ("salesforce:\n  api_version: latest\n", "salesforce.api_version", 2, 16,
     'like "62.0"'),
    ("salesforce:\n  auth:\n    flow: password\n", "salesforce.auth.flow", 3, 11,
     "must be one of 'client_credentials' or 'jwt_bearer'"),
    ("salesforce:\n  auth:\n    flow: client_credentials\n    username: bob\n",
     "salesforce.auth.username", 4, 15, "only used with flow: jwt_bearer"),
    ("tls:\n  verify: false\n", "tls.verify", 2, 3,
     "TLS certificate verification cannot be disabled"),
    ("hubspot:\n  verify_ssl: no\n", "hubspot.verify_ssl", 2, 3,
     "verification cannot be disabled"),
    ("tls:\n  ca_bundle: /nonexistent/ca.pem\n", "tls.ca_bundle", 2, 14,
     "CA bundle not found: /nonexistent/ca.pem"),
    ("mapping: nope.yaml\n", "mapping", 1, 10, "mapping file not found: {dir}/nope.yaml"),
    ("state:\n  database_url: mysql://db/syncd\n", "state.database_url", 2, 17,
     "must start with sqlite:/// or postgresql+psycopg://"),
    ("state:\n  database_url: sqlite:///rel.db\n", "state.database_url", 2, 17,
     "must be absolute"),
    ("sync:\n  lookback_minutes: 2000\n", "sync.lookback_minutes", 2, 21, "at most 1440"),
    ("sync:\n  pipeline: Leads Pipeline\n", "sync.pipeline", 2, 13,
     "lowercase letters, digits or '-'"),
    ("sync:\n  dry_run: maybe\n", "sync.dry_run", 2, 12, "expected true or false"),
    ("schedule:\n  interval_minutes: 5\n  cron: '*/5 * * * *'\n", "schedule.cron", 3, 9,
     "either schedule.interval_minutes or schedule.cron, not both"),
    ("schedule:\n  cron: '61 * * * *'\n", "schedule.cron", 2, 9, "not a valid cron expression"),
    ("schedule:\n  cron: '@hourly'\n", "schedule.cron", 2, 9, "expected 5 fields"),
    ("logging:\n  level: verbose\n", "logging.level", 2, 10,
     "must be one of 'debug', 'info', 'warning' or 'error'"),
    ("metrics:\n  listen: 9464\n", "metrics.listen", 2, 11, "must be host:port"),
    ("metrics:\n  listen: '127.0.0.1:99999'\n", "metrics.listen", 2, 11,
     "port must be between 1 and 65535"),
    ("metrics:\n  listen: '[nope]:9464'\n", "metrics.listen", 2, 11, "must be host:port"),
    ("hubspot: https://api.hubapi.com\n", "hubspot", 1, 10,
     "expected a mapping ('key: value' lines), got text"),
    ("colour: blue\n", "colour", 1, 1, "unknown key 'colour'"),
    # The stop-gap switch of development builds: the agreement file is the one switch now.
    ("sync:\n  track_activities: true\n", "sync.track_activities", 2, 3, "unknown key 'track_activities'"),
], ids=["unknown-key", "wrong-type", "too-many-retries", "search-rate-limit", "http-refused",
        "url-without-scheme", "url-with-credentials", "api-version-too-old",
        "api-version-not-a-version", "unknown-flow", "key-of-other-flow", "no-verify-switch",
        "no-verify-switch-hubspot", "missing-ca-bundle", "missing-mapping",
        "unsupported-database", "relative-sqlite", "lookback-range", "pipeline-name",
        "not-a-bool", "interval-and-cron", "invalid-cron", "cron-nickname", "log-level",
        "listen-port-only", "listen-port-range", "listen-bad-ipv6", "section-not-mapping",
        "unknown-top-level-key", "track-activities-is-gone"])
def test_file_problems(tmp_path: Path, env: dict[str, str], yaml: str, field: str, line: int,
                       column: int, words: str) -> None:
    path = write(tmp_path, yaml)
    problem = problem_for(config_error(path, env, require_credentials=False), field)
    assert (problem.source, problem.line, problem.column) == (str(path), line, column)
    assert words.format(dir=tmp_path) in problem.message
    assert str(problem).startswith(f"{path}:{line}:{column}: {field}: ")


@pytest.mark.parametrize("url", [
    "https://api.hubapi.com", "https://api.hubapi.com/", "http://127.0.0.1:8080",
    "http://localhost:5000", "http://[::1]:8443", "https://proxy.internal:8443/hubspot",
], ids=["https", "trailing-slash", "http-ipv4-loopback", "http-localhost", "http-ipv6-loopback",
        "https-with-path"])
def test_https_rule_accepts(env: dict[str, str], url: str) -> None:
    env["SYNCD_HUBSPOT__BASE_URL"] = url
    assert load_settings(None, env, require_credentials=False).hubspot.base_url == \
        url.rstrip("/")


@pytest.mark.parametrize("url", [
    "http://api.hubapi.com", "http://10.0.0.5:8080", "http://localhost.evil.com",
    "ftp://api.hubapi.com", "https://", "https://api.hubapi.com:notaport",
], ids=["http-public", "http-private-ip", "http-lookalike", "ftp", "no-host", "bad-port"])
def test_https_rule_refuses(env: dict[str, str], url: str) -> None:
    env["SYNCD_SALESFORCE__LOGIN_URL"] = url
    problem = problem_for(config_error(None, env, require_credentials=False),
                          "salesforce.login_url")
    assert problem.source == "environment"
    assert "SYNCD_SALESFORCE__LOGIN_URL" in problem.message


def test_all_problems_are_reported_at_once(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, """\
hubspot:
  acess_token: x
  timeout_seconds: soon
salesforce:
  api_version: 40.0
tls:
  verify: false
schedule:
  interval_minutes: 5
  cron: "*/5 * * * *"
logging:
  level: loud
""")
    env["SYNCD_SYNC__LOOKBACKMINUTES"] = "5"
    error = config_error(path, env)
    assert {p.field for p in error.problems} == {
        "hubspot.acess_token", "hubspot.timeout_seconds", "hubspot.access_token",
        "salesforce.api_version", "salesforce.auth.client_secret", "salesforce.auth.client_id",
        "tls.verify", "schedule.cron", "logging.level", ""}
    # File problems come in file order, then the environment's.
    lines = [p.line for p in error.problems if p.source == str(path)]
    assert lines == sorted(lines)
    assert error.problems[-1].source == "environment"
    assert error.render().startswith("10 problems:\n")


# ---------------------------------------------------------------------------------------------
# Environment overlay


def test_env_overrides_yaml_and_is_typed(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "sync:\n  lookback_minutes: 10\n  dry_run: false\n"
                           "logging:\n  level: info\n")
    env.update({"SYNCD_SYNC__LOOKBACK_MINUTES": "30", "SYNCD_SYNC__DRY_RUN": "true",
                "SYNCD_LOGGING__LEVEL": "DEBUG", "SYNCD_METRICS__LISTEN": "0.0.0.0:9464",
                "SYNCD_HUBSPOT__TIMEOUT_SECONDS": "2.5"})
    settings = load_settings(path, env, require_credentials=False)
    assert settings.sync.lookback_minutes == 30 and settings.sync.dry_run is True
    assert settings.logging.level == "debug"
    assert settings.hubspot.timeout_seconds == 2.5
    assert settings.metrics.address == ("0.0.0.0", 9464)
    assert settings.metrics.is_loopback is False


def test_empty_env_variable_counts_as_unset(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "sync:\n  lookback_minutes: 20\n")
    env["SYNCD_SYNC__LOOKBACK_MINUTES"] = ""
    assert load_settings(path, env, require_credentials=False).sync.lookback_minutes == 20


def test_env_cron_replaces_yaml_interval(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "schedule:\n  interval_minutes: 5\n")
    env["SYNCD_SCHEDULE__CRON"] = "0 * * * *"
    schedule = load_settings(path, env, require_credentials=False).schedule
    assert (schedule.cron, schedule.interval_minutes) == ("0 * * * *", None)


@pytest.mark.parametrize("variable, words", [
    ("SYNCD_HUBSPOT__ACESS_TOKEN",
     "unknown variable SYNCD_HUBSPOT__ACESS_TOKEN (did you mean SYNCD_HUBSPOT__ACCESS_TOKEN?)"),
    ("SYNCD_HUBSPOT_ACCESS_TOKEN", "did you mean SYNCD_HUBSPOT__ACCESS_TOKEN?"),
    ("SYNCD_TLS__VERIFY", "verification cannot be disabled"),
    ("SYNCD_SALESFORCE__AUTH", "names a section, not a setting"),
    ("SYNCD_SCHEDULE", "e.g. SYNCD_SCHEDULE__INTERVAL_MINUTES"),
], ids=["typo", "single-underscore", "verify", "section", "section-example"])
def test_unknown_env_variables_are_errors(env: dict[str, str], variable: str,
                                          words: str) -> None:
    env[variable] = "x"
    error = config_error(None, env, require_credentials=False)
    [problem] = error.problems
    assert problem.source == "environment" and variable in problem.message
    assert words in problem.message


def test_syncd_config_and_other_variables_are_not_settings(env: dict[str, str]) -> None:
    env.update({"SYNCD_CONFIG": "/nowhere.yaml", "PATH": "/bin", "SYNCDX": "1"})
    load_settings(None, env, require_credentials=False)


def test_env_value_errors_name_the_variable(env: dict[str, str]) -> None:
    env.update({"SYNCD_SYNC__LOOKBACK_MINUTES": "ten", "SYNCD_SCHEDULE__CRON": "often"})
    error = config_error(None, env, require_credentials=False)
    assert [str(p) for p in error.problems] == [
        "environment: sync.lookback_minutes: expected a whole number, got text "
        "(from SYNCD_SYNC__LOOKBACK_MINUTES)",
        "environment: schedule.cron: is not a valid cron expression (Wrong number of fields; "
        "got 1, expected 5); expected 5 fields: minute hour day-of-month month day-of-week "
        "(from SYNCD_SCHEDULE__CRON)"]


def test_env_relative_path_resolves_against_working_directory(
        tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "work", "-----BEGIN CERTIFICATE-----\n", "ca.pem")
    write(tmp_path / "conf", "", "ca.pem")                   # the config folder's: not used
    path = write(tmp_path / "conf", "tls:\n  ca_bundle: /nonexistent.pem\n")
    monkeypatch.chdir(tmp_path / "work")
    env["SYNCD_TLS__CA_BUNDLE"] = "ca.pem"
    assert load_settings(path, env, require_credentials=False).tls.ca_bundle == \
        tmp_path / "work/ca.pem"


# ---------------------------------------------------------------------------------------------
# Secrets: precedence, files, credentials directory

LAYERS = ("env", "env_file", "yaml", "yaml_file", "credentials")


def secret_setup(tmp_path: Path, env: dict[str, str], layers: tuple[str, ...]) -> Path:
    """Set the HubSpot token in the given layers, each with a value naming its layer."""
    files = tmp_path / "files"
    files.mkdir()
    yaml_lines = ["hubspot:"]
    if "env" in layers:
        env["SYNCD_HUBSPOT__ACCESS_TOKEN"] = "from-env"
    if "env_file" in layers:
        (files / "env-token").write_text("from-env-file\n")
        env["SYNCD_HUBSPOT__ACCESS_TOKEN_FILE"] = str(files / "env-token")
    if "yaml" in layers:
        yaml_lines.append("  access_token: from-yaml")
    if "yaml_file" in layers:
        (files / "yaml-token").write_text("from-yaml-file\n")
        yaml_lines.append("  access_token_file: files/yaml-token")
    if "credentials" in layers:
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "hubspot_access_token").write_text("from-credentials\n")
        env["CREDENTIALS_DIRECTORY"] = str(creds)
    return write(tmp_path, "\n".join(yaml_lines) + "\n")


@pytest.mark.parametrize("layers, expected", [
    (("env", "yaml_file", "credentials"), "from-env"),
    (("env_file", "yaml"), "from-env-file"),
    (("env", "yaml"), "from-env"),
    (("yaml", "credentials"), "from-yaml"),
    (("yaml_file", "credentials"), "from-yaml-file"),
    (("credentials",), "from-credentials"),
    (("env_file", "yaml_file", "credentials"), "from-env-file"),
], ids=["env-beats-all", "env-file-beats-yaml", "env-beats-yaml", "yaml-beats-credentials",
        "yaml-file-beats-credentials", "credentials-alone", "env-file-beats-yaml-file"])
def test_secret_precedence(tmp_path: Path, env: dict[str, str], layers: tuple,
                           expected: str) -> None:
    path = secret_setup(tmp_path, env, layers)
    settings = load_settings(path, env, require_credentials=False)
    assert settings.hubspot.access_token.get_secret_value() == expected   # newline stripped


@pytest.mark.parametrize("layers, source, words", [
    (("env", "env_file"), "environment",
     "set only one of SYNCD_HUBSPOT__ACCESS_TOKEN and SYNCD_HUBSPOT__ACCESS_TOKEN_FILE"),
    (("yaml", "yaml_file"), "yaml", "set only one of 'access_token' and 'access_token_file'"),
], ids=["env-level", "yaml-level"])
def test_secret_and_its_file_at_the_same_level(tmp_path: Path, env: dict[str, str],
                                               layers: tuple, source: str, words: str) -> None:
    path = secret_setup(tmp_path, env, layers)
    [problem] = config_error(path, env, require_credentials=False).problems
    assert problem.source == (str(path) if source == "yaml" else source)
    assert problem.field == "hubspot.access_token"
    assert words in problem.message
    if source == "yaml":
        assert (problem.line, problem.column) == (3, 3)


def test_secret_file_problems_are_reported_once(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "hubspot:\n  access_token_file: secrets/missing\n")
    (tmp_path / "empty").write_text("\n")
    env["SYNCD_SALESFORCE__AUTH__CLIENT_SECRET_FILE"] = str(tmp_path / "empty")
    env.update({"SYNCD_SALESFORCE__AUTH__FLOW": "client_credentials",
                "SYNCD_SALESFORCE__AUTH__CLIENT_ID": "id"})
    error = config_error(path, env)                       # credentials required
    assert [str(p) for p in error.problems] == [
        f"{path}:2:22: hubspot.access_token_file: file not found: {tmp_path}/secrets/missing",
        f"environment: salesforce.auth.client_secret_file: {tmp_path}/empty is empty "
        "(from SYNCD_SALESFORCE__AUTH__CLIENT_SECRET_FILE)"]


def test_a_secret_read_from_a_file_is_reported_where_the_file_was_named(
        tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "db-url").write_text(f"mysql://syncd:{TOKEN}@db/syncd\n")
    path = write(tmp_path, "state:\n  database_url_file: db-url\n")
    problem = problem_for(config_error(path, env, require_credentials=False),
                          "state.database_url")
    assert (problem.source, problem.line, problem.column) == (str(path), 2, 22)
    env["SYNCD_STATE__DATABASE_URL_FILE"] = str(tmp_path / "db-url")
    error = config_error(path, env, require_credentials=False)
    assert str(problem_for(error, "state.database_url")).endswith(
        "(from SYNCD_STATE__DATABASE_URL_FILE)")
    assert "SECRET" not in str(error)


def test_an_unreadable_credential_names_the_credential_file(tmp_path: Path,
                                                            env: dict[str, str]) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "hubspot_access_token").write_text("\n")
    env["CREDENTIALS_DIRECTORY"] = str(creds)
    [problem] = config_error(None, env, require_credentials=False).problems
    assert str(problem) == (f"{creds}/hubspot_access_token: hubspot.access_token: "
                            f"{creds}/hubspot_access_token is empty")


def test_an_empty_value_in_the_file_counts_as_unset(tmp_path: Path,
                                                    env: dict[str, str]) -> None:
    """Like an empty variable: the default applies, and a secret may still come from a systemd
    credential."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "hubspot_access_token").write_text(TOKEN + "\n")
    env["CREDENTIALS_DIRECTORY"] = str(creds)
    path = write(tmp_path, "hubspot:\n  base_url:\n  access_token: null\n"
                           "logging:\n  level: ~\n")
    settings = load_settings(path, env, require_credentials=False)
    assert settings.hubspot.base_url == "https://api.hubapi.com"
    assert settings.logging.level == "info"
    assert settings.hubspot.access_token.get_secret_value() == TOKEN


def test_a_wrong_value_in_the_file_is_not_replaced_by_a_credential(
        tmp_path: Path, env: dict[str, str]) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "hubspot_access_token").write_text(TOKEN + "\n")
    env["CREDENTIALS_DIRECTORY"] = str(creds)
    path = write(tmp_path, "hubspot:\n  access_token_file: [a, b]\n")
    [problem] = config_error(path, env, require_credentials=False).problems
    assert str(problem) == (f"{path}:2:22: hubspot.access_token_file: expected a file path, "
                            "got a list")


def test_credentials_directory_follows_the_flow(tmp_path: Path, env: dict[str, str]) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "hubspot_access_token").write_text(TOKEN + "\n")
    (creds / "salesforce_private_key").write_text(PEM + "\n")
    (creds / "salesforce_client_secret").write_text("unused-for-jwt\n")
    env.update({"CREDENTIALS_DIRECTORY": str(creds),
                "SYNCD_SALESFORCE__AUTH__FLOW": "jwt_bearer",
                "SYNCD_SALESFORCE__AUTH__CLIENT_ID": "id",
                "SYNCD_SALESFORCE__AUTH__USERNAME": "integration@acme.com"})
    settings = load_settings(None, env)
    auth = settings.salesforce.auth
    assert auth.private_key.get_secret_value() == PEM
    assert auth.private_key_file == creds / "salesforce_private_key"
    assert auth.client_secret is None                     # the other flow's file is ignored


def test_jwt_private_key_file_from_yaml(tmp_path: Path, env: dict[str, str]) -> None:
    write(tmp_path, PEM + "\n", "sf-key.pem")
    path = write(tmp_path, """\
hubspot:
  access_token: t
salesforce:
  auth:
    flow: jwt_bearer
    client_id: id
    username: integration@acme.com
    private_key_file: sf-key.pem
""")
    auth = load_settings(path, env).salesforce.auth
    assert auth.private_key.get_secret_value() == PEM
    assert auth.private_key_file == tmp_path / "sf-key.pem"


def test_require_credentials_false_needs_no_tokens(env: dict[str, str]) -> None:
    settings = load_settings(None, env, require_credentials=False)
    assert settings.hubspot.access_token is None and settings.salesforce.auth.flow == "client_credentials"
    assert settings.secret_values() == []


@pytest.mark.parametrize("flow, field, words", [
    ("client_credentials", "hubspot.access_token",
     ["SYNCD_HUBSPOT__ACCESS_TOKEN", "SYNCD_HUBSPOT__ACCESS_TOKEN_FILE",
      "hubspot.access_token_file", "'hubspot_access_token'"]),
    ("client_credentials", "salesforce.auth.client_secret",
     ["SYNCD_SALESFORCE__AUTH__CLIENT_SECRET", "salesforce.auth.client_secret_file",
      "'salesforce_client_secret'"]),
    ("jwt_bearer", "salesforce.auth.private_key",
     ["SYNCD_SALESFORCE__AUTH__PRIVATE_KEY", "salesforce.auth.private_key_file",
      "'salesforce_private_key'"]),
    ("jwt_bearer", "salesforce.auth.username", ["SYNCD_SALESFORCE__AUTH__USERNAME"]),
    (None, "salesforce.auth.client_secret", ["SYNCD_SALESFORCE__AUTH__CLIENT_SECRET"]),
    (None, "salesforce.auth.client_id", ["SYNCD_SALESFORCE__AUTH__CLIENT_ID"]),
], ids=["hubspot-token", "client-secret", "private-key", "jwt-username", "default-flow-secret", "client-id"])
def test_missing_credentials_say_how_to_provide_them(env: dict[str, str], flow: str | None,
                                                     field: str, words: list[str]) -> None:
    if flow:
        env["SYNCD_SALESFORCE__AUTH__FLOW"] = flow
    problem = problem_for(config_error(None, env), field)
    for word in words:
        assert word in problem.message


# ---------------------------------------------------------------------------------------------
# Secrets never leak


@pytest.mark.parametrize("yaml, extra_env", [
    (f"hubspot:\n  acces_token: {TOKEN}\n", {}),
    (f"hubspot:\n  access_token: [{TOKEN}]\n", {}),
    (f"hubspot:\n  access_token: {TOKEN}\n  access_token: {TOKEN}\n", {}),
    (f"hubspot:\n  access_token: {TOKEN}\n  access_token_file: /x\n", {}),
    (f"state:\n  database_url: mysql://u:{TOKEN}@db/x\n", {}),
    ("", {"SYNCD_STATE__DATABASE_URL": f"postgres://u:{TOKEN}@db/x"}),
    ("salesforce:\n  auth:\n    flow: jwt_bearer\n",
     {"SYNCD_SALESFORCE__AUTH__CLIENT_SECRET": TOKEN}),
    ("", {"SYNCD_HUBSPOT__ACCESS_TOKEN": TOKEN, "SYNCD_HUBSPOT__ACCESS_TOKEN_FILE": "/x"}),
    ("", {"SYNCD_HUBSPOT__ACESS_TOKEN": TOKEN}),
    (f"sync:\n  pipeline: {TOKEN}\nlogging:\n  level: {TOKEN}\n", {}),
    (f"hubspot:\n  access_token: {TOKEN}: x\n", {}),
], ids=["unknown-key", "wrong-type", "duplicate-key", "value-and-file", "bad-db-scheme",
        "bad-db-scheme-env", "secret-for-other-flow", "env-value-and-file", "env-typo",
        "secret-in-wrong-field", "syntax-error"])
def test_secrets_never_appear_in_errors(tmp_path: Path, env: dict[str, str], yaml: str,
                                        extra_env: dict[str, str]) -> None:
    path = write(tmp_path, yaml)
    error = config_error(path, {**env, **extra_env})
    assert TOKEN not in str(error) and TOKEN not in repr(error.problems)
    assert "SECRET-TOKEN" not in str(error)


def test_secrets_never_appear_in_repr_and_are_listed_for_scrubbing(
        tmp_path: Path, env: dict[str, str]) -> None:
    env.update(CREDS)
    env["SYNCD_STATE__DATABASE_URL"] = "postgresql+psycopg://syncd:p%40ss-SECRET@db/syncd"
    settings = load_settings(None, env)
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "SECRET" not in text
    assert set(settings.secret_values()) == {TOKEN, CLIENT_SECRET, "p%40ss-SECRET", "p@ss-SECRET"}
    assert settings.state.database_url_for_display() == \
        "postgresql+psycopg://syncd:***@db/syncd"


# ---------------------------------------------------------------------------------------------
# Finding the config file


def test_search_path(home: Path) -> None:
    assert search_path({"HOME": str(home)}) == [
        Path("syncd.yaml"), home / ".config/syncd/syncd.yaml", Path("/etc/syncd/syncd.yaml")]
    assert search_path({"HOME": str(home), "XDG_CONFIG_HOME": "/xdg"})[1] == \
        Path("/xdg/syncd/syncd.yaml")
    assert DEFAULT_SEARCH_PATH[0] == Path("syncd.yaml")
    assert DEFAULT_SEARCH_PATH[-1] == Path("/etc/syncd/syncd.yaml")


def test_find_config_order(tmp_path: Path, home: Path, env: dict[str, str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config(None, env) is None or find_config(None, env) == \
        Path("/etc/syncd/syncd.yaml")                    # nothing of ours; /etc is the machine's
    user = write(home / ".config/syncd", "{}\n")
    assert find_config(None, env) == user
    local = write(tmp_path, "{}\n")
    assert find_config(None, env) == Path("syncd.yaml")
    other = write(tmp_path / "elsewhere", "{}\n", "x.yaml")
    assert find_config(None, {**env, "SYNCD_CONFIG": str(other)}) == other
    explicit = write(tmp_path, "{}\n", "explicit.yaml")
    assert find_config(explicit, {**env, "SYNCD_CONFIG": str(other)}) == explicit
    assert local.exists()


def test_find_config_missing_files_are_errors(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        find_config(tmp_path / "nope.yaml", env)
    assert str(info.value) == f"{tmp_path}/nope.yaml: config file not found"
    with pytest.raises(ConfigError) as info:
        find_config(None, {**env, "SYNCD_CONFIG": str(tmp_path / "gone.yaml")})
    assert info.value.problems[0].source == "environment"
    assert "SYNCD_CONFIG" in str(info.value)


def test_yaml_syntax_errors_surface_from_load_settings(tmp_path: Path,
                                                       env: dict[str, str]) -> None:
    path = write(tmp_path, "hubspot:\n\taccess_token: x\n")
    assert str(config_error(path, env)) == (
        f"{path}:2:1: YAML syntax error: found a tab character; YAML needs spaces for "
        "indentation (and a space, not a tab, after ':' and '-')")


# ---------------------------------------------------------------------------------------------
# Schema


def test_json_schema_describes_the_file() -> None:
    schema = settings_json_schema()
    json.dumps(schema)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"mapping", "agreement", "hubspot", "salesforce", "tls", "state",
                                         "sync", "schedule", "logging", "metrics"}
    assert "config_path" not in json.dumps(schema)
    hubspot = schema["$defs"]["HubSpotSettings"]
    assert hubspot["additionalProperties"] is False
    assert hubspot["properties"]["access_token"]["anyOf"][0]["writeOnly"] is True
    assert "required" not in schema and "required" not in schema["$defs"]["StateSettings"]


def test_section_with_every_key_commented_out_uses_defaults(tmp_path: Path,
                                                            env: dict[str, str]) -> None:
    path = write(tmp_path, "tls:\n  # ca_bundle: /etc/ssl/corp.pem\nschedule:\nstate:\n")
    settings = load_settings(path, env, require_credentials=False)
    assert settings.tls.ca_bundle is None and settings.schedule.interval_minutes == 15


def test_settings_can_be_built_directly_for_tests_of_other_modules() -> None:
    settings = Settings.model_validate({"sync": {"dry_run": True},
                                        "state": {"directory": "/tmp/syncd-test"}})
    assert settings.sync.dry_run is True and settings.config_path is None
    assert settings.state.database_url.get_secret_value() == "sqlite:////tmp/syncd-test/syncd.db"


# ---------------------------------------------------------------------------------------------
# The Salesforce auth flow's default, and the size cap


def test_the_salesforce_auth_flow_defaults_to_client_credentials(env: dict[str, str]) -> None:
    """The README's default: with the flow left out, the client credentials flow's keys suffice."""
    creds = {k: v for k, v in CREDS.items() if k != "SYNCD_SALESFORCE__AUTH__FLOW"}
    settings = load_settings(None, {**env, **creds})
    assert settings.salesforce.auth.flow == "client_credentials"
    assert settings.salesforce.auth.client_secret.get_secret_value() == CLIENT_SECRET


def test_jwt_keys_without_a_flow_say_the_default_flow_does_not_use_them(tmp_path: Path,
                                                                      env: dict[str, str]) -> None:
    path = write(tmp_path, "salesforce:\n  auth:\n    client_id: id\n    username: me@acme.com\n")
    problem = problem_for(config_error(path, env, require_credentials=False), "salesforce.auth.username")
    assert problem.message == ("only used with flow: jwt_bearer (this config uses client_credentials); "
                               "remove it")


def test_a_config_over_one_mib_is_refused_before_it_is_parsed(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "sync:\n  pipeline: big\n" + "# padding\n" * 110_000)
    error = config_error(path, env, require_credentials=False)
    assert [str(p) for p in error.problems] == [
        f"{path}: the file is larger than 1 MiB; a config or mapping is a few KiB: is this the right file?"]
