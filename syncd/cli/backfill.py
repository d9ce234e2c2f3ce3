"""`syncd backfill`: after a mapping change, re-send what it affects to the Leads already handed
over, the API calls said first (``syncd.app.backfill`` composes; this only asks and prints)."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from state.lease import holding
from syncd import app
from syncd.app.backfill import Backfill, BackfillPlan
from syncd.app.backfill import backfill as run_backfill
from syncd.app.connectors import Connectors
from syncd.app.logs import configure_logging
from syncd.cli import console
from syncd.cli.common import (
    Exit,
    config_option,
    csv_text,
    emit,
    fail,
    format_option,
    output_format,
    output_option,
    stderr,
    stdout,
)
from syncd.cli.report import parse_moment
from syncd.core.errors import ConfigError, ExitCode, SyncdError
from syncd.plan.backfill import Estimate
from syncd.service import graceful_stop

CSV_COLUMNS = ("hubspot_id", "lead_id", "field", "old", "new", "compared")


@click.command()
@config_option
@click.option("--field", "fields", multiple=True, metavar="FIELD",
              help="Compare this Salesforce field (repeatable). Default: every field the mapping writes.")
@click.option("--since", help="Only contacts handed over on or after this date (YYYY-MM-DD) or time "
                              "(ISO 8601; UTC unless it carries an offset).")
@click.option("--dry-run", is_flag=True, help="Read and compare, list old → new per Lead, write nothing.")
@click.option("--yes", "-y", is_flag=True, help="Write without asking (required off a terminal).")
@format_option("a table on a terminal, JSON lines otherwise")
@output_option
def backfill(config_path: Path | None, fields: tuple[str, ...], since: str | None, dry_run: bool, yes: bool,
             fmt: str | None, output: Path | None) -> None:
    """Re-send a mapping change to the Leads already handed over, not only to future edits.

    Compares each handed-over contact, rendered with the current mapping, with what its Lead holds
    now, and updates exactly the Leads whose compared fields differ (by Id, 200 a call). The API
    calls are estimated first: the reads before reading, the writes after comparing. On a terminal
    it asks before writing; off a terminal pass --yes (or --dry-run).

    \b
    Example:
      syncd backfill --field Title --dry-run
      syncd backfill --field Title --field Industry --since 2026-01-01
      syncd backfill --yes --format json | jq 'select(.event == "backfill.compared")'
      syncd backfill --field Title --dry-run -o title-backfill.csv

    With -o, the estimates, the question and the result stay on the terminal (stderr) and the file
    gets the record: every Lead compared with old → new, and the result, as JSON (one document),
    CSV (one row per field) or a text table.
    """
    try:
        loaded = app.load(config_path)
    except ConfigError as exc:
        raise fail(exc) from None
    mapped = list(loaded.mapping.all_rules())
    unknown = [f for f in fields if f not in mapped]
    if unknown:
        raise click.UsageError(f"--field {', '.join(unknown)}: not a field the mapping writes "
                               f"(it writes {', '.join(mapped)})")
    start = parse_moment(since) if since else None
    settings = loaded.settings
    configure_logging(settings.logging.format, settings.logging.level, settings.secret_values())
    file_fmt = output_format(fmt, output) if output is not None else None
    fmt = "table" if output is not None else output_format(fmt, None)
    dry_run = dry_run or settings.sync.dry_run
    show = _Shown(fmt, since, list(fields) or mapped, bool(fields), console=stderr if output is not None else None)
    interactive = sys.stdin.isatty()

    bar = console.RunProgress(stderr) if fmt == "table" else None

    def show_reads(estimate: Estimate) -> bool:
        _paused(bar, show.reads, estimate)
        if not (dry_run or yes or interactive) and estimate.candidates:
            show.refused = True
            return False
        return True

    def approve(plan: BackfillPlan) -> bool:
        if bar is not None:
            bar.pause()
        show.compared(plan, dry_run)
        go = dry_run or not plan.comparison.send or yes or click.confirm(
            f"Update {len(plan.comparison.send)} Leads in Salesforce ({plan.estimate.salesforce_writes} "
            "write calls)?", default=False, err=True)
        if bar is not None and go and not dry_run:
            bar.resume()
        return go

    try:
        store = app.open_store(settings)
    except SyncdError as exc:
        raise fail(exc) from None
    try:
        with (nullcontext() if dry_run else holding(store, settings.sync.pipeline, "once")) as lease, \
                graceful_stop() as stop_requested, (bar or nullcontext()):
            def should_stop() -> bool:
                return stop_requested() or (lease is not None and not lease.held)

            connectors = Connectors.build(loaded)
            try:
                outcome = run_backfill(loaded, store, connectors, fields=show.fields, since=start, dry_run=dry_run,
                                       show_reads=show_reads, approve=approve, progress=bar,
                                       should_stop=should_stop)
            finally:
                connectors.close()
    except SyncdError as exc:          # LockHeld (6), the live mapping check (4), a remote failure (5)
        raise fail(exc) from None
    finally:
        store.close()
    if show.refused:
        print("error: not on a terminal: pass --yes to write without asking, or --dry-run to see the "
              "plan; nothing was read or written", file=sys.stderr)
        raise Exit(int(ExitCode.USAGE))
    code = show.finished(outcome, dry_run)
    if output is not None and file_fmt is not None:
        show.write_record(file_fmt, output)
        stderr.print(f"written to {output}", highlight=False)
    raise Exit(code)


def _paused(bar: console.RunProgress | None, show: Any, *args: Any) -> None:
    """Print with the progress bar off the screen."""
    if bar is None:
        show(*args)
        return
    bar.pause()
    try:
        show(*args)
    finally:
        bar.resume()


class _Shown:
    """What the command prints, in its format: the estimates first, then the list, then the result."""

    def __init__(self, fmt: str, since: str | None, fields: list[str], chosen: bool,
                 console: Any = None) -> None:
        self.fmt, self.since, self.fields, self.chosen = fmt, since, fields, chosen
        self.console = console or (stdout if fmt == "table" else stderr)   # -o: the terminal's stderr
        self.refused = False
        self.record: dict[str, Any] = {"since": since, "fields": fields}    # what -o writes
        self.changes: list[Any] = []

    def _line(self, event: str, **fields: Any) -> None:
        print(json.dumps({"event": event, **fields}, default=str), flush=True)

    def _text(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def reads(self, estimate: Estimate) -> None:
        self.record["estimate_before_reading"] = estimate.as_json()
        compared = ", ".join(self.fields) if self.chosen else f"every mapped field ({len(self.fields)})"
        if self.fmt == "json":
            self._line("backfill.planned", since=self.since, fields=self.fields, **estimate.as_json())
            return
        table = _table("Backfill estimate, before reading (calls to come)")
        table.add_row("Leads handed over" + (f" since {self.since}" if self.since else ""), str(estimate.candidates))
        table.add_row("fields compared", compared)
        table.add_row("HubSpot batch reads to come", str(estimate.hubspot_reads))
        table.add_row("Salesforce queries to come (200 Leads each)", str(estimate.salesforce_queries))
        table.add_row("and the live mapping check", "describe and properties (cached)")
        self._emit(table)

    def compared(self, plan: BackfillPlan, dry_run: bool) -> None:
        c, e = plan.comparison, plan.estimate
        counts = {"leads_to_write": e.leads_to_write, "salesforce_writes": e.salesforce_writes,
                  "recorded": len(c.recorded), "pending": len(c.pending), "skipped": len(c.skipped),
                  "rejected": len(plan.rejections), "other_fields_differ": c.other_fields_differ}
        self.record["compared"] = {"dry_run": dry_run, "calls_spent": plan.calls_spent,
                                   "mapping_check_calls": plan.check_calls, **counts}
        self.changes = list(c.changes)
        if self.fmt == "json":
            self._line("backfill.compared", dry_run=dry_run, calls_spent=plan.calls_spent,
                       mapping_check_calls=plan.check_calls, **counts)
            for change in c.changes:
                self._line("backfill.lead", **change.as_json())
            return
        table = _table("Backfill estimate, compared (reads spent; writes to come)")
        for system, name in (("hubspot", "HubSpot"), ("salesforce", "Salesforce")):
            table.add_row(f"{name} calls spent comparing",
                          f"{plan.calls_spent.get(system, 0)} (+{plan.check_calls.get(system, 0)} mapping check)")
        table.add_row("Leads to write (a compared field differs)", str(e.leads_to_write))
        table.add_row("Salesforce write calls to come (200 a call)", str(e.salesforce_writes))
        table.add_row("already matching: recorded in state, nothing sent", str(len(c.recorded)))
        table.add_row("matching, changed in HubSpot since: left to the next run", str(len(c.pending)))
        table.add_row("differ only in fields not compared (not sent)", str(c.other_fields_differ))
        table.add_row("skipped (converted, moved, not qualified, gone)", str(len(c.skipped)))
        table.add_row("rejected by the mapping", str(len(plan.rejections)))
        self._emit(table)
        if self.fmt == "csv":
            click.echo(csv_text(CSV_COLUMNS, self._rows()), nl=False)
        elif c.changes:
            self.console.print(self._leads_table())

    def _rows(self) -> list[dict[str, Any]]:
        return [{"hubspot_id": change.hubspot_id, "lead_id": change.lead_id, "field": ch.field, "old": ch.old,
                 "new": ch.new, "compared": compared}
                for change in self.changes
                for ch, compared in [(x, True) for x in change.changes] + [(x, False) for x in change.also]]

    def _leads_table(self) -> Table:
        leads = Table(title="Leads to write (old → new)", title_justify="left")
        for column in ("HubSpot contact → Lead", "field", "now in Salesforce", "→ will be"):
            leads.add_column(column, overflow="fold")
        for change in self.changes:
            rows = [(x.field, x) for x in change.changes] + [(f"{x.field} (whole payload)", x) for x in change.also]
            for i, (name, ch) in enumerate(rows):
                leads.add_row(f"{change.hubspot_id} → {change.lead_id}" if i == 0 else "", name,
                              _shown(ch.old), _shown(ch.new), end_section=i == len(rows) - 1)
        return leads

    def write_record(self, fmt: str, output: Path) -> None:
        """-o: the Leads compared (old → new) and the result, whole, in the file's format."""
        summary = _table("Backfill")
        for key, value in self.record.get("finished", {}).items():
            summary.add_row(key, json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value))
        emit(fmt, output, tables=lambda: [self._leads_table(), summary],
             data={**self.record, "leads": [change.as_json() for change in self.changes]},
             columns=CSV_COLUMNS, rows=self._rows)

    def _emit(self, table: Table) -> None:
        self.console.print(table)

    def finished(self, outcome: Backfill, dry_run: bool) -> int:
        plan, result = outcome.plan, outcome.result
        rejected = list(result.rejections) if result is not None else list(plan.rejections if plan else [])
        code = int(result.exit_code) if result is not None else \
            int(ExitCode.RECORDS_REJECTED if rejected else ExitCode.OK)
        written = int(result.counts.get("updated", 0)) if result is not None else 0
        status = result.status if result is not None else ("dry_run" if dry_run else "nothing_written")
        self.record["finished"] = {
            "status": status, "dry_run": dry_run, "approved": outcome.approved, "updated": written,
            "rejected": [{"hubspot_id": r.hubspot_id, "code": r.code, "message": r.message} for r in rejected],
            "api_calls": result.api_calls if result is not None else {}}
        if self.fmt == "json":
            self._line("backfill.finished", **self.record["finished"])
        else:
            self._text("dry run: nothing was written" if dry_run else
                       "nothing was written" if result is None else
                       f"backfill {status}: {written} Leads updated, {len(rejected)} rejected")
            if rejected:
                self.console.print(console.rejections_table(rejected[:20], "Rejected in this backfill"))
        if result is not None and result.error is not None:
            stderr.print(f"[red]error:[/red] {result.error}", highlight=False)
        return code


def _table(title: str) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="dim", overflow="fold")
    table.add_column("", justify="right", overflow="fold")
    return table


def _shown(value: object) -> str:
    return "—" if value in (None, "") else str(value)
