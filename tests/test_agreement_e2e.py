"""The agreement end to end (issue #10, acceptance 1): contacts handed over by real cycles, Sales'
calls, emails, meetings and status changes made in the Salesforce emulator as time moves on (the
emulators' clocks), and `syncd agreement report` classifying every lead against values computed
by hand below, including a Friday-afternoon hand-over whose deadline crosses a weekend and a
holiday in business hours.

Both emulators run on a frozen clock in November 2025, whatever this host's date (a year away as
this is written; TEST_CLOCK_SHIFT_DAYS moves it further): the hand-over is dated on Salesforce's
clock, as the activities it is measured against are, so the host's clock plays no part in any
number below. (Dated on the host's clock, the month would hold none of these leads.)
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from syncd.core.ports import ActivityQuery
from tests.conftest import qualified
from tests.feedback_helpers import PIPELINE, cycle, ready, syncd  # noqa: F401 - ready and syncd are fixtures

UTC = dt.UTC
BERLIN = dt.timezone(dt.timedelta(hours=1))     # Europe/Berlin in November 2025 (CET, no DST change)

AGREEMENT = """\
version: 1
time_zone: Europe/Berlin
target: {sqls_per_month: 20}
definition:
  need: {property: pain_points, exists: true}
first_contact:
  within_hours: 8
  due_soon_hours: 2
  business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
  holidays: [2025-11-24]                  # Monday after the Friday hand-over: a company day off
attempts:
  minimum: 3
  count: {task_subtypes: [Call, Email], events: true, working_statuses: [Working - Contacted]}
