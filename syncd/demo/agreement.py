"""The demo's agreement act: the bundled Sales–Marketing agreement (``mappings/agreement.yaml``),
measured on the leads the demo hands over.

Sales logs its attempts the way reps do (Calls and Emails as Tasks, a meeting as an Event, status
changes), each at a time relative to its lead's hand-over, in the agreement's business hours, so
some leads are first contacted within the deadline, some late, some never, and one is closed with
too few attempts. The demo runs in real time: to let those hours pass, Salesforce's clock (the
emulator's) moves on a week (whole seconds), past all of them, and syncd follows it as it follows
any server's clock (the ``Date`` headers). Every attempt's time is computed from its hand-over with
the agreement's own calendar, so the numbers are the same run to run, whatever the hour or the day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from emulators.salesforce import SalesforceEmulator
from emulators.stack import Stack, start_stack
from state import agreement as agreement_state
from state.store import StateStore
from syncd import app
from syncd.agreement.clock import Calendar, month_of
from syncd.app.agreement import agreement_month, tracked_leads
from syncd.core.agreement import AgreementMonth
from syncd.plan.agreement import deadline

UTC = dt.UTC
AGREEMENT_FILE = "agreement.yaml"
JUDGED_AFTER_HOURS = 13         # business hours after the last hand-over: past every attempt and deadline
# ...and at least a week of the wall clock: whatever the weekday or the hour the demo runs, syncd's
# next cycle sees the Leads worked a week after the hand-over (the closed-loop report's hours).
JUDGED_AFTER = dt.timedelta(days=7)


@dataclass(frozen=True)
class Attempt:
    kind: str          # a Task subtype (Call, Email) or "Event" (a meeting)
    hours: float       # business hours after the hand-over


def _a(kind: str, hours: float) -> Attempt:
    return Attempt(kind, hours)


# What Sales logs on the n-th lead of each play (``syncd.demo.sales.PLAYS``), and what that makes of
# it: first contacted "on_time", "late", "never", or closed with "too_few" attempts. The first entry
# is played once, the others in turn after it: so one open lead is never contacted (the one breach
# alert) and one is closed after a single call, however many contacts are seeded. Open leads
# ("contacted", "untouched") are otherwise contacted in time: a late one would be alerted too.
SCHEDULES: dict[str, list[tuple[str, tuple[Attempt, ...]]]] = {
    "won": [("never", ()),                                   # converted with no attempt logged
            ("on_time", (_a("Call", 1), _a("Event", 3))), ("on_time", (_a("Email", 2), _a("Call", 4))),
            ("late", (_a("Call", 9.5), _a("Event", 11)))],
    "contacted": [("on_time", (_a("Call", 0.5),)), ("on_time", (_a("Email", 1.5), _a("Call", 5))),
                  ("on_time", (_a("Call", 6.5),))],
    "disqualified": [("too_few", (_a("Call", 1),)),
                     ("on_time", (_a("Call", 2), _a("Email", 4), _a("Call", 7))),
                     ("late", (_a("Call", 10), _a("Email", 11), _a("Call", 11.5))),
                     ("on_time", (_a("Call", 3), _a("Call", 5), _a("Event", 6)))],
    "lost": [("late", (_a("Email", 9),)), ("on_time", (_a("Call", 2), _a("Call", 5)))],
    "opportunity": [("on_time", (_a("Call", 5),)), ("late", (_a("Email", 12),))],
    "untouched": [("never", ()), ("on_time", (_a("Call", 1),)), ("on_time", (_a("Email", 2),))],
}
OPEN_PLAYS = ("contacted", "untouched")        # not closed, not converted: alerted when breached
STATE_OF = {"on_time": "on_time", "late": "breached", "never": "breached", "too_few": "closed_too_few_attempts"}


def schedule(play: str, n: int) -> tuple[str, tuple[Attempt, ...]]:
    entries = SCHEDULES[play]
    return entries[0] if n == 0 or len(entries) == 1 else entries[1 + (n - 1) % (len(entries) - 1)]


class MovableClock:
    """The Salesforce emulator's clock: the real one, moved on by whole seconds (so the back leg's
    whole-second windows line up as they do without it)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(UTC) + self.offset

    def move_to(self, moment: dt.datetime) -> None:
        self.offset = dt.timedelta(seconds=math.ceil((moment - dt.datetime.now(UTC)).total_seconds()))


def bundled_agreement() -> Path:
    """The agreement shipped with syncd (``mappings/agreement.yaml``), the one admins read first."""
    try:
        return Path(str(resources.files("mappings") / AGREEMENT_FILE))
    except (ModuleNotFoundError, TypeError):
        return Path(__file__).resolve().parents[2] / "mappings" / AGREEMENT_FILE


def start_demo_stack(directory: Path) -> tuple[Stack, MovableClock]:
    """Both emulators, Salesforce's on a clock the demo moves; the config names the bundled agreement."""
    clock = MovableClock()
    stack = start_stack(directory, salesforce=SalesforceEmulator(clock=clock))
    stack.write_config(agreement=bundled_agreement())
    return stack, clock


