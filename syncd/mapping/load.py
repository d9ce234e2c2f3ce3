"""Reading a mapping file: YAML with positions, the closed models, then the cross-key checks.

Every problem names the file, line, column and field; all of them are reported together.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from syncd.core.errors import ConfigError, Problem
from syncd.mapping.checks import semantic_problems
from syncd.mapping.model import Mapping
from syncd.config import load_yaml, validate

MAPPING_VERSION = 1
BUNDLED_MAPPING = "hubspot-to-salesforce.yaml"


def bundled_mapping_path() -> Path:
    return Path(str(resources.files("mappings").joinpath(BUNDLED_MAPPING)))


def load_mapping(path: Path | str | None = None) -> Mapping:
    """Load and fully validate a mapping file; raise ConfigError listing every problem."""
    mapping, problems = load_mapping_and_problems(path)
    if problems:
        raise ConfigError(problems)
    return mapping


def load_mapping_and_problems(path: Path | str | None = None) -> tuple[Mapping, list[Problem]]:
    """The mapping's models (ConfigError when a key is unknown or a value malformed), and the
    problems across keys (templates, one source per field...), for `mapping check` to report
    beside what the live orgs say."""
    doc = load_yaml(path or bundled_mapping_path())
    doc.require_version(MAPPING_VERSION, "mapping")
    mapping = validate(Mapping, doc)
    problems: list[Problem] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(_problem(doc, loc, message))

    semantic_problems(mapping, add)
    return mapping.model_copy(update={"source": str(doc.path)}), problems


def _problem(doc: Any, loc: tuple[str | int, ...], message: str, *, at_key: bool = False) -> Problem:
    line, column = doc.key_position(loc) if at_key else doc.position(loc)
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return Problem(str(doc.path), field, message, line, column)


def locate(mapping: Mapping, found: list[tuple[tuple[str | int, ...], str]]) -> list[Problem]:
    """Each (key, message) of a loaded mapping as a Problem with the file, line and field of the key."""
    doc = load_yaml(mapping.source or bundled_mapping_path())
    return [_problem(doc, loc, message, at_key=True) for loc, message in found]


def mapping_json_schema() -> dict[str, Any]:
    schema = Mapping.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/syncd/syncd/mappings/mapping.schema.json"
    schema["title"] = "syncd mapping (version 1)"
    schema.get("properties", {}).pop("source", None)
    return schema
