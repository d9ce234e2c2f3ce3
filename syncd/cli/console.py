"""What a person at a terminal sees: a progress bar while a run works, tables when it ends.

Cells fold rather than end in "…": a narrow terminal wraps a value onto more lines, never loses it."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from state.lease import LeaseInfo
from state.models import CursorRow, RejectionRow, RunRow
from syncd.core.records import Rejection
from syncd.run.clock import SKEW_WARNING_SECONDS, parse_skew, skew_cursor
from syncd.run.result import RunResult

COUNT_LABELS = {
    "read": "contacts read from HubSpot",
    "created": "Leads created",
    "updated": "Leads updated",
    "linked_by_email": "  of which linked to an existing Lead by email",
    "contact_updates": "converted Leads: Contacts updated",
    "unchanged": "unchanged (nothing to write)",
    "rejected": "rejected by Salesforce or the mapping",
    "still_rejected": "still rejected (unchanged since)",
    "skipped_converted": "converted Leads skipped (per mapping)",
    "not_qualified": "not qualified (not sent)",
    "future_dated": "dated ahead of HubSpot's clock (synced, read again each run)",
}
# The back leg (syncd.run.back): Salesforce outcomes -> HubSpot contacts.
BACK_COUNT_LABELS = {
    "leads_read": "Leads read from Salesforce",
    "opportunities_read": "Opportunities read from Salesforce",
    "updated": "HubSpot contacts updated with their outcome",
    "would_update": "HubSpot contacts that would be updated (dry run)",
    "unchanged": "unchanged outcome (nothing to write)",
    "no_outcome": "Leads Sales has not worked yet",
    "lifecycle_moved": "lifecycle stages moved forward",
    "lifecycle_kept": "lifecycle stages kept (never moved back)",
    "ignored": "Leads syncd did not hand over (ignored)",
    "rejected": "rejected by HubSpot (e.g. contact deleted)",
    "still_rejected": "still rejected (unchanged since)",
}


class RunProgress:
    """Implements syncd.core.ports.Progress with a rich progress bar on stderr."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console, transient=True)
        self._read = self._progress.add_task("reading HubSpot", total=None)
        self._write = self._progress.add_task("writing Salesforce", total=None)

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def pause(self) -> None:
        """Off the screen while something else prints or asks (`syncd backfill`'s estimate)."""
        self._progress.stop()

    def resume(self) -> None:
        self._progress.start()

    def started(self, total: int | None) -> None:
        self._progress.update(self._read, total=total)

    def read(self, contacts: int, total: int | None) -> None:
        self._progress.update(self._read, advance=contacts, total=total)

    def written(self, records: int) -> None:
        self._progress.update(self._write, advance=records)

    def working(self) -> None:
        pass           # the bars move with reads and writes; rendering shows as the spinner


def run_summary(result: RunResult) -> Table:
    status_style = {"ok": "green", "partial": "yellow", "failed": "red", "dry_run": "cyan"}.get(result.status, "")
    back = result.leg == "back"
    # A dry run creates and updates nothing: its list says what it would (decisions_summary).
    forward = ("read", "rejected") if result.status == "dry_run" else ("read", "created", "updated", "rejected")
    labels, always = (BACK_COUNT_LABELS, ("leads_read", "updated", "rejected")) if back else (COUNT_LABELS, forward)
    table = Table(title=f"syncd run {result.run_id[:8]}{' (back leg)' if back else ''} — "
                        f"[{status_style}]{result.status}[/] in {result.duration_seconds:.1f}s", title_justify="left")
    table.add_column("", style="dim", overflow="fold")
    table.add_column("count", justify="right", overflow="fold")
    for key, label in labels.items():
        value = result.counts.get(key, 0)
        if value or key in always:
            table.add_row(label, str(value))
    if result.api_calls:
        table.add_row("API calls (HubSpot / Salesforce)",
                      f"{result.api_calls.get('hubspot', 0)} / {result.api_calls.get('salesforce', 0)}")
    return table


def rejections_table(rows: list[RejectionRow] | list[Rejection], title: str = "Rejected records") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("HubSpot contact", overflow="fold")
    table.add_column("error code", style="red", overflow="fold")
    table.add_column("message", overflow="fold")
    for row in rows:
        table.add_row(row.hubspot_id, row.code, row.message)
    return table


def runs_table(runs: list[RunRow]) -> Table:
    table = Table(title="Last runs", title_justify="left")
    for column in ("started (UTC)", "leg", "status", "read", "created", "updated", "unchanged", "rejected", "duration"):
        table.add_column(column, justify="right" if column not in ("started (UTC)", "leg", "status") else "left",
                         overflow="fold")
    for run in runs:
        counts = run.counts or {}
        duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
        table.add_row(run.started_at.strftime("%Y-%m-%d %H:%M:%S"), getattr(run, "leg", "forward"), run.status,
                      *(str(counts.get(k, 0)) for k in ("read", "created", "updated", "unchanged", "rejected")),
                      f"{duration:.1f}s" if duration is not None else "running")
    return table


def cursors_table(cursors: list[CursorRow]) -> Table:
    table = Table(title="Watermarks", title_justify="left")
    table.add_column("stream", overflow="fold")
    table.add_column("value", overflow="fold")
    table.add_column("updated (UTC)", overflow="fold")
    for cursor in cursors:
        table.add_row(cursor.name, cursor.value, cursor.updated_at.strftime("%Y-%m-%d %H:%M:%S"))
    return table


