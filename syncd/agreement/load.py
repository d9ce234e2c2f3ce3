"""Reading an agreement file: YAML with positions, then the closed models.

Every problem names the file, line, column and field, all of them together; the same 1 MiB cap
as the config and the mapping. It runs when syncd loads its configuration, before any API call.
"""

from __future__ import annotations

from pathlib import Path

from syncd.agreement.model import Agreement
from syncd.config import load_yaml, validate

AGREEMENT_VERSION = 1


def load_agreement(path: Path | str) -> Agreement:
    """Load and fully validate an agreement file; raise ConfigError listing every problem."""
    doc = load_yaml(path)
    doc.require_version(AGREEMENT_VERSION, "agreement")
    agreement = validate(Agreement, doc)
    return agreement.model_copy(update={"source": str(doc.path)})


def agreement_json_schema() -> dict:
    schema = Agreement.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "syncd agreement (version 1)"
    schema.get("properties", {}).pop("source", None)
    return schema
