"""`syncd report`: the closed-loop report — which leads turn into revenue, and why the others don't.

Read from the state database only (no API calls): every contact handed over in the period, by
marketing source, campaign and first converting content (recorded at hand-over), with what Sales
did with it (recorded by the back leg). A cohort report: the period selects leads by **hand-over
time**, and counts what has happened to them since, up to the last run.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from state.outcomes import ReportRow

GROUPINGS = ("source", "campaign", "content")
NONE = "(none)"
NO_REASON = "(no reason)"
TOTAL = "TOTAL"
METRICS = ("handed_over", "contacted", "disqualified", "opportunities", "won", "lost", "win_rate", "revenue",
           "median_hours_to_first_contact", "median_hours_to_close")

DEFINITIONS = {
    "handed_over": "contacts syncd handed to Salesforce in the period (by hand-over time: a cohort)",
    "contacted": "of those, how many Sales has worked: moved out of an open status, disqualified or converted",
    "disqualified": "Lead status is a disqualified status now (by the Lead's reason field)",
    "opportunities": "converted into an Opportunity (open, won or lost)",
    "won": "the Opportunity is closed and won",
    "lost": "the Opportunity is closed and not won (by its loss-reason field)",
    "win_rate": "won / (won + lost); empty when nothing closed yet",
    "revenue": "sum of the Amount of won Opportunities",
    "median_hours_to_first_contact": "median hours from hand-over to the first time syncd saw the Lead worked "
                                     "(LastModifiedDate of that change; 0 if it was already worked)",
    "median_hours_to_close": "median hours from hand-over to the first time syncd saw the Opportunity closed "
                             "(won or lost)",
}


@dataclass
class GroupMetrics:
    key: tuple[str, ...]
    handed_over: int = 0
    contacted: int = 0
    disqualified: int = 0
    opportunities: int = 0
    won: int = 0
    lost: int = 0
    revenue: float = 0.0
    disqualified_by_reason: Counter = field(default_factory=Counter)
    lost_by_reason: Counter = field(default_factory=Counter)
    hours_to_first_contact: list[float] = field(default_factory=list)
    hours_to_close: list[float] = field(default_factory=list)

    def add(self, row: ReportRow) -> None:
        self.handed_over += 1
        if row.first_contacted_at is not None or row.outcome is not None:
            self.contacted += 1
            if row.first_contacted_at is not None:
                self.hours_to_first_contact.append(_hours(row.handed_over_at, row.first_contacted_at))
        self.opportunities += int(row.opportunity)
        if row.outcome == "disqualified":
            self.disqualified += 1
            self.disqualified_by_reason[row.disqualified_reason or NO_REASON] += 1
        elif row.outcome == "won":
            self.won += 1
            self.revenue += row.amount or 0.0
        elif row.outcome == "lost":
            self.lost += 1
            self.lost_by_reason[row.loss_reason or NO_REASON] += 1
        if row.outcome in ("won", "lost") and row.closed_at is not None:
            self.hours_to_close.append(_hours(row.handed_over_at, row.closed_at))

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return round(self.won / closed, 4) if closed else None

    @property
    def median_hours_to_first_contact(self) -> float | None:
        return _median(self.hours_to_first_contact)

    @property
    def median_hours_to_close(self) -> float | None:
        return _median(self.hours_to_close)

    def metrics(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in METRICS} | {"revenue": round(self.revenue, 2)}


def _hours(start: dt.datetime, end: dt.datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


@dataclass
class Report:
    by: tuple[str, ...]
    since: dt.datetime | None
    until: dt.datetime | None
    groups: list[GroupMetrics]
    totals: GroupMetrics


def build_report(rows: Iterable[ReportRow], by: Sequence[str] = ("source",), *,
                 since: dt.datetime | None = None, until: dt.datetime | None = None) -> Report:
    """Group handed-over contacts and count their outcomes (the definitions are in DEFINITIONS)."""
    by = tuple(by)
    groups: dict[tuple[str, ...], GroupMetrics] = {}
    totals = GroupMetrics((TOTAL,) + ("",) * (len(by) - 1))
    for row in rows:
        key = tuple(getattr(row, name) or NONE for name in by)
        groups.setdefault(key, GroupMetrics(key)).add(row)
        totals.add(row)
    ordered = sorted(groups.values(), key=lambda g: (-g.won, -g.handed_over, g.key))
    return Report(by, since, until, ordered, totals)


# -- rendering -------------------------------------------------------------------------------
def _reasons(counter: Counter) -> str:
    return "; ".join(f"{reason}={n}" for reason, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.timezone.utc).isoformat() if moment else None


def to_json(report: Report) -> str:
    def group(g: GroupMetrics) -> dict[str, Any]:
        return {**dict(zip(report.by, g.key)), **g.metrics(),
                "disqualified_by_reason": dict(sorted(g.disqualified_by_reason.items())),
                "lost_by_reason": dict(sorted(g.lost_by_reason.items()))}

    totals = group(report.totals)
    for name in report.by:
        totals.pop(name)
    return json.dumps({"period": {"since": _iso(report.since), "until": _iso(report.until), "by": "hand-over time"},
                       "group_by": list(report.by), "groups": [group(g) for g in report.groups],
                       "totals": totals, "definitions": DEFINITIONS}, indent=2)


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*report.by, *METRICS, "disqualified_reasons", "lost_reasons"])
    for g in [*report.groups, report.totals]:
        metrics = g.metrics()
        writer.writerow([*g.key, *("" if metrics[m] is None else metrics[m] for m in METRICS),
                         _reasons(g.disqualified_by_reason), _reasons(g.lost_by_reason)])
    return out.getvalue()


def _money(value: float) -> str:
    return f"{value:,.0f}" if value else "0"


def _maybe(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def to_table(report: Report) -> list[Table]:
    period = " to ".join(x for x in (report.since and f"from {report.since:%Y-%m-%d %H:%M}",
                                     report.until and f"before {report.until:%Y-%m-%d %H:%M}") if x) or "all time"
    table = Table(title=f"Closed loop by {' / '.join(report.by)} — leads handed over {period} (UTC)",
                  title_justify="left")
    for name in report.by:
        table.add_column(name, overflow="fold")       # folded, never cut with "…"
    for label in ("handed\nover", "con-\ntacted", "disqua-\nlified", "oppor-\ntunities", "won", "lost", "win\nrate",
                  "revenue", "hours to\ncontact", "hours\nto close"):
        table.add_column(label, justify="right", overflow="fold")

    def cells(g: GroupMetrics) -> list[str]:
        return [*g.key, str(g.handed_over), str(g.contacted), str(g.disqualified), str(g.opportunities),
                str(g.won), str(g.lost), _maybe(g.win_rate, ".0%"), _money(g.revenue),
                _maybe(g.median_hours_to_first_contact, ".1f"), _maybe(g.median_hours_to_close, ".1f")]

    for g in report.groups:
        table.add_row(*cells(g))
    table.add_section()
    table.add_row(*cells(report.totals), style="bold")
    why = Table(title="Why the others did not sell", title_justify="left")
    for name in report.by:
        why.add_column(name, overflow="fold")
    why.add_column("disqualified (by reason)", overflow="fold")
    why.add_column("lost (by reason)", overflow="fold")
    for g in report.groups:
        if g.disqualified_by_reason or g.lost_by_reason:
            why.add_row(*g.key, _reasons(g.disqualified_by_reason) or "—", _reasons(g.lost_by_reason) or "—")
    return [table, why] if why.row_count else [table]
