"""`syncd rejected list|retry|clear`: the records Salesforce, the mapping or HubSpot refused, to act on.

Both legs: the forward leg's rejections (Salesforce or the mapping refused a contact) and the back
leg's (HubSpot refused an outcome). `list` reads state only, unless `--details` asks HubSpot for the
contacts' names and emails (batch reads, 100 contacts a call). `retry` re-sends exactly the chosen
records through the leg runner (``syncd.app.retry``), under the pipeline's lease; `clear` forgets them.
"""

from __future__ import annotations

import csv
import io
import json
from contextlib import nullcontext
from pathlib import Path

import click
import structlog

from state.lease import holding
from state.rejections import LEGS, RejectedRecord, clear_rejections, field_of, rejected_records
from state.store import StateStore
from syncd import app
from syncd.app.connectors import Connectors
from syncd.app.logs import configure_logging
from syncd.app.retry import retry_rejected
from syncd.cli import console
from syncd.cli.common import Exit, config_option, fail, stderr, stdout
from syncd.core.errors import ConfigError, ExitCode, SyncdError
from syncd.run.result import RunResult
from syncd.service import graceful_stop

log = structlog.get_logger("syncd.rejected")

COLUMNS = ("leg", "hubspot_id", "name", "email", "field", "code", "message", "retryable", "attempts",
           "first_seen_at", "last_seen_at")
def _legs(leg: str) -> tuple[str, ...]:
    return tuple(LEGS) if leg == "all" else (leg,)


def _load(config_path: Path | None, *, credentials: bool) -> app.Loaded:
    try:
        return app.load(config_path, require_credentials=credentials)
    except ConfigError as exc:
        raise fail(exc) from None


@click.group()
def rejected() -> None:
    """List, re-send or forget the records Salesforce, the mapping or HubSpot refused."""


@rejected.command("list")
@config_option
@click.option("--code", help="Only rejections with this error code (e.g. STRING_TOO_LONG).")
@click.option("--leg", type=click.Choice(["all", *LEGS]), default="all", show_default=True,
              help="forward: refused by Salesforce or the mapping; back: outcomes HubSpot refused.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (newest first).")
@click.option("--details", is_flag=True, help="Ask HubSpot for each contact's name and email (batch reads).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]),
              help="Default: table on a terminal, JSON otherwise.")
def list_rejected(config_path: Path | None, code: str | None, leg: str, limit: int | None, details: bool,
                  fmt: str | None) -> None:
    """Rejected records: contact, field, error code and message, attempts, first and last seen.

    \b
    Example:
      syncd rejected list
      syncd rejected list --code STRING_TOO_LONG --details
      syncd rejected list --leg back --format csv > refused.csv
    """
    loaded = _load(config_path, credentials=details)
    store = app.open_store_for_reading(loaded.settings)
    try:
        records = rejected_records(store.engine, loaded.settings.sync.pipeline, legs=_legs(leg), code=code,
                                   limit=limit)
    finally:
        store.close()
    who: dict[str, tuple[str | None, str | None]] = {}
    if details and records:
        connectors = Connectors.build(loaded)
        try:
            for contact in connectors.contacts.read_contacts(sorted({r.hubspot_id for r in records}),
                                                             ("email", "firstname", "lastname")):
                p = contact.properties
                name = " ".join(v for v in (p.get("firstname"), p.get("lastname")) if v) or None
                who[contact.id] = (name, p.get("email") or contact.email)
        except SyncdError as exc:
            raise fail(exc) from None
        finally:
            connectors.close()
    rows = [{"leg": r.leg, "hubspot_id": r.hubspot_id, "name": who.get(r.hubspot_id, (None, None))[0],
             "email": who.get(r.hubspot_id, (None, None))[1], "field": field_of(r), "code": r.code,
             "message": r.message, "retryable": r.retryable, "attempts": r.attempts,
             "first_seen_at": r.first_seen_at.isoformat(), "last_seen_at": r.last_seen_at.isoformat()}
            for r in records]
    fmt = fmt or ("table" if stdout.is_terminal else "json")
    if fmt == "table":
        stdout.print(console.rejected_table(rows, details=details) if rows else "no rejected records")
    elif fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)


def _chosen(store: StateStore, pipeline: str, ids: tuple[str, ...], every: bool,
            code: str | None) -> list[RejectedRecord]:
    if bool(ids) == every:
        raise click.UsageError("name the contacts (HUBSPOT_ID ...) or pass --all")
    records = rejected_records(store.engine, pipeline, ids=None if every else ids, code=code)
    unknown = sorted(set(ids) - {r.hubspot_id for r in records})
    if unknown:
        stderr.print(f"not rejected{' with ' + code if code else ''}: {', '.join(unknown)}", highlight=False)
    return records


