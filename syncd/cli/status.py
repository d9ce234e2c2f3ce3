"""`syncd status`: who is syncing, the last runs, the watermarks and the rejected records."""

from __future__ import annotations

import json
from pathlib import Path

import click

from state.db import database_clock
from state.lease import current_lease, holder_running, this_host_key
from state.outcomes import OutcomeStore
from syncd import app
from syncd.cli import console
from syncd.cli.common import config_option, fail, stdout
from syncd.core.errors import ConfigError


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=10, show_default=True, help="How many runs and rejections to show.")
def status(config_path: Path | None, as_json: bool, limit: int) -> None:
    """Show who is syncing (the lock holder and its next cycle), the last runs, their counts,
    the watermarks and the rejected records. A holder whose process is gone (same host) or whose
    heartbeat is older than the lease's TTL (any host) is shown as such: the next syncer takes over.

    \b
    Example:
      syncd status
      syncd status --json | jq .rejections
      syncd status --json | jq .lock.next_run_at
    """
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
    if as_json:
        print(json.dumps({
            "pipeline": pipeline, "linked_contacts": links, "rejected_records": rejected_total,
            "moved_leads": moved_leads, "moved_contacts": moved_contacts,
            "lock": {**lease.as_dict(now), "holder_running": running} if lease else None,
            "runs": [r.model_dump(mode="json") for r in runs],
            "watermarks": {c.name: c.value for c in cursors},
            "clock_skew_seconds": console.skews({c.name: c.value for c in cursors}),
            "rejections": [r.model_dump(mode="json") for r in rejections],
            "feedback_rejections": [r.model_dump(mode="json") for r in feedback_rejections],
        }, indent=2, default=str))
        return
    stdout.print(f"pipeline [bold]{pipeline}[/bold]: {links} contacts linked to Salesforce, "
                 f"{rejected_total} rejected records", highlight=False)
    if moved_leads:
        stdout.print(f"{moved_leads.get('deleted', 0)} contacts unlinked (their Lead was deleted in Salesforce), "
                     f"{moved_leads.get('held', 0)} held (merged into another contact's Lead: someone decides)",
                     highlight=False)
    if moved_contacts:      # HubSpot contacts merged, archived or deleted (README "Records that move")
        stdout.print("contacts that moved (kind/action): " + ", ".join(
            f"{k} {n}" for k, n in sorted(moved_contacts.items())), highlight=False)
    stdout.print(console.lock_line(lease, now, running), highlight=False)
    for line in console.skew_lines({c.name: c.value for c in cursors}):
        stdout.print(line, highlight=False)
    stdout.print(console.runs_table(runs) if runs else "no runs yet")
    if cursors:
        stdout.print(console.cursors_table(cursors))
    if rejections:
        stdout.print(console.rejections_table(rejections, "Rejected by Salesforce or the mapping (forward)"))
    if feedback_rejections:
        stdout.print(console.rejections_table(feedback_rejections, "Outcomes HubSpot refused (back)"))
