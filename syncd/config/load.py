"""Finding ``syncd.yaml`` and building ``Settings`` from it, the environment and secret files.

Where each value comes from, highest precedence first (``syncd.config.sources`` has the details):

1. ``SYNCD_<SECTION>__<KEY>`` environment variables, e.g. ``SYNCD_SYNC__LOOKBACK_MINUTES=30``
   or ``SYNCD_SALESFORCE__AUTH__CLIENT_ID``. An empty variable counts as not set. Any other
   ``SYNCD_*`` variable (except ``SYNCD_CONFIG``) is an error, so typos are caught instead of
   silently ignored.
2. The YAML config file (see ``syncd.example.yaml``). Relative paths in it resolve against the
   file's folder; relative paths from the environment resolve against the working directory.
3. systemd credentials, for secrets only.
4. Defaults, some of them from the systemd environment (``$STATE_DIRECTORY``).

Secrets (HubSpot token, Salesforce client secret and private key, database URL) can also come
from files, for each secret ``x``: env ``x`` > env ``x_FILE`` > YAML ``x`` > YAML ``x_file`` >
``$CREDENTIALS_DIRECTORY/<section>_<x>``. Setting both ``x`` and ``x_file`` at the same level is an
error. Secrets are ``SecretStr``: they never appear in reprs, and no error message ever quotes a
configured *value*.

Also: setting one of ``schedule.interval_minutes``, ``schedule.cron`` and
``schedule.interval_seconds`` from the environment drops the others from the file, because they
are alternatives.

Every problem is reported at once, each naming the file, line and column, the variable or the
credential file, and the dotted field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from syncd.core.errors import ConfigError, Problem

from .explain import explain_validation_error
from .locs import Loc, render_loc
from .models import Settings, home
from .names import LEAVES, section
from .secrets import missing_credentials, read_secret_files
from .sources import Layer, YamlLayer, merge_layers, settings_layers
from .yamlfile import load_yaml

__all__ = ["DEFAULT_SEARCH_PATH", "search_path", "find_config", "require_config", "load_settings"]


def search_path(env: Mapping[str, str]) -> list[Path]:
    """./syncd.yaml, $XDG_CONFIG_HOME/syncd/syncd.yaml (~/.config/...), /etc/syncd/syncd.yaml."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    config_home = Path(xdg) if xdg and Path(xdg).is_absolute() else home(env) / ".config"
    return [Path("syncd.yaml"), config_home / "syncd" / "syncd.yaml",
            Path("/etc/syncd/syncd.yaml")]


DEFAULT_SEARCH_PATH: list[Path] = search_path(os.environ)


def find_config(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """--config (must exist) > $SYNCD_CONFIG (must exist) > first file in the search path >
    None (``require_config``, which the commands use, makes that an error)."""
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


def require_config(explicit: Path | None, env: Mapping[str, str]) -> Path:
    """``find_config`` for the commands that need a config file: none found is an error naming
    every place searched, raised before anything (the state database) is created."""
    path = find_config(explicit, env)
    if path is None:
        places = ", ".join(str(p) if p.is_absolute() else f"./{p}" for p in search_path(env))
        raise ConfigError(Problem("", "", f"no config file found (searched {places}); pass --config FILE or "
                                  "set SYNCD_CONFIG, starting from syncd.example.yaml"))
    return path


def load_settings(path: Path | None, env: Mapping[str, str] = os.environ, *,
                  require_credentials: bool = True) -> Settings:
    """Build Settings from the config file at ``path`` (None: environment and defaults only),
    the environment and secret files. Raises ConfigError listing every problem found.

    ``require_credentials=False`` is for commands that never call HubSpot or Salesforce
    (``mapping validate``, ``status``): missing tokens and keys are then not problems.
    """
    doc = load_yaml(path) if path is not None else None     # YAML syntax errors raise here
    layers = settings_layers(doc, env)
    data = merge_layers(layers)
    read_from, unreadable = read_secret_files(data)
    problems = [problem for layer in layers for problem in layer.problems]

    def place(loc: Loc, message: str, at_key: bool = False) -> None:
        origin = read_from.get(loc, loc)
        if origin != loc:                       # a secret read from a file: name the file too
            message = f"{message} (in {(section(data, origin[:-1]) or {}).get(origin[-1])})"
        problems.append(_placed(layers, loc, message, at_key, origin))

    for spec, error in unreadable:
        place(spec.file_loc, error)
    if require_credentials:
        for loc, message in missing_credentials(data):
            place(loc, message)
    settings = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for info in explain_validation_error(exc, model=Settings, data=data):
            place(info.loc, info.message, info.at_key)
    if problems or settings is None:
        raise ConfigError(sorted(problems, key=_reading_order))
    settings._config_path = Path(path) if path is not None else None
    return settings


_FIELD_ORDER = {render_loc(leaf[:n]): i for i, leaf in reversed(list(enumerate(LEAVES)))
                for n in range(1, len(leaf) + 1)}


def _reading_order(problem: Problem) -> tuple[bool, str, int, int, int]:
    """File problems in file order first, then the environment's (variables that are no
    setting first, then in the order of the example file)."""
    field = problem.field
    while field and field not in _FIELD_ORDER:
        field = field.rpartition(".")[0]        # an unknown key: where its section is
    return (problem.source == "environment", problem.source, problem.line or 0,
            problem.column or 0, _FIELD_ORDER.get(field, -1))


def _placed(layers: Sequence[Layer], loc: Loc, message: str, at_key: bool,
            origin: Loc) -> Problem:
    """The problem with the value at ``loc``, told where it was set (``origin``: loc itself, or
    the ``x_file`` a secret was read from): by the highest layer that set it; else at the
    nearest place in the file; else (no file) in the environment."""
    for layer in layers:
        if layer.owns(origin):
            return layer.problem(loc, message, at=origin, at_key=at_key)
    for layer in layers:
        if isinstance(layer, YamlLayer):
            return layer.problem(loc, message, at=origin, at_key=at_key)
    return Problem("environment", render_loc(loc), message)