@rejected.command("retry")
@click.argument("hubspot_ids", nargs=-1)
@config_option
@click.option("--all", "every", is_flag=True, help="Every rejected record (with --code: every one with that code).")
@click.option("--code", help="Only rejections with this error code.")
@click.option("--dry-run", is_flag=True, help="Read and plan them, show what would be sent, write nothing.")
def retry(hubspot_ids: tuple[str, ...], config_path: Path | None, every: bool, code: str | None,
          dry_run: bool) -> None:
    """Re-send these rejected records now, after fixing the data, the mapping or the target.

    Exit 0 when all landed, 3 when some are still refused (they are listed).

    \b
    Example:
      syncd rejected retry 101 102
      syncd rejected retry --all --code STRING_TOO_LONG
    """
    loaded = _load(config_path, credentials=True)
    settings = loaded.settings
    human = configure_logging(settings.logging.format, settings.logging.level, settings.secret_values())
    pipeline = settings.sync.pipeline
    dry_run = dry_run or settings.sync.dry_run
    try:
        store = app.open_store(settings)
    except SyncdError as exc:
        raise fail(exc) from None
    results: list[RunResult] = []
    try:
        records = _chosen(store, pipeline, hubspot_ids, every, code)
        by_leg = {leg: [r.hubspot_id for r in records if r.leg == leg] for leg in LEGS}
        if loaded.mapping.feedback is None:
            by_leg["back"] = []          # nothing to carry back with: the back leg cannot run
        with (nullcontext() if dry_run else holding(store, pipeline, "once")) as lease, \
                graceful_stop() as stop_requested:
            def should_stop() -> bool:
                return stop_requested() or (lease is not None and not lease.held)

            connectors = Connectors.build(loaded)
            try:
                for leg, ids in by_leg.items():
                    if ids and not should_stop():
                        results.append(retry_rejected(loaded, store, connectors, leg, ids, dry_run=dry_run,
                                                      should_stop=should_stop))
            finally:
                connectors.close()
        chosen = [r.hubspot_id for r in records]
        still = rejected_records(store.engine, pipeline, ids=chosen) if chosen else []
    except SyncdError as exc:               # LockHeld: another syncer runs this pipeline
        raise fail(exc) from None
    finally:
        store.close()
    raise Exit(_report(records, still, results, dry_run=dry_run, human=human))


def _report(records: list[RejectedRecord], still: list[RejectedRecord], results: list[RunResult], *,
            dry_run: bool, human: bool) -> int:
    """Print what landed and what is still refused; the exit code."""
    refused = {(r.leg, r.hubspot_id) for r in still}
    landed = [r for r in records if (r.leg, r.hubspot_id) not in refused]
    planned = sum(len(result.planned) + len(result.planned_updates) for result in results)
    failed = [result for result in results if result.error is not None]
    if human:
        if dry_run:
            stdout.print(f"dry run: would re-send {planned} of {len(records)} rejected records; nothing was written",
                         highlight=False)
        else:
            stdout.print(f"{len(landed)} cleared (landed, unchanged or no longer to be sent), {len(still)} still "
                         "refused", highlight=False)
            if still:
                stdout.print(console.rejected_table([{"leg": r.leg, "hubspot_id": r.hubspot_id,
                                                      "field": field_of(r), "code": r.code, "message": r.message,
                                                      "attempts": r.attempts} for r in still],
                                                    details=False, title="Still refused"))
        for result in failed:
            stderr.print(f"[red]error:[/red] {result.error}", highlight=False)
    else:
        print(json.dumps({"event": "rejected.retried", "dry_run": dry_run, "planned": planned if dry_run else None,
                          "landed": [] if dry_run else [{"leg": r.leg, "hubspot_id": r.hubspot_id} for r in landed],
                          "still_refused": [] if dry_run else [
                              {"leg": r.leg, "hubspot_id": r.hubspot_id, "field": field_of(r), "code": r.code,
                               "message": r.message} for r in still]}))
    if failed:
        return int(failed[0].exit_code)
    if dry_run:
        return int(ExitCode.OK)
    return int(ExitCode.RECORDS_REJECTED if still else ExitCode.OK)


@rejected.command("clear")
@click.argument("hubspot_ids", nargs=-1)
@config_option
@click.option("--all", "every", is_flag=True, help="Every rejected record (with --code: every one with that code).")
@click.option("--code", help="Only rejections with this error code.")
def clear(hubspot_ids: tuple[str, ...], config_path: Path | None, every: bool, code: str | None) -> None:
    """Forget these rejections (the admin decided; nothing is sent). Logged as `rejected.cleared`.

    \b
    Example:
      syncd rejected clear 101
      syncd rejected clear --all --code OBJECT_NOT_FOUND
    """
    loaded = _load(config_path, credentials=False)
    settings = loaded.settings
    configure_logging(settings.logging.format, settings.logging.level, settings.secret_values())
    try:
        store = app.open_store(settings)
    except SyncdError as exc:
        raise fail(exc) from None
    try:
        records = _chosen(store, settings.sync.pipeline, hubspot_ids, every, code)
        gone = clear_rejections(store.engine, settings.sync.pipeline, records)
    except SyncdError as exc:
        raise fail(exc) from None
    finally:
        store.close()
    for leg in LEGS:
        ids = [r.hubspot_id for r in records if r.leg == leg]
        if ids:
            log.info("rejected.cleared", pipeline=settings.sync.pipeline, leg=leg, records=len(ids), hubspot_ids=ids,
                     codes=sorted({r.code for r in records if r.leg == leg}))
    stderr.print(f"cleared {gone} rejected record{'s' if gone != 1 else ''}", highlight=False)
