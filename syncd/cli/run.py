"""`syncd run`: one cycle now (--once), or the service."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import click
import structlog

from state.lease import holding
from state.store import StateStore
from syncd import app
from syncd.app.cycle import run_cycle
from syncd.app.connectors import Connectors
from syncd.app.preview import dry_run_decisions, preview_contacts
from syncd.cli import console
from syncd.cli.common import Exit, config_option, fail, stderr, stdout
from syncd.core.errors import ConfigError, ExitCode, StateUnavailable, SyncdError
from syncd.app.logs import configure_logging
from syncd.plan.preview import Decision, tally
from syncd.run.result import CycleResult
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
def run(config_path: Path | None, once: bool, dry_run: bool, full: bool, contacts: tuple[str, ...],
        limit: int | None) -> None:
    """Sync HubSpot leads to Salesforce.

    \b
    Example:
      syncd run --once              # one cycle now, summary at the end
      syncd run --once --dry-run    # what would be written
      syncd run --once --dry-run --contact 101 --contact ada@example.com
      syncd run                     # the service: a cycle on the schedule until SIGTERM
    """
    if not once:
        if dry_run or full:
            raise click.UsageError("--dry-run and --full go with --once (the service reads "
                                   "sync.dry_run from the config)")
        try:
            raise Exit(serve(config_path))
        except SyncdError as exc:           # config (4) or another syncer holds the lock (6)
            raise fail(exc) from None
    if (contacts or limit) and not dry_run:
        raise click.UsageError("--contact and --limit go with --dry-run")
    try:
        loaded = app.load(config_path)
    except ConfigError as exc:
        raise fail(exc) from None
    settings = loaded.settings
    human = configure_logging(settings.logging.format, settings.logging.level, settings.secret_values())
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
            raise Exit(dry_run_contacts(loaded, store, contacts, human=human, limit=limit))
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

            result = _run_once(loaded, store, dry_run=dry_run, full=full, human=human,
                               should_stop=should_stop, limit=limit)
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


def _run_once(loaded: app.Loaded, store: StateStore, *, dry_run: bool, full: bool, human: bool,
              should_stop: Callable[[], bool] | None = None, limit: int | None = None) -> CycleResult:
    # One pair of connectors for the cycle and, in a dry run, the current values its list shows:
    # one login, and those reads made on the same limiter and quota as the run's.
    connectors = Connectors.build(loaded)
    try:
        if human:
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
    for result in cycle.results:
        if human:
            stdout.print(console.run_summary(result))
            if result.leg == "forward" and dry_run:
                show_decisions(decisions, human=True, limit=limit)
            if result.rejections:
                stdout.print(console.rejections_table(result.rejections[:20], "Rejected in this run"))
            if result.error:
                stderr.print(f"[red]error:[/red] {result.error}", highlight=False)
        elif result.leg == "forward" and dry_run:
            show_decisions(decisions, human=False, limit=limit)
    return cycle


def dry_run_contacts(loaded: app.Loaded, store: StateStore, keys: tuple[str, ...], *, human: bool,
                     limit: int | None) -> int:
    """`run --once --dry-run --contact …`: these contacts planned as the run would, nothing written.
    A key HubSpot has no contact for is a bad argument (exit 2)."""
    decisions, missing = preview_contacts(loaded, store, keys)
    show_decisions(decisions, human=human, limit=limit)
    for key in missing:
        (stderr.print if human else _print_err)(f"error: HubSpot has no contact {key!r}")
    if missing:
        return int(ExitCode.USAGE)
    return int(ExitCode.RECORDS_REJECTED if any(d.action == "reject" for d in decisions) else ExitCode.OK)


def show_decisions(decisions: list[Decision], *, human: bool, limit: int | None = None,
                   show_unchanged: bool = False, title: str | None = None) -> None:
    """The list and its counts: tables on a terminal, JSON lines otherwise (docs/log-events.md)."""
    if human:
        stdout.print(console.decisions_summary(tally(decisions)))
        if decisions:
            stdout.print(console.decisions_table(decisions, title=title or "Per record (old → new)",
                                                 show_unchanged=show_unchanged, limit=limit))
        return
    for decision in decisions[:limit]:
        event = "plan.skip" if decision.action in ("skip", "reject") else "plan.write"
        print(json.dumps({"event": event, **decision.as_json(show_unchanged)}, default=str))


def _print_err(text: str) -> None:
    print(text, file=sys.stderr)
