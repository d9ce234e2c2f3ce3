"""`syncd agreement report`: one month of the Sales–Marketing agreement, both sides, as a terminal
table, CSV or JSON (``AgreementMonth``, built by ``syncd.plan.agreement.build_month``).

Marketing's side: SQLs delivered against the target; the share meeting each part of the lead
definition; by source and by campaign. Sales' side: the share first contacted within Y hours;
median and 90th percentile hours to first contact; the share of leads closed as not converted
that had at least Z attempts; by owner. Shares are 0..1 in JSON and CSV, percentages in the table.
An owner is named and identified: "Name (005…)" in the table, ``label`` beside ``key`` (the Id) in
CSV and JSON; an owner whose name is not read yet shows its Id alone.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any

from rich.table import Table

from syncd.core.agreement import AgreementMonth, ShareRow

DEFINITIONS = {
    "delivered": "leads handed over in the month (hand-over time, in the agreement's time zone)",
    "part_shares": "of the delivered leads the definition was evaluated for, the share meeting each part",
    "contacted_within_share": "of the delivered leads contacted, or not contacted by their deadline: the share "
                              "first contacted by the deadline (Y hours; business hours when configured)",
    "median_hours / p90_hours": "hours from hand-over to the first counted attempt (business hours when "
                                "configured); p90: statistics.quantiles(n=10, method='inclusive')",
    "attempts_met_share": "of the leads closed as not converted, the share with at least Z attempts",
    "states": "each delivered lead's state now: on_time, due_soon, breached, closed_too_few_attempts",
}


def to_json(month: AgreementMonth) -> str:
    return json.dumps({**dataclasses.asdict(month), "definitions": DEFINITIONS}, indent=2)


def _rows(section: str, rows: list[ShareRow], measure: str) -> list[list[Any]]:
    out = []
    for row in rows:
        label = _blank(row.label)
        out.append([section, row.key, row.leads, measure, _blank(row.share), label])
        out += [[section, row.key, row.leads, name, _blank(value), label] for name, value in row.extra.items()]
    return out


def _blank(value: Any) -> Any:
    return "" if value is None else value


def to_csv(month: AgreementMonth) -> str:
    """One measure a line: section, key, leads, measure, value, label (the owner's name; blank for
    other sections): a long table any sheet can pivot."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "key", "leads", "measure", "value", "label"])
    summary = {"target": month.target, "delivered": month.delivered,
               "contacted_within_share": month.contacted_within_share, "median_hours": month.median_hours,
               "p90_hours": month.p90_hours, "attempts_met_share": month.attempts_met_share}
    writer.writerows([["month", month.month, month.delivered, name, _blank(value), ""]
                      for name, value in summary.items()])
    writer.writerows([["part", part, month.delivered, "share", _blank(share), ""]
                      for part, share in month.part_shares.items()])
    writer.writerows([["state", state, count, "leads", count, ""] for state, count in month.states.items()])
    writer.writerows(_rows("source", month.by_source, "all_parts_share"))
    writer.writerows(_rows("campaign", month.by_campaign, "all_parts_share"))
    writer.writerows(_rows("owner", month.by_owner, "contacted_within_share"))
    return out.getvalue()


def owner_label(row: ShareRow) -> str:
    """"Name (Id)" once the name is read, the Id alone before."""
    return f"{row.label} ({row.key})" if row.label else row.key


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _groups(title: str, rows: list[ShareRow], parts: list[str]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("key", overflow="fold")
    for label in ("leads", "all parts", *parts):
        table.add_column(label, justify="right", overflow="fold")
    for row in rows:
        table.add_row(row.key, str(row.leads), _pct(row.share), *(_pct(row.extra.get(p)) for p in parts))
    return table


def to_table(month: AgreementMonth) -> list[Table]:
    where = f"{month.month} ({month.time_zone})"
    marketing = Table(title=f"Marketing's side — {where}", title_justify="left")
    marketing.add_column("measure", overflow="fold")
    marketing.add_column("value", justify="right")
    marketing.add_row("SQLs delivered / target", f"{month.delivered} / {month.target}")
    for part, share in month.part_shares.items():
        marketing.add_row(f"meeting {part}", _pct(share))
    parts = list(month.part_shares)
    sales = Table(title=f"Sales' side — {where}", title_justify="left")
    sales.add_column("measure", overflow="fold")
    sales.add_column("value", justify="right")
    sales.add_row("contacted within the deadline", _pct(month.contacted_within_share))
    sales.add_row("hours to first contact: median", _hours(month.median_hours))
    sales.add_row("hours to first contact: 90th percentile", _hours(month.p90_hours))
    sales.add_row("closed with enough attempts", _pct(month.attempts_met_share))
    for state, count in month.states.items():
        sales.add_row(f"now {state.replace('_', ' ')}", str(count))
    owners = Table(title="By owner", title_justify="left")
    for label in ("owner", "leads", "contacted\nin time", "median\nhours", "p90\nhours", "enough\nattempts"):
        owners.add_column(label, justify="left" if label == "owner" else "right", overflow="fold")
    for row in month.by_owner:
        owners.add_row(owner_label(row), str(row.leads), _pct(row.share), _hours(row.extra.get("median_hours")),
                       _hours(row.extra.get("p90_hours")), _pct(row.extra.get("attempts_met_share")))
    return [marketing, _groups("By source", month.by_source, parts),
            _groups("By campaign", month.by_campaign, parts), sales, owners]
