"""The demo's second act: Sales works the leads in the Salesforce emulator, and syncd carries the
outcomes back to the HubSpot contacts and into the closed-loop report; with the agreement, Sales'
attempts are logged too and the month is judged (``syncd.demo.agreement``).

Everything goes through the code real use goes through: ``apply_setup`` is `syncd setup hubspot`,
the cycle is `syncd run --once`, the report is `syncd report`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from emulators.stack import Stack
from state.outcomes import OutcomeStore
from syncd import app
from syncd.app.setup import apply_setup
from syncd.demo.agreement import AgreementAct, MovableClock, judge, log_attempts
from syncd.report import Report, build_report
from syncd.run.result import CycleResult, RunResult

DISQUALIFIED_REASONS = ["No Budget", "Bad Timing", "Competitor", "No Need"]
LOSS_REASONS = ["Price", "Competitor", "No Decision"]
WON_AMOUNTS = [18000, 42000, 9500, 27000, 64000]
# What Sales does with the i-th lead handed over (cycling): a plausible month of work.
PLAYS = ["won", "contacted", "disqualified", "lost", "opportunity", "disqualified", "untouched"]


@dataclass
class LoopResult:
    created_properties: list[str]
    played: dict[str, int]
    back: RunResult | None
    contacts: list[dict]              # HubSpot contacts carrying an outcome
    report: Report
    agreement: AgreementAct | None = None   # the Sales–Marketing agreement, when the config names one


def cast(stack: Stack) -> list[tuple[dict, str, int]]:
    """The Leads syncd handed over, each with its play and its number within that play."""
    leads = sorted((lead for lead in stack.salesforce.all("Lead") if lead.get("HubSpot_Contact_Id__c")),
                   key=lambda lead: int(lead["HubSpot_Contact_Id__c"]))
    seen: Counter = Counter()
    out = []
    for i, lead in enumerate(leads):
        play = PLAYS[i % len(PLAYS)]
        out.append((lead, play, seen[play]))
        seen[play] += 1
    return out


def play_sales(stack: Stack, roles: list[tuple[dict, str, int]]) -> dict[str, int]:
    """Work the Leads syncd handed over: call some, disqualify some with a reason, convert some and
    close their Opportunities won (with an amount) or lost (with a reason)."""
    sf = stack.salesforce
    played: Counter = Counter()
    for lead, play, n in roles:
        if play == "contacted":
            sf.update("Lead", lead["Id"], {"Status": "Working - Contacted"})
        elif play == "disqualified":
            sf.update("Lead", lead["Id"], {"Status": "Closed - Not Converted",
                                           "Unqualified_Reason__c": DISQUALIFIED_REASONS[n % len(DISQUALIFIED_REASONS)]})
        elif play == "won":
            sf.convert_lead(lead["Id"], opportunity={"StageName": "Closed Won",
                                                     "Amount": WON_AMOUNTS[n % len(WON_AMOUNTS)]})
        elif play == "lost":
            sf.convert_lead(lead["Id"], opportunity={"StageName": "Closed Lost", "Amount": 15000,
                                                     "Loss_Reason__c": LOSS_REASONS[n % len(LOSS_REASONS)]})
        elif play == "opportunity":
            sf.convert_lead(lead["Id"], opportunity={"StageName": "Proposal/Price Quote", "Amount": 30000})
        played[play] += 1
    return dict(played)


def close_the_loop(stack: Stack, run_cycle: Callable[[], CycleResult],
                   clock: MovableClock | None = None) -> LoopResult:
    """Sales works the Leads (and, with ``clock``, logs its attempts as the agreement counts them,
    hours after the hand-over), then a cycle carries the outcomes back."""
    loaded = app.load(stack.config_path, env={})
    plan = apply_setup(loaded)                                   # = syncd setup hubspot
    roles = cast(stack)
    intended = log_attempts(stack, roles, clock) if clock is not None and loaded.agreement else None
    played = play_sales(stack, roles)
    # SOQL datetimes have whole seconds: the back leg reads up to the last whole second before it
    # starts, so give the changes just made a second to fall inside the window.
    time.sleep(1.1 - time.time() % 1)
    back = run_cycle().back
    contacts = [c for c in stack.hubspot.contacts() if c["properties"].get("syncd_outcome")]
    store = app.open_store(loaded.settings)
    try:
        rows = OutcomeStore(store).report_rows(loaded.settings.sync.pipeline)
    finally:
        store.close()
    act = judge(stack, clock, intended) if clock is not None and intended is not None else None
    return LoopResult([d["name"] for d in plan.create], played, back, contacts, build_report(rows), act)