"""


COUNTED = ActivityQuery(working_statuses=("Working - Contacted",))


def berlin(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment of November 2025, on Berlin's wall clock."""
    return dt.datetime(2025, 11, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


class Frozen:
    """Both emulators' clock: stands still at ``at`` until the test moves it (so a hand-over is
    dated exactly when the cycle ran, to the millisecond)."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def clock() -> Frozen:
    """Overrides feedback_helpers' clock: the Salesforce emulator of the `syncd` fixture runs on it."""
    return Frozen(berlin(17, 9, 50))


def test_each_state_and_the_reports_hours_match_a_hand_computed_month(ready, clock):
    stack = ready
    sf = stack.salesforce
    stack.hubspot.set_clock(clock)
    (stack.tmp / "agreement.yaml").write_text(AGREEMENT)
    stack.write_config(extra=f"agreement: {stack.tmp / 'agreement.yaml'}\n")

    def at(moment: dt.datetime) -> None:
        clock.at = moment

    def task(lead: str, subtype: str | None) -> None:
        sf.insert("Task", {"WhoId": lead, "Subject": subtype or "Prepare the call",
                           **({"TaskSubtype": subtype} if subtype else {})})

    def status(lead: str, value: str) -> None:
        sf.update("Lead", lead, {"Status": value, **(
            {"Unqualified_Reason__c": "No Budget"} if value == "Closed - Not Converted" else {})})

    # Monday 17 November, 10:00: A, B, C and D handed over. Deadline (8 business hours):
    # Mon 10:00-17:00 = 7 h, + 1 h on Tuesday = Tue 18, 10:00.
    at(berlin(17, 9, 55))
    a, b, c, d = stack.hubspot.create_contacts(qualified(4))
    at(berlin(17, 10))
    first = cycle(stack)
    assert first.forward.counts["created"] == 4 and first.activities.status == "ok"
    leads = {i: lead["Id"] for i, lead in stack.leads_by_hubspot_id().items()}

    at(berlin(17, 11))
    task(leads[c], None)                        # C: a to-do, not an attempt: C is never contacted
    at(berlin(17, 13, 30))
    task(leads[a], "Call")                      # A: first contact after 3.5 h
    at(berlin(17, 15))
    task(leads[a], "Email")                     # A: attempt 2
    at(berlin(17, 16))
    status(leads[d], "Working - Contacted")     # D: first contact after 6 h (a status change)...
    at(berlin(17, 16, 30))
    status(leads[d], "Closed - Not Converted")  # ...and closed after that one attempt
    at(berlin(18, 11))
    sf.insert("Event", {"WhoId": leads[a], "Subject": "Demo", "StartDateTime": berlin(20, 10).isoformat(),
                        "EndDateTime": berlin(20, 11).isoformat()})   # A: attempt 3, a meeting
    at(berlin(18, 14))
    task(leads[b], "Call")                      # B: first contact after 7 + 5 = 12 h: late
    at(berlin(18, 15))
    status(leads[a], "Closed - Not Converted")  # A: closed with its 3 attempts

    # Friday 21 November, 15:00: E and F handed over. Deadline: Fri 15:00-17:00 = 2 h, the weekend
    # and Monday's holiday count nothing, Tue 25 09:00 + 6 h = Tue 25, 15:00; due soon 2 h before
    # (6 business hours after the hand-over): Tue 25, 13:00.
    at(berlin(21, 14, 55))
    e, f = stack.hubspot.create_contacts(qualified(2, start=4))
    at(berlin(21, 15))
    second = cycle(stack)                       # also reads week one's activities and closures
    assert second.forward.counts["created"] == 2 and second.activities.status == "ok"
    assert second.back.counts["updated"] == 2   # A and D disqualified, carried back
    leads = {i: lead["Id"] for i, lead in stack.leads_by_hubspot_id().items()}

    at(berlin(25, 10, 30))
    task(leads[e], "Email")                     # E: first contact after 2 + 1.5 = 3.5 h
    at(berlin(25, 13, 30))
    third = cycle(stack)
    assert third.activities.status == "ok" and third.activities.counts["kept"] == 1    # E's email
    # The alerts, each cycle on Salesforce's clock: none on Monday at 10:00; on Friday B (contacted
    # late) and C (never) breached, D closed with too few attempts; on Tuesday at 13:30 F due soon.
    assert not first.agreement_alerts
    assert second.agreement_alerts == {"breached": 2, "closed_too_few_attempts": 1}
    assert third.agreement_alerts == {"due_soon": 1}

    # The hand-overs are Salesforce's times of the writes, not this host's (a year or more away).
    store = stack.store()
    try:
        handed = {t.hubspot_id: t.handed_over_at for t in store.tracked_leads(PIPELINE, query=COUNTED)}
    finally:
        store.close()
    for contact, moment in ((a, berlin(17, 10)), (d, berlin(17, 10)), (e, berlin(21, 15)), (f, berlin(21, 15))):
        assert abs((handed[contact] - moment).total_seconds()) < 2, (contact, handed[contact], moment)

    # Tuesday 25 November, 13:30 in Berlin:
    #   A  on time                  contacted after 3.5 h; closed with 3 attempts (enough)
    #   B  breached                 contacted after 12 h, deadline was 8
    #   C  breached                 never contacted (a to-do is no attempt); deadline Tue 18 passed
    #   D  closed, too few attempts contacted after 6 h, closed with 1 attempt of 3
    #   E  on time                  contacted after 3.5 business hours across the weekend and holiday
    #   F  due soon                 not contacted; due soon from 13:00, deadline 15:00
    # Hours to first contact: [3.5, 3.5, 6, 12]: median (3.5 + 6) / 2 = 4.75; p90 (inclusive,
    # linear): rank 0.9 * 3 = 2.7, 6 + 0.7 * (12 - 6) = 10.2. Contacted within 8 h, of the leads
    # contacted or past their deadline (all but F): A, D, E of A, B, C, D, E = 3/5. Closed as not
    # converted: A (3 attempts) and D (1): 1/2 with enough attempts.
    report = stack.tmp / "november.json"
    assert stack.cli("agreement", "report", "--month", "2025-11", "--at", "2025-11-25T12:30:00Z",
                     "--format", "json", "-o", str(report)) == 0
    month = json.loads(report.read_text())
    assert (month["delivered"], month["target"], month["part_shares"]) == (6, 20, {"need": 1.0})
    assert month["states"] == {"on_time": 2, "due_soon": 1, "breached": 2, "closed_too_few_attempts": 1}
    assert month["hours_to_first_contact"] == pytest.approx([3.5, 3.5, 6, 12], abs=1e-3)
    assert month["median_hours"] == pytest.approx(4.75, abs=1e-3)
    assert month["p90_hours"] == pytest.approx(10.2, abs=1e-3)
    assert month["contacted_within_share"] == pytest.approx(3 / 5)
    assert month["attempts_met_share"] == pytest.approx(1 / 2)


def _counted():
    from stack.core.ports import ActivityQuery

    return ActivityQuery(working_statuses=("Working - Contacted",))
