"""The layers settings come from, highest first, merged the way pydantic-settings merges sources:

1. ``EnvLayer``: ``SYNCD_<SECTION>__<KEY>`` variables, parsed by pydantic-settings'
   ``EnvSettingsSource`` (prefix, ``__`` nesting, case, an empty variable counts as unset). Any
   other ``SYNCD_*`` variable (except ``NON_SETTING_VARIABLES``) is a problem, with "did you
   mean". Relative paths resolve against the working directory.
2. ``YamlLayer``: the config file. An empty (null) value counts as unset, like an empty
   variable, so ``tls:`` with every key commented out means the defaults. Relative paths resolve
   against the file's folder. A schedule alternative (``interval_minutes``, ``cron``,
   ``interval_seconds``) set by the environment drops the file's others.
3. ``CredentialsLayer``: ``$CREDENTIALS_DIRECTORY/<section>_<x>`` (systemd ``LoadCredential=``),
   for secrets no layer above mentions.
4. ``DefaultsLayer``: defaults that depend on the environment (the state directory).

Each layer can say where a value of its own came from (``problem``), so every problem names the
variable, the file position or the credential file that set the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource, PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from syncd.core.errors import Problem

from .explain import closest, unknown_key_hint
from .locs import Loc, render_loc
from .models import ScheduleSettings, Settings, default_state_directory, home
from .names import (DELIMITER, ENV_PREFIX, LEAVES, NON_SETTING_VARIABLES, PATH_LEAVES, SECTIONS,
                    env_var_name, owner_loc, section)
from .secrets import SECRETS, SecretSpec, flow_in, pair_secrets
from .yamlfile import YamlDocument

__all__ = ["Layer", "EnvLayer", "YamlLayer", "CredentialsLayer", "DefaultsLayer",
           "settings_layers", "merge_layers"]


class Layer(PydanticBaseSettingsSource):
    """One layer of settings that knows where each of its values came from."""

    def __init__(self, settings_cls: type[Settings], **kwargs: Any) -> None:
        self.data: dict[str, Any] = {}
        self.problems: list[Problem] = []
        super().__init__(settings_cls, **kwargs)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False          # layers build their whole dict in __call__

    def __call__(self) -> dict[str, Any]:
        self.data = self.build()
        pair_secrets(self.data, lambda spec: self.problems.append(self.conflict(spec)))
        return self.data

    def build(self) -> dict[str, Any]:
        raise NotImplementedError

    def owns(self, loc: Loc) -> bool:
        return owner_loc(self.data, loc) is not None

    def problem(self, loc: Loc, message: str, *, at: Loc | None = None,
                at_key: bool = False) -> Problem:
        """A problem with the value at ``loc``, which this layer set at ``at`` (default: loc;
        a secret read from a file was set at its ``x_file``)."""
        raise NotImplementedError

    def conflict(self, spec: SecretSpec) -> Problem:
        """Both ``x`` and ``x_file`` set in this layer."""
        raise NotImplementedError


def _resolve_paths(data: dict[str, Any], base: Path, home_dir: Path) -> None:
    for loc in PATH_LEAVES:
        here = section(data, loc[:-1])
        raw = here.get(loc[-1]) if here is not None else None
        if isinstance(raw, str):
            if raw == "~" or raw.startswith("~/"):
                raw = str(home_dir) + raw[1:]
            here[loc[-1]] = str(base / raw)     # type: ignore[index]  # absolute stays absolute


class EnvLayer(Layer, EnvSettingsSource):
    get_field_value = EnvSettingsSource.get_field_value    # not Layer's "nothing per field"

    def __init__(self, settings_cls: type[Settings], env: Mapping[str, str]) -> None:
        self._env = env
        self._names: dict[Loc, str] = {}        # loc -> the variable as it was spelled
        unknown = []
        for variable in sorted(env):
            if not variable.startswith(ENV_PREFIX) or variable in NON_SETTING_VARIABLES:
                continue
            loc = tuple(part.lower() for part in variable[len(ENV_PREFIX):].split(DELIMITER))
            if loc in LEAVES:
                self._names[loc] = variable
            else:
                unknown.append(Problem("environment", "", _unknown_variable(variable, loc)))
        super().__init__(settings_cls)
        self.problems += unknown

    def _load_env_vars(self) -> Mapping[str, str | None]:
        known = {name: self._env[name] for name in self._names.values()}
        return parse_env_vars(known, self.case_sensitive, self.env_ignore_empty,
                              self.env_parse_none_str)

    def build(self) -> dict[str, Any]:
        data = EnvSettingsSource.__call__(self)
        _resolve_paths(data, Path.cwd(), home(self._env))
        return data

    def problem(self, loc: Loc, message: str, *, at: Loc | None = None,
                at_key: bool = False) -> Problem:
        at = loc if at is None else at
        owner = owner_loc(self.data, at) or at
        variable = self._names.get(owner, env_var_name(owner))
        return Problem("environment", render_loc(loc), f"{message} (from {variable})")

    def conflict(self, spec: SecretSpec) -> Problem:
        return Problem("environment", render_loc(spec.loc), f"set only one of "
                       f"{self._names[spec.loc]} and {self._names[spec.file_loc]}")


def _unknown_variable(variable: str, loc: Loc) -> str:
    if loc in SECTIONS:
        example = env_var_name(next(leaf for leaf in LEAVES if leaf[:len(loc)] == loc))
        return f"{variable} names a section, not a setting; set its keys, e.g. {example}"
    message = f"unknown variable {variable}"
    names = [env_var_name(leaf) for leaf in LEAVES] + sorted(NON_SETTING_VARIABLES)
    close = closest(variable, names, cutoff=0.75)
    if close:
        message += f" (did you mean {close}?)"
    model: Any = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(model, type) else None
        model = field.annotation if field else None
    hint = unknown_key_hint(model, str(loc[-1])) if isinstance(model, type) else None
    return f"{message}; {hint}" if hint else message


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


class YamlLayer(Layer):
    def __init__(self, settings_cls: type[Settings], doc: YamlDocument,
                 env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.doc = doc
        self._home = home(env)

    def build(self) -> dict[str, Any]:
        data = _without_nulls(self.doc.data) if isinstance(self.doc.data, dict) else {}
        _resolve_paths(data, self.doc.path.absolute().parent, self._home)
        above = self.current_state              # what the environment set
        schedule, from_env = section(data, ("schedule",)), section(above, ("schedule",)) or {}
        if schedule is not None and any(key in from_env for key in ScheduleSettings.ALTERNATIVES):
            for key in ScheduleSettings.ALTERNATIVES:   # alternatives: one replaces the others
                schedule.pop(key, None)
        return data

    def problem(self, loc: Loc, message: str, *, at: Loc | None = None,
                at_key: bool = False) -> Problem:
        """Also for values no layer set: points at the nearest place in the file."""
        at = loc if at is None else at
        where = self.doc.key_position(at) if at_key else self.doc.position(at)
        return Problem(self.doc.source, render_loc(loc), message, *where)

    def conflict(self, spec: SecretSpec) -> Problem:
        return self.problem(spec.loc, f"set only one of '{spec.name}' and '{spec.file_name}'",
                            at=spec.file_loc, at_key=True)


class CredentialsLayer(Layer):
    def __init__(self, settings_cls: type[Settings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        directory = env.get("CREDENTIALS_DIRECTORY")
        self.directory = Path(directory) if directory else None

    def build(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.directory is None:
            return data
        above, flow = self.current_state, flow_in(self.current_state)   # env and file merged
        for spec in SECRETS:
            here = section(above, spec.section) or {}
            path = self.directory / spec.credential
            if spec.name in here or spec.file_name in here or not spec.applies(flow) \
                    or not path.is_file():
                continue
            section(data, spec.section, create=True)[spec.file_name] = str(path)  # type: ignore
        return data

    def problem(self, loc: Loc, message: str, *, at: Loc | None = None,
                at_key: bool = False) -> Problem:
        """The credential file is the secret itself: problems name the secret and the file."""
        spec = next(s for s in SECRETS if (loc if at is None else at) in (s.loc, s.file_loc))
        return Problem(str(self.directory / spec.credential), render_loc(spec.loc), message)


class DefaultsLayer(Layer):
    def __init__(self, settings_cls: type[Settings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._env = env

    def build(self) -> dict[str, Any]:
        return {"state": {"directory": str(default_state_directory(self._env))}}

    def problem(self, loc: Loc, message: str, *, at: Loc | None = None,
                at_key: bool = False) -> Problem:
        return Problem("environment", render_loc(loc), message)


def settings_layers(doc: YamlDocument | None, env: Mapping[str, str]) -> list[Layer]:
    """The layers, highest precedence first."""
    layers: list[Layer] = [EnvLayer(Settings, env)]
    if doc is not None:
        layers.append(YamlLayer(Settings, doc, env))
    return layers + [CredentialsLayer(Settings, env), DefaultsLayer(Settings, env)]


def merge_layers(layers: Sequence[Layer]) -> dict[str, Any]:
    """What ``BaseSettings`` does with its sources: each is called knowing what the ones above
    it set (``current_state``), and fills only what they left. Done here rather than by
    ``Settings(...)`` so the merged data can be checked and every problem placed."""
    state: dict[str, Any] = {}
    for layer in layers:
        layer._set_current_state(state)
        state = _fill(layer(), state)
    return state


def _fill(lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    merged = dict(lower)
    for key, value in upper.items():
        below = merged.get(key)
        merged[key] = _fill(below, value) if isinstance(below, dict) and \
            isinstance(value, dict) else value
    return merged