def _second_after(moment: dt.datetime) -> dt.datetime:
    """The next whole second (Salesforce keeps milliseconds; an attempt never lands before its hour)."""
    return moment.replace(microsecond=0) + dt.timedelta(seconds=1)


def log_attempts(stack: Stack, cast: Sequence[tuple[dict, str, int]], clock: MovableClock) -> Counter:
    """Sales' attempts on each lead of ``cast`` (lead, play, n), as Tasks and Events at their hours
    after the hand-over; then Salesforce's clock moves past the last one and every deadline.
    Returns what was intended: leads per outcome ("on_time", "late", "never", "too_few")."""
    loaded = app.load(stack.config_path, env={})
    assert loaded.agreement is not None
    calendar = Calendar.of(loaded.agreement)
    store = app.open_store(loaded.settings)
    try:
        handed = {t.lead_id: t.handed_over_at for t in tracked_leads(store, loaded.settings.sync.pipeline,
                                                                      loaded.agreement)}
    finally:
        store.close()
    intended: Counter = Counter()
    sf = stack.salesforce
    for lead, play, n in cast:
        outcome, attempts = schedule(play, n)
        intended[outcome] += 1
        intended["alerts"] += outcome in ("late", "never") and play in OPEN_PLAYS or outcome == "too_few"
        for attempt in attempts:
            at = _second_after(calendar.add_hours(handed[lead["Id"]], attempt.hours))
            stamps = {"CreatedDate": at, "LastModifiedDate": at, "SystemModstamp": at}
            if attempt.kind == "Event":
                sf.insert("Event", {"WhoId": lead["Id"], "Subject": "Discovery meeting", "StartDateTime": at,
                                    "EndDateTime": at + dt.timedelta(minutes=30), **stamps}, validate=False)
            else:
                sf.insert("Task", {"WhoId": lead["Id"], "Subject": f"{attempt.kind}: first conversation",
                                   "TaskSubtype": attempt.kind, "Status": "Completed", **stamps}, validate=False)
    last = max(handed.values())
    clock.move_to(max(last + JUDGED_AFTER, calendar.add_hours(last, JUDGED_AFTER_HOURS)))
    return intended


@dataclass(frozen=True)
class RaisedAlert:
    state: str
    hubspot_id: str
    lead_id: str | None
    owner_id: str | None
    deadline: dt.datetime
    task_id: str | None


@dataclass
class AgreementAct:
    source: str                 # the agreement file
    month: AgreementMonth       # the hand-over month, as of ``at``
    at: dt.datetime             # Salesforce's time the demo judged it at
    intended: dict[str, int]    # what Sales' play meant: leads on_time / late / never / too_few, alerts
    alerts: list[RaisedAlert]
    tasks: bool                 # the agreement makes a Salesforce Task for each alert

    def summary(self) -> dict[str, Any]:
        """The numbers, for ``demo.finished``."""
        month = self.month

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {"file": self.source, "month": month.month, "time_zone": month.time_zone, "at": self.at.isoformat(),
                "target": month.target, "delivered": month.delivered, "states": month.states,
                "part_shares": {k: rounded(v) for k, v in month.part_shares.items()},
                "contacted_within_share": rounded(month.contacted_within_share),
                "median_hours": rounded(month.median_hours), "p90_hours": rounded(month.p90_hours),
                "attempts_met_share": rounded(month.attempts_met_share), "intended": self.intended,
                "alerts": [{**dataclasses.asdict(a), "deadline": a.deadline.isoformat()} for a in self.alerts],
                "tasks": self.tasks}


def judge(stack: Stack, clock: Callable[[], dt.datetime], intended: Counter) -> AgreementAct:
    """The hand-over month as of Salesforce's time, and the alerts the cycles raised."""
    loaded = app.load(stack.config_path, env={})
    agreement = loaded.agreement
    assert agreement is not None
    pipeline = loaded.settings.sync.pipeline
    store = app.open_store(loaded.settings)
    try:
        leads = {t.hubspot_id: t for t in tracked_leads(store, pipeline, agreement)}
        first = min((t.handed_over_at for t in leads.values()), default=clock())
        at = clock()
        month = agreement_month(loaded, store, month_of(first, agreement.zone), at)
        raised = [RaisedAlert(a.state, a.hubspot_id, a.lead_id, leads[a.hubspot_id].owner_id,
                              deadline(leads[a.hubspot_id], agreement), a.task_id)
                  for a in agreement_state.alerts(store, pipeline) if a.hubspot_id in leads]
    finally:
        store.close()
    return AgreementAct(str(agreement.source), month, at, dict(intended), raised,
                        agreement.alerts.salesforce_task.enabled)


def month_now(stack: Stack, store: StateStore, month: str,
              clock: Callable[[], dt.datetime]) -> Callable[[], AgreementMonth]:
    """The status page's agreement: the demo's month, as of Salesforce's time whenever it is asked."""
    loaded = app.load(stack.config_path, env={})
    return lambda: agreement_month(loaded, store, month, clock())
