"""`syncd mapping validate|check|schema`: check the admins' mapping file (offline, or against both
systems' live metadata), or print its JSON Schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from syncd import app
from syncd.app.connectors import Connectors
from syncd.app.mapping_check import check_mapping
from syncd.cli.common import Exit, config_option, fail, stderr, stdout
from syncd.core.errors import ConfigError, ExitCode, RemoteError
from syncd.mapping import load_mapping, mapping_json_schema
from syncd.mapping.load import load_mapping_and_problems


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


@mapping.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True,
              help="Exit 4 on findings that refuse only some records too (for a deploy gate).")
@config_option
def mapping_check(path: Path | None, config_path: Path | None, strict: bool) -> None:
    """Check a mapping against the live orgs: Salesforce's describe and HubSpot's properties.

    \b
    Example:
      syncd mapping check mappings/hubspot-to-salesforce.yaml
    Lists unknown fields and properties, type mismatches, picklist values the org refuses, text
    longer than its field, fields syncd may not write, required fields with no value and missing
    feedback properties, each with file, line and how to fix it. Writes nothing. Exit 4 with
    findings that would refuse every record (a run stops on them before any write); findings that
    refuse only the records they concern (text longer than its field) are listed and exit 0, or 4
    with --strict. Exit 5 when a system cannot be reached. With no PATH, checks the config's mapping.
    """
    try:
        settings = app.load_settings_only(config_path)
        mapping, offline = load_mapping_and_problems(path or settings.mapping)
        connectors = Connectors.build(app.Loaded(settings, mapping))
    except ConfigError as exc:
        raise fail(exc) from None
    try:
        result = check_mapping(mapping, connectors.metadata)
    except RemoteError as exc:
        raise fail(exc) from None
    finally:
        connectors.close()
    result.blocking[:0] = offline
    source = mapping.source
    for problem in result.blocking:
        stderr.print(f"{problem}", highlight=False, markup=False, soft_wrap=True)
    for problem in result.warnings:
        stderr.print(f"{problem} (refuses only the records it concerns)", highlight=False, markup=False,
                     soft_wrap=True)
    if result.blocking or (strict and result.problems):
        stderr.print(f"{len(result.problems)} finding{'s' if len(result.problems) != 1 else ''} in {source} "
                     f"({len(result.blocking)} would refuse every record): fix the mapping and check again",
                     highlight=False, markup=False, soft_wrap=True)
        raise Exit(int(ExitCode.CONFIG_ERROR))
    if result.warnings:
        stderr.print(f"{len(result.warnings)} finding{'s' if len(result.warnings) != 1 else ''} in {source} "
                     "refuse only the records they concern; a run goes ahead (--strict: exit 4)",
                     highlight=False, markup=False, soft_wrap=True)
    stdout.print(f"[green]ok[/green] {source}: every field, property and value is accepted by both systems",
                 highlight=False, soft_wrap=True)


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
