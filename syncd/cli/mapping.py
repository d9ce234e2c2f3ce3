"""`syncd mapping validate|schema`: check the admins' mapping file, or print its JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from syncd import app
from syncd.cli.common import config_option, fail, stdout
from syncd.core.errors import ConfigError
from syncd.mapping import load_mapping, mapping_json_schema


@click.group()
def mapping() -> None:
    """Check the mapping file, or print its JSON Schema."""


@mapping.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@config_option
def mapping_validate(path: Path | None, config_path: Path | None) -> None:
    """Check a mapping file; every problem is shown with its file, line and field.

    \b
    Example:
      syncd mapping validate mappings/hubspot-to-salesforce.yaml
    With no PATH, checks the mapping the config points to (or the bundled default).
    """
    try:
        if path is None:
            loaded = app.load(config_path, require_credentials=False)
            result, path = loaded.mapping, Path(loaded.mapping.source)
        else:
            result = load_mapping(path)
    except ConfigError as exc:
        raise fail(exc) from None
    conditions = " and ".join(f"{c.property} {c.operator} {c.operand}" for c in result.qualify)
    stdout.print(f"[green]ok[/green] {path}: {len(result.all_rules())} Salesforce fields from "
                 f"{len(result.properties_to_read())} HubSpot properties"
                 f"{' (+ history of ' + ', '.join(result.history_properties()) + ')' if result.history_properties() else ''}; "
                 f"hands over contacts where {conditions}"
                 + (f"; carries Sales outcomes back to {len(result.feedback.written_properties())} HubSpot "
                    f"properties" if result.feedback else ""), highlight=False, soft_wrap=True)


@mapping.command("schema")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to a file instead of stdout.")
def mapping_schema(output: Path | None) -> None:
    """Print the mapping's JSON Schema (for editor completion and checks).

    \b
    Example:
      syncd mapping schema -o mappings/mapping.schema.json
    """
    text = json.dumps(mapping_json_schema(), indent=2) + "\n"
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)
