"""`syncd agreement validate|report`: check the Sales–Marketing agreement file, or report a month
of it (both sides) from the state database."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import click

from syncd import app
from syncd.agreement import agreement_json_schema, load_agreement
from syncd.agreement.clock import month_of
from syncd.agreement_report import to_csv, to_json, to_table
from syncd.app.agreement import agreement_month, require_agreement
from syncd.cli.common import (
    config_option,
    emit_tables,
    emit_text,
    fail,
    format_option,
    output_format,
    output_option,
    stdout,
)
from syncd.cli.report import parse_moment
from syncd.core.errors import ConfigError


@click.group()
def agreement() -> None:
    """The Sales–Marketing agreement: check its file, or report a month of it."""


@agreement.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@config_option
def agreement_validate(path: Path | None, config_path: Path | None) -> None:
    """Check an agreement file; every problem is shown with its file, line and field.

    \b
    Example:
      syncd agreement validate mappings/agreement.yaml
    With no PATH, checks the agreement the config points to.
    """
    try:
        if path is None:
            result = require_agreement(app.load(config_path, require_credentials=False))
        else:
            result = load_agreement(path)
    except ConfigError as exc:
        raise fail(exc) from None
    first = result.first_contact
    hours = "business hours" if first.business_hours else "hours"
    stdout.print(f"[green]ok[/green] {result.source}: {result.target.sqls_per_month} SQLs a month, "
                 f"{len(result.definition)} definition parts ({', '.join(result.definition) or 'none'}); first "
                 f"contact within {first.within_hours:g} {hours} ({result.time_zone}), at least "
                 f"{result.attempts.minimum} attempts", highlight=False, soft_wrap=True)


@agreement.command("schema")
def agreement_schema() -> None:
    """Print the agreement file's JSON Schema (for editors).

    \b
    Example:
      syncd agreement schema > mappings/agreement.schema.json
    """
    click.echo(json.dumps(agreement_json_schema(), indent=2))


@agreement.command("report")
@config_option
@click.option("--month", help="The month, YYYY-MM, in the agreement's time zone. Default: the current month.")
@click.option("--at", "at", help="Measure each lead's state as of this time (ISO 8601; default: now).")
@format_option("table on a terminal, JSON otherwise")
@output_option
def agreement_report(config_path: Path | None, month: str | None, at: str | None, fmt: str | None,
                     output: Path | None) -> None:
    """One month of the agreement: Marketing's SQLs and lead definition, Sales' first contacts and
    attempts — from the state database only (no API calls).

    \b
    Example:
      syncd agreement report --month 2026-11
      syncd agreement report --month 2026-11 --format csv -o november.csv
      syncd agreement report --format json | jq '.by_owner'
    """
    fmt = output_format(fmt, output)
    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise click.BadParameter(f"{month!r} is not a month (YYYY-MM)", param_hint="--month")
    now = parse_moment(at) if at else dt.datetime.now(dt.UTC)
    try:
        loaded = app.load(config_path, require_credentials=False)
        terms = require_agreement(loaded)
    except ConfigError as exc:
        raise fail(exc) from None
    store = app.open_store_for_reading(loaded.settings)
    try:
        result = agreement_month(loaded, store, month or month_of(now, terms.zone), now)
    finally:
        store.close()
    if fmt == "table":
        emit_tables(to_table(result), output)
    else:
        emit_text(to_csv(result) if fmt == "csv" else to_json(result) + "\n", output)
