"""`syncd report`: the closed-loop report from the state database (no API calls)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from state.outcomes import OutcomeStore
from syncd import app
from syncd.cli.common import (config_option, emit_tables, emit_text, fail, format_option, output_format,
                               output_option)
from syncd.core.errors import ConfigError
from syncd.report import GROUPINGS, build_report, to_csv, to_json, to_table


def parse_moment(value: str, *, end: bool = False) -> dt.datetime:
    """YYYY-MM-DD (a whole day: ``end`` makes it the next midnight) or an ISO datetime; UTC if no zone."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), dt.timezone.utc)
        else:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or an ISO datetime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@click.command()
@config_option
@click.option("--since", help="Leads handed over on or after this date (YYYY-MM-DD) or time (ISO 8601, UTC).")
@click.option("--until", help="... and before the end of this date (inclusive) or before this time.")
@click.option("--by", "by", type=click.Choice(GROUPINGS), multiple=True,
              help="Group by marketing source, campaign or first converting content; repeat to combine. "
                   "Default: source.")
@format_option("table on a terminal, JSON otherwise")
@output_option
def report(config_path: Path | None, since: str | None, until: str | None, by: tuple[str, ...],
           fmt: str | None, output: Path | None) -> None:
    """Which leads turn into revenue, and why the others don't — by source, campaign, content.

    From the state database only (no API calls). Counts leads handed over in the period and what
    Sales did with them since: contacted, disqualified (by reason), opportunities, won, lost (by
    reason), win rate, revenue, median hours to first contact and to close.

    \b
    Example:
      syncd report --since 2026-01-01 --until 2026-03-31
      syncd report --by campaign --by content --format csv -o q1.csv
      syncd report --format json | jq '.groups[] | {source, win_rate, revenue}'
    """
    fmt = output_format(fmt, output)          # a file name that names no format: exit 2 before any work
    start = parse_moment(since) if since else None
    end = parse_moment(until, end=True) if until else None
    if start and end and end <= start:
        raise click.BadParameter("--until must be after --since")
    try:
        loaded = app.load(config_path, require_credentials=False)
    except ConfigError as exc:
        raise fail(exc) from None
    store = app.open_store_for_reading(loaded.settings)
    try:
        rows = OutcomeStore(store).report_rows(loaded.settings.sync.pipeline, start, end)
    finally:
        store.close()
    result = build_report(rows, by or ("source",), since=start, until=end)
    if fmt == "table":
        emit_tables(to_table(result), output)
    else:
        emit_text(to_csv(result) if fmt == "csv" else to_json(result) + "\n", output)
