"""`syncd status`: who is syncing, the last runs, the watermarks and the rejected records."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from state.db import database_clock
from state.lease import current_lease, holder_running, this_host_key
from state.models import RunRow
from state.outcomes import OutcomeStore
from syncd import app
from syncd.cli import console
from syncd.cli.common import (
    config_option,
    emit_tables,
    emit_text,
    fail,
    format_option,
    output_format,
    output_option,
)
from syncd.core.errors import ConfigError

RUN_COUNTS = ("read", "created", "updated", "unchanged", "rejected")


@click.command()
@config_option
@format_option("table (in a pipe too, uncut); csv: the runs, one a row")
@output_option
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--limit", default=10, show_default=True, help="How many runs and rejections to show.")
def status(config_path: Path | None, fmt: str | None, output: Path | None, as_json: bool, limit: int) -> None:
    """Show who is syncing (the lock holder and its next cycle), the last runs, their counts,
    the watermarks and the rejected records. A holder whose process is gone (same host) or whose
    heartbeat is older than the lease's TTL (any host) is shown as such: the next syncer takes over.

    \b
    Example:
      syncd status
      syncd status --format json | jq .rejections
      syncd status --format csv -o runs.csv
      syncd status -o status.txt          # the tables, uncut
    """
    # A table in a pipe too (`syncd status | less`), as before --format existed; tables are uncut there.
    fmt = output_format("json" if as_json and fmt is None else fmt, output, piped="table")
    try:
        loaded = app.load(config_path, require_credentials=False)
    except ConfigError as exc:
        raise fail(exc) from None
    store = app.open_store_for_reading(loaded.settings)
    pipeline = loaded.settings.sync.pipeline
    try:
        runs = store.recent_runs(pipeline, limit)
        cursors = store.cursors(pipeline)
        rejections = store.list_rejections(pipeline, limit)
        feedback_rejections = OutcomeStore(store).list_rejections(pipeline, limit)
        links, rejected_total = store.count_links(pipeline), store.count_rejections(pipeline)
        moved_leads = store.count_moved(pipeline)          # Salesforce Leads deleted or merged away
        moved_contacts = store.count_moves(pipeline)       # HubSpot contacts merged, archived or deleted
        lease, now = current_lease(store, pipeline), database_clock(store.engine)()
    finally:
        store.close()
    running = holder_running(lease, this_host_key()) if lease else None
    watermarks = {c.name: c.value for c in cursors}
    if fmt == "json":
        emit_text(json.dumps({
            "pipeline": pipeline, "linked_contacts": links, "rejected_records": rejected_total,
            "moved_leads": moved_leads, "moved_contacts": moved_contacts,
            "lock": {**lease.as_dict(now), "holder_running": running} if lease else None,
            "runs": [r.model_dump(mode="json") for r in runs],
            "watermarks": watermarks,
            "clock_skew_seconds": console.skews(watermarks),
            "rejections": [r.model_dump(mode="json") for r in rejections],
            "feedback_rejections": [r.model_dump(mode="json") for r in feedback_rejections],
        }, indent=2, default=str) + "\n", output)
        return
    if fmt == "csv":
        emit_text(runs_csv(runs), output)
        return
    shown: list = [(f"pipeline [bold]{pipeline}[/bold]: {links} contacts linked to Salesforce, "
                    f"{rejected_total} rejected records")]
    if moved_leads:
        shown.append(f"{moved_leads.get('deleted', 0)} contacts unlinked (their Lead was deleted in Salesforce), "
                     f"{moved_leads.get('held', 0)} held (merged into another contact's Lead: someone decides)")
    if moved_contacts:      # HubSpot contacts merged, archived or deleted (README "Records that move")
        shown.append("contacts that moved (kind/action): " + ", ".join(
            f"{k} {n}" for k, n in sorted(moved_contacts.items())))
    shown.append(console.lock_line(lease, now, running))
    shown += console.skew_lines(watermarks)
    shown.append(console.runs_table(runs) if runs else "no runs yet")
    if cursors:
        shown.append(console.cursors_table(cursors))
    if rejections:
        shown.append(console.rejections_table(rejections, "Rejected by Salesforce or the mapping (forward)"))
    if feedback_rejections:
        shown.append(console.rejections_table(feedback_rejections, "Outcomes HubSpot refused (back)"))
    emit_tables(shown, output)


def runs_csv(runs: list[RunRow]) -> str:
    """The runs, newest first, one a row under a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run_id", "leg", "status", "dry_run", "started_at", "finished_at", *RUN_COUNTS, "error"])
    for run in runs:
        counts = run.counts or {}
        writer.writerow([run.id, run.leg, run.status, run.dry_run, run.started_at.isoformat(),
                         run.finished_at.isoformat() if run.finished_at else "",
                         *(counts.get(k, 0) for k in RUN_COUNTS), run.error or ""])
    return out.getvalue()
