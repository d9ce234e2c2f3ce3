"""The agreement's calendar, each lead's state, and a month of both sides: hand-computed tables."""

from __future__ import annotations

import datetime as dt

import pytest

from syncd.agreement.clock import Calendar, month_bounds, month_of
from syncd.agreement.model import Agreement
from syncd.core.agreement import SlaState, TrackedLead
from syncd.plan.agreement import (
    build_month,
    classify,
    deadline,
    hours_to_first_contact,
    p90,
)

UTC = dt.UTC


def z(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def agreement(**first_contact) -> Agreement:
    return Agreement.model_validate({
        "time_zone": "Europe/Berlin", "target": {"sqls_per_month": 10},
        "definition": {"persona": {"property": "hs_role", "in": ["sales"]},
                       "need": {"property": "pain_points", "exists": True}},
        "first_contact": {"within_hours": 8, "due_soon_hours": 2, **first_contact},
        "attempts": {"minimum": 3}})


OFFICE = {"business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}}
FRIDAY_4PM = z("2026-11-27T15:00")      # Friday 16:00 in Berlin (CET, UTC+1)


@pytest.mark.parametrize("start,first_contact,expected", [
    # Friday 16-17 is 1 h; Monday 09-16 the other 7: Monday 16:00 Berlin.
    (FRIDAY_4PM, OFFICE, z("2026-11-30T15:00")),
    # Monday a holiday: Tuesday 16:00.
    (FRIDAY_4PM, {**OFFICE, "holidays": ["2026-11-30"]}, z("2026-12-01T15:00")),
    # Every hour counts: 8 wall-clock hours.
    (FRIDAY_4PM, {}, z("2026-11-27T23:00")),
    # Handed over Saturday: the clock starts Monday 09:00 and ends at 17:00.
    (z("2026-11-28T10:00"), OFFICE, z("2026-11-30T16:00")),
    # Across the end of summer time (Sunday 25 October 2026): Friday 16:00 CEST is 14:00Z,
    # Monday 16:00 CET is 15:00Z.
    (z("2026-10-23T14:00"), OFFICE, z("2026-10-26T15:00")),
    # Handed over after hours on a Tuesday: Wednesday 09:00-17:00.
    (z("2026-12-01T19:00"), OFFICE, z("2026-12-02T16:00")),
], ids=["weekend", "weekend+holiday", "wall-clock", "saturday", "dst-end", "evening"])
def test_the_deadline_counts_business_hours_in_the_time_zone(start, first_contact, expected):
    lead = TrackedLead(hubspot_id="1", lead_id="00Q1", handed_over_at=start)
    assert deadline(lead, agreement(**first_contact)) == expected


def lead(**kwargs) -> TrackedLead:
    return TrackedLead(**{"hubspot_id": "1", "lead_id": "00Q1", "handed_over_at": FRIDAY_4PM, **kwargs})


CLOSED = z("2026-12-02T10:00")


@pytest.mark.parametrize("tracked,now,expected", [
    (lead(), z("2026-11-28T12:00"), SlaState.ON_TIME),                      # Saturday: the clock stands
    (lead(), z("2026-11-30T12:59"), SlaState.ON_TIME),                      # 2 h 1 min left
    (lead(), z("2026-11-30T13:00"), SlaState.DUE_SOON),                     # 2 business hours left
    (lead(), z("2026-11-30T15:00"), SlaState.BREACHED),                     # the deadline itself
    (lead(first_contact_at=z("2026-11-30T15:00"), attempts=1), z("2026-12-09T00:00"), SlaState.ON_TIME),
    (lead(first_contact_at=z("2026-11-30T15:01"), attempts=1), z("2026-12-09T00:00"), SlaState.BREACHED),
    (lead(first_contact_at=z("2026-11-30T09:00"), attempts=2, closed_at=CLOSED), CLOSED,
     SlaState.CLOSED_TOO_FEW_ATTEMPTS),
    (lead(closed_at=CLOSED), CLOSED, SlaState.CLOSED_TOO_FEW_ATTEMPTS),     # never contacted, closed
    (lead(first_contact_at=z("2026-11-30T09:00"), attempts=3, closed_at=CLOSED), CLOSED, SlaState.ON_TIME),
    (lead(first_contact_at=z("2026-11-30T09:00"), attempts=1, closed_at=CLOSED, converted=True), CLOSED,
     SlaState.ON_TIME),                                                     # converted: not "too few"
], ids=["saturday", "before-warning", "due-soon", "deadline", "contacted-at-deadline", "contacted-late",
        "closed-2-attempts", "closed-uncontacted", "closed-3-attempts", "converted"])
def test_each_state_at_a_moment(tracked, now, expected):
    assert classify(tracked, agreement(**OFFICE), now) is expected


def test_time_to_first_contact_is_in_business_hours_when_configured():
    tracked = lead(first_contact_at=z("2026-11-30T09:00"))          # Monday 10:00 Berlin
    assert hours_to_first_contact(tracked, Calendar.of(agreement(**OFFICE))) == 2.0   # Fri 16-17, Mon 9-10
    assert hours_to_first_contact(tracked, Calendar.of(agreement())) == 66.0          # wall clock
    assert hours_to_first_contact(lead(), Calendar.of(agreement())) is None


def test_month_boundaries_follow_the_time_zone():
    berlin = agreement().zone
    assert month_bounds("2026-11", berlin) == (z("2026-10-31T23:00"), z("2026-11-30T23:00"))
    assert month_bounds("2026-12", berlin) == (z("2026-11-30T23:00"), z("2026-12-31T23:00"))
    assert month_of(z("2026-11-30T23:30"), berlin) == "2026-12"


def test_p90_interpolates_between_the_closest_ranks():
    assert p90([2, 6, 10, 30]) == pytest.approx(24.0)       # rank 0.9 * 3 = 2.7: 10 + 0.7 * 20
    assert p90([7]) == 7.0 and p90([]) is None


def T(part_persona: bool | None = None, need: bool | None = None) -> dict[str, bool]:
    return {} if part_persona is None else {"persona": part_persona, "need": need}


def test_a_month_of_both_sides_against_hand_computed_values():
    """Every hour counts here (Y = 24 h, Z = 2); the month is November in Berlin."""
    terms = Agreement.model_validate({
        "time_zone": "Europe/Berlin", "target": {"sqls_per_month": 10},
        "definition": {"persona": {"property": "hs_role", "in": ["sales"]},
                       "need": {"property": "pain_points", "exists": True}},
        "first_contact": {"within_hours": 24}, "attempts": {"minimum": 2}})
    h = dt.timedelta(hours=1)
    leads = [
        TrackedLead("1", "00Q1", z("2026-11-02T10:00"), "A", owner_name="Ada Owner", first_contact_at=z(
            "2026-11-02T12:00"), attempts=2, source="ORGANIC", campaign="c1", parts=T(True, True)),
        TrackedLead("2", "00Q2", z("2026-11-03T10:00"), "A", z("2026-11-03T10:00") + 30 * h, 1,
                    closed_at=z("2026-11-06T00:00"), source="PAID", campaign="c1", parts=T(True, False)),
        TrackedLead("3", "00Q3", z("2026-11-04T10:00"), "B", source="ORGANIC", parts=T(False, False)),
        TrackedLead("4", "00Q4", z("2026-11-05T10:00"), "B", z("2026-11-05T20:00"), 3,
                    closed_at=z("2026-11-09T00:00"), source="ORGANIC"),
        TrackedLead("5", "00Q5", z("2026-11-30T23:30"), "A", source="PAID"),           # December in Berlin
        TrackedLead("6", "00Q6", z("2026-10-31T23:30"), "A", z("2026-11-01T05:30"), 1,  # November in Berlin
                    source="PAID", campaign="c2", parts=T(True, True)),
    ]
    month = build_month(leads, terms, "2026-11", now=z("2026-12-10T00:00"))
    assert (month.delivered, month.target, month.time_zone) == (5, 10, "Europe/Berlin")
    assert month.states == {"on_time": 3, "due_soon": 0, "breached": 1, "closed_too_few_attempts": 1}
    assert month.part_shares == {"persona": 0.75, "need": 0.5}      # lead 4 has no parts recorded
    assert month.hours_to_first_contact == [2.0, 6.0, 10.0, 30.0]
    assert (month.median_hours, month.p90_hours) == (8.0, pytest.approx(24.0))
    assert month.contacted_within_share == 0.6 and month.attempts_met_share == 0.5
    assert [(r.key, r.leads, r.share) for r in month.by_source] == [("ORGANIC", 3, 0.5), ("PAID", 2, 0.5)]
    assert [(r.key, r.leads) for r in month.by_campaign] == [("(none)", 2), ("c1", 2), ("c2", 1)]
    owners = {r.key: r for r in month.by_owner}
    # Keyed by the owner's Id, labelled with the name read (B's is not read yet: no label).
    assert (owners["A"].label, owners["B"].label) == ("Ada Owner", None)
    assert all(r.label is None for r in month.by_source + month.by_campaign)
    assert owners["A"].leads == 3 and owners["A"].share == pytest.approx(2 / 3)
    assert owners["A"].extra["median_hours"] == 6.0 and owners["A"].extra["p90_hours"] == pytest.approx(25.2)
    assert owners["A"].extra["attempts_met_share"] == 0.0
    assert (owners["B"].share, owners["B"].extra["median_hours"], owners["B"].extra["attempts_met_share"]) == (
        0.5, 10.0, 1.0)
