"""`syncd run`: one cycle now (--once), or the service."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import structlog

from state.lease import holding
from state.store import StateStore
from syncd import app
from syncd.app.cycle import run_cycle
from syncd.app.connectors import Connectors
from syncd.app.preview import dry_run_decisions, preview_contacts
from syncd.cli import console
from syncd.cli.common import Exit, config_option, emit, fail, format_option, output_format, output_option, stderr
from syncd.core.errors import ConfigError, ExitCode, StateUnavailable, SyncdError
from syncd.app.logs import configure_logging
from syncd.plan.preview import Decision, tally
from syncd.run.result import CycleResult, RunResult
from syncd.service import graceful_stop, serve


@click.command()
@config_option
@click.option("--once", is_flag=True, help="Run one sync cycle and exit.")
@click.option("--dry-run", is_flag=True, help="Read and plan, show what would be written, write nothing.")
@click.option("--full", is_flag=True,
              help="Re-read every qualifying contact, not only changes (unchanged ones are still not written).")
@click.option("--contact", "contacts", multiple=True, metavar="ID|EMAIL",
              help="With --dry-run: plan only this HubSpot contact (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), help="With --dry-run: list the first N records (counts cover all).")
@format_option("tables on a terminal, else the JSON log lines (a dry run's list: plan.write/plan.skip lines); "
               "json: the summary (and a dry run's list) as one document; csv: the counts, a dry run's list")
@output_option
def run(config_path: Path | None, once: bool, dry_run: bool, full: bool, contacts: tuple[str, ...],
        limit: int | None, fmt: str | None, output: Path | None) -> None:
    """Sync HubSpot leads to Salesforce.

    \b
    Example:
      syncd run --once              # one cycle now, summary at the end
      syncd run --once --dry-run    # what would be written
      syncd run --once --dry-run --contact 101 --contact ada@example.com
      syncd run --once --dry-run -o plan.csv    # the list as CSV; progress stays on the terminal
      syncd run                     # the service: a cycle on the schedule until SIGTERM
    """
    if not once:
        if dry_run or full or fmt or output:
            raise click.UsageError("--dry-run, --full, --format and -o go with --once (the service reads "
                                   "sync.dry_run from the config)")
        try:
            raise Exit(serve(config_path))
        except SyncdError as exc:           # config (4) or another syncer holds the lock (6)
            raise fail(exc) from None
    if (contacts or limit) and not dry_run:
        raise click.UsageError("--contact and --limit go with --dry-run")
    # Asked for (--format, -o): decided now, so a file name that names no format exits 2 before any work.
    chosen = output_format(fmt, output) if fmt is not None or output is not None else None
    try:
        loaded = app.load(config_path)
    except ConfigError as exc:
        raise fail(exc) from None
    settings = loaded.settings
    human = configure_logging(settings.logging.format, settings.logging.level, settings.secret_values())
    shape = Shape(chosen or ("table" if human else LINES), output, human)
    try:
        store = app.open_store(settings)
    except StateUnavailable as exc:          # before any run exists: still the run.failed line
        structlog.get_logger("syncd.run").error("run.failed", pipeline=settings.sync.pipeline, error=str(exc),
                                               error_type=type(exc).__name__, code=exc.code,
                                               who_acts=exc.who_acts)
        raise fail(exc) from None
    dry_run = dry_run or settings.sync.dry_run
    if contacts:
        try:
            raise Exit(dry_run_contacts(loaded, store, contacts, shape, limit=limit))
        except SyncdError as exc:
            raise fail(exc) from None
        finally:
            store.close()
    try:
        # A dry run writes nothing, so it needs no lock and may run beside the service.
        with (nullcontext() if dry_run else holding(store, settings.sync.pipeline, "once")) as lease, \
                graceful_stop() as stop_requested:
            # Stop at the next batch on a signal, or when another syncer took the lease over
            # (this process stalled past its TTL): never write beside another syncer.
            def should_stop() -> bool:
                return stop_requested() or (lease is not None and not lease.held)

            result = _run_once(loaded, store, shape, dry_run=dry_run, full=full, should_stop=should_stop,
                               limit=limit)
    except SyncdError as exc:               # LockHeld: another syncer runs this pipeline
        raise fail(exc) from None
    finally:
        store.close()
    for leg in result.results:
        if isinstance(leg.error, ConfigError) and not human:   # the log lines are on stdout: say it on stderr
            print(f"error: {leg.error}", file=sys.stderr)
        elif leg.error is None and leg.mapping_refused:
            first = leg.rejections[0]
            print(f"error: Salesforce refused every record this run sent ({first.code}: {first.message}): fix the "
                  "mapping (translate the values with `values` and a `default`); `syncd mapping check` lists the "
                  "field", file=sys.stderr)
    raise Exit(int(result.exit_code))


LINES = "lines"          # no --format, off a terminal: JSON log lines (docs/log-events.md)
DECISION_COLUMNS = ("hubspot_id", "action", "how", "sobject", "target_id", "field", "old", "new", "reason",
                    "detail")
SUMMARY_COLUMNS = ("run_id", "leg", "status", "duration_seconds", "count", "value")


@dataclass(frozen=True)
class Shape:
    """Where a run's records go: ``fmt`` (table, json, csv, or ``LINES``), to stdout or ``output``;
    ``human``: a person at the terminal (progress bar and errors on stderr)."""

    fmt: str
    output: Path | None = None
    human: bool = True


def _run_once(loaded: app.Loaded, store: StateStore, shape: Shape, *, dry_run: bool, full: bool,
              should_stop: Callable[[], bool] | None = None, limit: int | None = None) -> CycleResult:
    # One pair of connectors for the cycle and, in a dry run, the current values its list shows:
    # one login, and those reads made on the same limiter and quota as the run's.
    connectors = Connectors.build(loaded)
    try:
        if shape.human:
            with console.RunProgress(stderr) as progress:
                cycle = run_cycle(loaded, store, dry_run=dry_run, full=full, progress=progress,
                                  should_stop=should_stop, connectors=connectors)
        else:
            cycle = run_cycle(loaded, store, dry_run=dry_run, full=full, should_stop=should_stop,
                              connectors=connectors)
        decisions = dry_run_decisions(loaded, cycle.forward, connectors) \
            if dry_run and cycle.forward.error is None else []
    finally:
        connectors.close()
    show_cycle(cycle, decisions if dry_run else None, shape, limit=limit)
    return cycle


def _summary_tables(result: RunResult, decisions: list[Decision] | None, limit: int | None) -> list:
    tables: list = [console.run_summary(result)]
    if result.leg == "forward" and decisions is not None:
        tables += decision_tables(decisions, limit=limit)
    if result.rejections:
        tables.append(console.rejections_table(result.rejections[:20], "Rejected in this run"))
    return tables


def show_cycle(cycle: CycleResult, decisions: list[Decision] | None, shape: Shape, *, limit: int | None) -> None:
    """The summary of each leg (and a dry run's list) in the shape asked for. ``decisions`` is
    None unless this was a dry run."""
    if shape.fmt == LINES:
        if decisions is not None and cycle.forward.error is None:
            show_decisions(decisions, shape, limit=limit)
    else:
        data: dict[str, Any] = {"runs": [run_json(r) for r in cycle.results]}
        if decisions is not None:
            data["records"] = [d.as_json() for d in decisions[:limit]]
        emit(shape.fmt, shape.output, data=data,
             tables=lambda: [t for r in cycle.results for t in _summary_tables(r, decisions, limit)],
             columns=DECISION_COLUMNS if decisions is not None else SUMMARY_COLUMNS,
             rows=lambda: decision_rows(decisions, limit) if decisions is not None else summary_rows(cycle.results))
    if shape.human:
        for result in cycle.results:
            if shape.output is not None:          # the file has the records; the terminal still sees how it went
                stderr.print(console.run_summary(result))
            if result.error:
                stderr.print(f"[red]error:[/red] {result.error}", highlight=False)
        if shape.output is not None:
            stderr.print(f"written to {shape.output} ({shape.fmt})", highlight=False)


def run_json(result: RunResult) -> dict[str, Any]:
    return {"run_id": result.run_id, "leg": result.leg, "status": result.status,
            "duration_seconds": result.duration_seconds, "counts": result.count_dict(),
            "api_calls": result.api_calls, "error": None if result.error is None else str(result.error),
            "rejections": [{"hubspot_id": r.hubspot_id, "code": r.code, "message": r.message}
                           for r in result.rejections]}


def summary_rows(results: list[RunResult]) -> Iterator[dict[str, Any]]:
    """One row per leg and count (the legs count different things), then its API calls."""
    for result in results:
        row = {"run_id": result.run_id, "leg": result.leg, "status": result.status,
               "duration_seconds": result.duration_seconds}
        for key, value in result.count_dict().items():
            yield {**row, "count": key, "value": value}
        for system, calls in result.api_calls.items():
            yield {**row, "count": f"api_calls_{system}", "value": calls}


def decision_rows(decisions: list[Decision], limit: int | None = None) -> Iterator[dict[str, Any]]:
    """One row per field that changes (a write that changes nothing, and a skip: one row)."""
    for decision in decisions[:limit]:
        row = {"hubspot_id": decision.hubspot_id, "action": decision.action}
        if decision.action in ("skip", "reject"):
            yield {**row, "reason": decision.reason, "detail": decision.detail}
            continue
        row.update(how=decision.how, sobject=decision.sobject, target_id=decision.target_id)
        for change in decision.changes or [None]:
            yield row if change is None else {**row, "field": change.field, "old": change.old, "new": change.new}


def dry_run_contacts(loaded: app.Loaded, store: StateStore, keys: tuple[str, ...], shape: Shape, *,
                     limit: int | None) -> int:
    """`run --once --dry-run --contact …`: these contacts planned as the run would, nothing written.
    A key HubSpot has no contact for is a bad argument (exit 2)."""
    decisions, missing = preview_contacts(loaded, store, keys)
    show_decisions(decisions, shape, limit=limit, data={"not_found": missing})
    for key in missing:
        (stderr.print if shape.human else _print_err)(f"error: HubSpot has no contact {key!r}")
    if missing:
        return int(ExitCode.USAGE)
    return int(ExitCode.RECORDS_REJECTED if any(d.action == "reject" for d in decisions) else ExitCode.OK)


def decision_tables(decisions: list[Decision], *, limit: int | None = None, show_unchanged: bool = False,
                    title: str | None = None) -> list:
    tables: list = [console.decisions_summary(tally(decisions))]
    if decisions:
        tables.append(console.decisions_table(decisions, title=title or "Per record (old → new)",
                                              show_unchanged=show_unchanged, limit=limit))
    return tables


def show_decisions(decisions: list[Decision], shape: Shape, *, limit: int | None = None,
                   show_unchanged: bool = False, title: str | None = None, data: dict | None = None) -> None:
    """The list and its counts in the shape asked for; ``LINES``: a JSON line per record
    (docs/log-events.md). JSON: ``{"records": [...], **data}``."""
    if shape.fmt == LINES:
        for decision in decisions[:limit]:
            event = "plan.skip" if decision.action in ("skip", "reject") else "plan.write"
            print(json.dumps({"event": event, **decision.as_json(show_unchanged)}, default=str))
        return
    emit(shape.fmt, shape.output, columns=DECISION_COLUMNS, rows=lambda: decision_rows(decisions, limit),
         tables=lambda: decision_tables(decisions, limit=limit, show_unchanged=show_unchanged, title=title),
         data={"records": [d.as_json(show_unchanged) for d in decisions[:limit]], **(data or {})})


def _print_err(text: str) -> None:
    print(text, file=sys.stderr)
