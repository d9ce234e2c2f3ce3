"""The agreement applied to handed-over leads, purely: each lead's deadline and state at a moment,
and one month of both sides (``AgreementMonth``) for the report and the status page.

States (``SlaState``), first match wins, at ``now``:

1. closed as not converted with fewer than Z attempts: ``closed_too_few_attempts``;
2. first contacted by the deadline: ``on_time``; after it: ``breached``;
3. not contacted and the deadline passed: ``breached``;
4. not contacted and fewer than ``due_soon_hours`` left: ``due_soon``;
5. otherwise ``on_time``.

The deadline is the hand-over plus Y hours, and "hours left" are counted the same way: business
hours when the agreement sets them (``syncd.agreement.clock``), else every hour. So is the time to
first contact in the report: business hours with business hours configured, else wall-clock hours.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from syncd.agreement.clock import Calendar, month_bounds
from syncd.agreement.model import Agreement
from syncd.core.agreement import AgreementMonth, ShareRow, SlaState, TrackedLead

NONE = "(none)"


def deadline(lead: TrackedLead, agreement: Agreement, calendar: Calendar | None = None) -> dt.datetime:
    calendar = calendar or Calendar.of(agreement)
    return calendar.add_hours(lead.handed_over_at, agreement.first_contact.within_hours)


def due_soon_from(lead: TrackedLead, agreement: Agreement, calendar: Calendar | None = None) -> dt.datetime | None:
    """When the lead becomes due soon (None: no warning window)."""
    first = agreement.first_contact
    if not first.due_soon_hours:
        return None
    calendar = calendar or Calendar.of(agreement)
    return calendar.add_hours(lead.handed_over_at, first.within_hours - first.due_soon_hours)


def closed_not_converted(lead: TrackedLead) -> bool:
    return lead.closed_at is not None and not lead.converted


def classify(lead: TrackedLead, agreement: Agreement, now: dt.datetime,
             calendar: Calendar | None = None) -> SlaState:
    calendar = calendar or Calendar.of(agreement)
    if closed_not_converted(lead) and lead.attempts < agreement.attempts.minimum:
        return SlaState.CLOSED_TOO_FEW_ATTEMPTS
    due = deadline(lead, agreement, calendar)
    if lead.first_contact_at is not None:
        return SlaState.ON_TIME if lead.first_contact_at <= due else SlaState.BREACHED
    if now >= due:
        return SlaState.BREACHED
    soon = due_soon_from(lead, agreement, calendar)
    if soon is not None and now >= soon:
        return SlaState.DUE_SOON
    return SlaState.ON_TIME


def hours_to_first_contact(lead: TrackedLead, calendar: Calendar) -> float | None:
    """Hours from hand-over to the first attempt (business hours when configured); None if none yet."""
    if lead.first_contact_at is None:
        return None
    return calendar.hours_between(lead.handed_over_at, lead.first_contact_at)


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile, ``statistics.quantiles(n=10, method="inclusive")``: linear interpolation
    between the closest ranks (numpy's default, Excel's PERCENTILE.INC); one value is its own p90."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _share(hits: int, of: int) -> float | None:
    return hits / of if of else None


class _Judged:
    """One lead with what the month needs about it, computed once."""

    def __init__(self, lead: TrackedLead, agreement: Agreement, calendar: Calendar, now: dt.datetime) -> None:
        self.lead = lead
        self.state = classify(lead, agreement, now, calendar)
        self.deadline = deadline(lead, agreement, calendar)
        self.hours = hours_to_first_contact(lead, calendar)
        contacted = lead.first_contact_at is not None
        # Measurable for "contacted within Y": contacted, or the deadline passed without it.
        self.measured = contacted or now >= self.deadline
        self.within = contacted and lead.first_contact_at <= self.deadline   # type: ignore[operator]
        self.closed = closed_not_converted(lead)
        self.enough_attempts = lead.attempts >= agreement.attempts.minimum


def _sales_side(judged: list[_Judged]) -> tuple[float | None, list[float], float | None]:
    measured = [j for j in judged if j.measured]
    hours = [j.hours for j in judged if j.hours is not None]
    closed = [j for j in judged if j.closed]
    return (_share(sum(j.within for j in measured), len(measured)), hours,
            _share(sum(j.enough_attempts for j in closed), len(closed)))


def _parts_shares(judged: list[_Judged], parts: Iterable[str]) -> dict[str, float | None]:
    """Share of leads meeting each part, among the leads the part was evaluated for (a lead handed
    over before the agreement was configured has no parts recorded and is left out)."""
    shares: dict[str, float | None] = {}
    for part in parts:
        known = [j.lead.parts[part] for j in judged if part in j.lead.parts]
        shares[part] = _share(sum(known), len(known))
    return shares


def _grouped(judged: list[_Judged], key: Callable[[TrackedLead], str | None]) -> dict[str, list[_Judged]]:
    groups: dict[str, list[_Judged]] = defaultdict(list)
    for j in judged:
        groups[key(j.lead) or NONE].append(j)
    return dict(sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])))


def _marketing_rows(judged: list[_Judged], key: Callable[[TrackedLead], str | None],
                    parts: list[str]) -> list[ShareRow]:
    """Per group: leads, the share meeting every part, and the share meeting each part."""
    rows = []
    for name, group in _grouped(judged, key).items():
        evaluated = [j for j in group if j.lead.parts]
        every = _share(sum(all(j.lead.parts.get(p, False) for p in parts) for j in evaluated), len(evaluated))
        rows.append(ShareRow(name, len(group), every, dict(_parts_shares(group, parts))))
    return rows


def _owner_rows(judged: list[_Judged]) -> list[ShareRow]:
    """Per owner: leads, the share contacted within Y, median and p90 hours, the attempts share.
    Keyed by the owner's Id (two people may share a name; a renamed one stays one owner), labelled
    with the name the tracking step read (None until it is read)."""
    rows = []
    for owner_id, group in _grouped(judged, lambda lead: lead.owner_id).items():
        within, hours, attempts = _sales_side(group)
        label = next((j.lead.owner_name for j in group if j.lead.owner_name), None)
        rows.append(ShareRow(owner_id, len(group), within, {
            "median_hours": _median(hours), "p90_hours": p90(hours), "attempts_met_share": attempts,
            "closed_not_converted": sum(j.closed for j in group),
            "breached": sum(j.state is SlaState.BREACHED for j in group)}, label=label))
    return rows


def build_month(leads: Iterable[TrackedLead], agreement: Agreement, month: str, now: dt.datetime) -> AgreementMonth:
    """One month ("2026-11", in the agreement's time zone) of both sides, at ``now``: the leads
    handed over in that month, and what Sales did with them since."""
    calendar = Calendar.of(agreement)
    start, end = month_bounds(month, agreement.zone)
    judged = [_Judged(lead, agreement, calendar, now) for lead in leads if start <= lead.handed_over_at < end]
    parts = list(agreement.definition)
    within, hours, attempts = _sales_side(judged)
    states = {state.value: 0 for state in SlaState}
    for j in judged:
        states[j.state.value] += 1
    return AgreementMonth(
        month=month, time_zone=agreement.time_zone, target=agreement.target.sqls_per_month,
        delivered=len(judged), part_shares=_parts_shares(judged, parts),
        by_source=_marketing_rows(judged, lambda lead: lead.source, parts),
        by_campaign=_marketing_rows(judged, lambda lead: lead.campaign, parts),
        contacted_within_share=within, hours_to_first_contact=sorted(hours),
        median_hours=_median(hours), p90_hours=p90(hours), attempts_met_share=attempts,
        by_owner=_owner_rows(judged), states=states)
