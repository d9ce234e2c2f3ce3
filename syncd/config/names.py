"""The names of settings: every key as a loc (``('sync', 'lookback_minutes')``), its
environment variable (``SYNCD_SYNC__LOOKBACK_MINUTES``), and small helpers for the nested dicts
that settings layers are made of."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .locs import Loc
from .models import Settings

__all__ = ["ENV_PREFIX", "NON_SETTING_VARIABLES", "LEAVES", "SECTIONS", "PATH_LEAVES",
           "env_var_name", "section", "owner_loc"]

ENV_PREFIX = Settings.model_config.get("env_prefix", "SYNCD_")
DELIMITER = Settings.model_config.get("env_nested_delimiter") or "__"
NON_SETTING_VARIABLES = frozenset({"SYNCD_CONFIG"})      # SYNCD_* variables that are not settings


def env_var_name(loc: Loc) -> str:
    """``('hubspot', 'access_token')`` -> ``SYNCD_HUBSPOT__ACCESS_TOKEN``."""
    return ENV_PREFIX + DELIMITER.join(str(part).upper() for part in loc)


def _leaves(model: type[BaseModel], prefix: Loc = ()) -> dict[Loc, Any]:
    """Every settable key as a loc, with its annotation (sections are not leaves)."""
    out: dict[Loc, Any] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.update(_leaves(annotation, prefix + (name,)))
        else:
            out[prefix + (name,)] = annotation
    return out


LEAVES: dict[Loc, Any] = _leaves(Settings)
SECTIONS = frozenset(loc[:i] for loc in LEAVES for i in range(1, len(loc)))
PATH_LEAVES = tuple(loc for loc, tp in LEAVES.items() if tp in (Path, Path | None))


def section(data: dict[str, Any], loc: Loc, *, create: bool = False) -> dict[str, Any] | None:
    """The dict at loc inside data; with create, make missing (or non-mapping) levels."""
    for part in loc:
        child = data.get(part)                           # type: ignore[call-overload]
        if not isinstance(child, dict):
            if not create:
                return None
            child = data[part] = {}                      # type: ignore[index]
        data = child
    return data


def owner_loc(data: dict[str, Any], loc: Loc) -> Loc | None:
    """The part of loc that ``data`` sets: loc itself, or the prefix where ``data`` holds a
    plain value; None when data does not reach it."""
    if not loc:
        return None
    node: Any = data
    for i, part in enumerate(loc):
        if not isinstance(node, dict):
            return loc[:i]
        if part not in node:
            return None
        node = node[part]
    return loc
