"""What a person at a terminal sees: a progress bar while a run works, tables when it ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from state.models import CursorRow, RejectionRow, RunRow
    from syncd.runner import RunResult

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
}


class RunProgress:
    """Implements syncd.runner.Progress with a rich progress bar on stderr."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console, transient=True)
        self._read = self._progress.add_task("reading HubSpot", total=None)
        self._write = self._progress.add_task("writing Salesforce", total=None)

    def __enter__(self) -> "RunProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def started(self, total: int | None) -> None:
        self._progress.update(self._read, total=total)

    def read(self, contacts: int, total: int | None) -> None:
        self._progress.update(self._read, advance=contacts, total=total)

    def written(self, records: int) -> None:
        self._progress.update(self._write, advance=records)


def run_summary(result: "RunResult") -> Table:
    status_style = {"ok": "green", "partial": "yellow", "failed": "red", "dry_run": "cyan"}.get(result.status, "")
    table = Table(title=f"syncd run {result.run_id[:8]} — [{status_style}]{result.status}[/] "
                        f"in {result.duration_seconds:.1f}s", title_justify="left")
    table.add_column("", style="dim")
    table.add_column("count", justify="right")
    for key, label in COUNT_LABELS.items():
        value = result.counts.get(key, 0)
        if value or key in ("read", "created", "updated", "rejected"):
            table.add_row(label, str(value))
    if result.api_calls:
        table.add_row("API calls (HubSpot / Salesforce)",
                      f"{result.api_calls.get('hubspot', 0)} / {result.api_calls.get('salesforce', 0)}")
    return table


def rejections_table(rows: list["RejectionRow"], title: str = "Rejected records") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("HubSpot contact")
    table.add_column("error code", style="red")
    table.add_column("message", overflow="fold")
    for row in rows:
        table.add_row(row.hubspot_id, row.code, row.message)
    return table


def planned_table(writes: list, limit: int = 20) -> Table:
    table = Table(title=f"Would write {len(writes)} records (dry run; nothing was written)", title_justify="left")
    table.add_column("HubSpot contact")
    table.add_column("action")
    table.add_column("target")
    table.add_column("fields", overflow="fold")
    for write in writes[:limit]:
        action = {"upsert": "upsert Lead", "lead_update": "update Lead (matched by email)",
                  "contact_update": "update converted Contact"}[write.kind]
        fields = ", ".join(f"{k}={str(v)[:30]!s}" for k, v in write.fields.items()
                           if v not in (None, "") and k != "Description")
        table.add_row(write.hubspot_id, action, write.target_id or "(by external id)", fields)
    if len(writes) > limit:
        table.add_row("…", f"{len(writes) - limit} more", "", "")
    return table


def runs_table(runs: list["RunRow"]) -> Table:
    table = Table(title="Last runs", title_justify="left")
    for column in ("started (UTC)", "status", "read", "created", "updated", "unchanged", "rejected", "duration"):
        table.add_column(column, justify="right" if column not in ("started (UTC)", "status") else "left")
    for run in runs:
        counts = run.counts or {}
        duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
        table.add_row(run.started_at.strftime("%Y-%m-%d %H:%M:%S"), run.status,
                      *(str(counts.get(k, 0)) for k in ("read", "created", "updated", "unchanged", "rejected")),
                      f"{duration:.1f}s" if duration is not None else "running")
    return table


def cursors_table(cursors: list["CursorRow"]) -> Table:
    table = Table(title="Watermarks", title_justify="left")
    table.add_column("stream")
    table.add_column("value")
    table.add_column("updated (UTC)")
    for cursor in cursors:
        table.add_row(cursor.name, cursor.value, cursor.updated_at.strftime("%Y-%m-%d %H:%M:%S"))
    return table