def lock_line(lease: LeaseInfo | None, now: dt.datetime, running: bool | None = None) -> str:
    """Who is syncing this pipeline right now, and when the daemon's next cycle is. ``running``:
    whether the holder's process still runs, when this host can tell (``state.lease.holder_running``)."""
    if lease is None:
        return "lock: free (no syncer is running)"
    host, _, pid = lease.holder.rpartition(":")
    who = "daemon" if lease.kind == "daemon" else "run --once"
    age = max(0, round((now - lease.heartbeat_at).total_seconds()))
    since = lease.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if running is False:
        return (f"lock: [yellow]holder gone[/yellow] — {who} pid {pid} on {host} is not running (last heartbeat "
                f"{age}s ago); the next syncer takes the lease over at once")
    if lease.expired(now):
        return (f"lock: [yellow]stale[/yellow] — {who} pid {pid} on {host} stopped heart-beating {age}s ago; "
                f"the next syncer takes it over")
    line = f"lock: held by {who} pid {pid} on {host} since {since} (heartbeat {age}s ago)"
    if lease.next_run_at is not None:
        line += f"; next cycle at {lease.next_run_at.strftime('%Y-%m-%d %H:%M:%S UTC')}"
    return line


def skews(watermarks: dict[str, str]) -> dict[str, float]:
    """Each system's clock minus this host's, in seconds, as the last run measured it."""
    found = {}
    for system in ("hubspot", "salesforce"):
        skew = parse_skew(watermarks.get(skew_cursor(system)))
        if skew is not None:
            found[system] = skew
    return found


def skew_lines(watermarks: dict[str, str]) -> list[str]:
    """A warning line per system whose clock is far from this host's (`syncd status`)."""
    names = {"hubspot": "HubSpot", "salesforce": "Salesforce"}
    return [f"[yellow]clock:[/yellow] {names[system]}'s clock is {abs(skew):.0f} s "
            f"{'ahead of' if skew > 0 else 'behind'} this host's (last run); read windows follow "
            f"{names[system]}'s, but set this host's time right (NTP)"
            for system, skew in skews(watermarks).items() if abs(skew) > SKEW_WARNING_SECONDS]


def rejected_table(rows: list[dict], *, details: bool, title: str = "Rejected records") -> Table:
    """`syncd rejected list` (and `retry`'s still refused): one row per rejected record, both legs."""
    table = Table(title=title, title_justify="left")
    names = ["leg", "hubspot_id", *(("name", "email") if details else ()), "field", "code", "message", "attempts",
             *(("first_seen_at", "last_seen_at") if "last_seen_at" in (rows[0] if rows else {}) else ())]
    for name in names:
        table.add_column(name.replace("_", " "), overflow="fold", style="red" if name == "code" else None)
    for row in rows:
        table.add_row(*("" if row.get(name) is None else str(row[name]) for name in names))
    return table


# -- the dry run's list and `syncd preview` (syncd.plan.preview) --------------------------------------
ACTION_LABELS = {"create": "create Lead", "update": "update Lead", "update_contact": "update Contact",
                 "skip": "skip", "reject": "rejected"}
DECISION_COUNT_LABELS = {
    "create": "Leads that would be created",
    "update": "Leads that would be updated",
    "update_contact": "converted Leads' Contacts that would be updated",
    "reject": "contacts the mapping cannot render (rejected)",
}


def _shown(value: object) -> str:
    """A value in full (the table folds long ones, it never cuts them); empty reads as —."""
    return "—" if value in (None, "") else str(value)


def decisions_table(decisions: list, *, title: str, show_unchanged: bool = False, limit: int | None = None) -> Table:
    """One section per record: the contact, which write (or skip, and why) to which record, and
    old → new for each field that changes."""
    table = Table(title=title, title_justify="left")
    table.add_column("HubSpot contact → write", overflow="fold")
    table.add_column("field", no_wrap=True)
    table.add_column("now in Salesforce", overflow="fold")
    table.add_column("→ would be", overflow="fold")
    for decision in decisions[:limit]:
        if decision.action in ("skip", "reject"):
            table.add_row(f"{decision.hubspot_id}\n{ACTION_LABELS[decision.action]}: {decision.reason}", "",
                          decision.detail, "", end_section=True)
            continue
        what = (f"{decision.hubspot_id}\n{ACTION_LABELS[decision.action]} {decision.how}\n"
                f"{decision.sobject} {decision.target_id or '(new)'}")
        rows = [(c.field, _shown(c.old), _shown(c.new)) for c in decision.changes]
        if show_unchanged:
            rows += [(name, _shown(decision.fields.get(name)), "(unchanged)") for name in decision.unchanged]
        rows = rows or [("", "(nothing changes)", "")]
        for i, (name, old, new) in enumerate(rows):
            table.add_row(what if i == 0 else "", name, old, new, end_section=i == len(rows) - 1)
    if limit is not None and len(decisions) > limit:
        table.add_row(f"… {len(decisions) - limit} more (--limit {limit})", "", "", "")
    return table


def decisions_summary(counts: dict[str, int]) -> Table:
    """The list's own counts: each line counts rows of the list below it."""
    table = Table(title="Would do (dry run; nothing was written)", title_justify="left")
    table.add_column("", style="dim")
    table.add_column("count", justify="right")
    for key, label in DECISION_COUNT_LABELS.items():
        table.add_row(label, str(counts.get(key, 0)))
    for key in sorted(k for k in counts if k.startswith("skip:")):
        table.add_row(f"skipped: {key.removeprefix('skip:').replace('_', ' ')}", str(counts[key]))
    return table
