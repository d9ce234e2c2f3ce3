"""The demo's second act: Sales works the leads in the Salesforce emulator, and syncd carries the
outcomes back to the HubSpot contacts and into the closed-loop report.

Everything goes through the code real use goes through: ``apply_setup`` is `syncd setup hubspot`,
the cycle is `syncd run --once`, the report is `syncd report`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from emulators.stack import Stack
from state.outcomes import OutcomeStore
from syncd import app
from syncd.cycle import CycleResult
from syncd.report import Report, build_report, to_table
from syncd.runner import RunResult
from syncd.setup_hubspot import apply_setup

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


def play_sales(stack: Stack) -> dict[str, int]:
    """Work the Leads syncd handed over: call some, disqualify some with a reason, convert some and
    close their Opportunities won (with an amount) or lost (with a reason)."""
    sf = stack.salesforce
    leads = sorted((lead for lead in sf.all("Lead") if lead.get("HubSpot_Contact_Id__c")),
                   key=lambda lead: int(lead["HubSpot_Contact_Id__c"]))
    played: Counter = Counter()
    for i, lead in enumerate(leads):
        play = PLAYS[i % len(PLAYS)]
        n = played[play]
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


def close_the_loop(stack: Stack, run_cycle: Callable[[], CycleResult]) -> LoopResult:
    loaded = app.load(stack.config_path, env={})
    plan = apply_setup(loaded)                                   # = syncd setup hubspot
    played = play_sales(stack)
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
    return LoopResult([d["name"] for d in plan.create], played, back, contacts, build_report(rows))


def outcomes_table(contacts: list[dict], limit: int = 8) -> Table:
    table = Table(title=f"Outcomes now on HubSpot contacts (first {limit} of {len(contacts)})", title_justify="left")
    for column in ("contact", "lifecycle stage", "outcome", "reason", "amount", "opportunity stage"):
        table.add_column(column, overflow="fold")
    for contact in sorted(contacts, key=lambda c: int(c["id"]))[:limit]:
        p = contact["properties"]
        table.add_row(f"{p.get('firstname') or ''} {p.get('lastname') or ''} ({contact['id']})",
                      p.get("lifecyclestage") or "", p.get("syncd_outcome") or "", p.get("syncd_outcome_reason") or "",
                      p.get("syncd_opportunity_amount") or "", p.get("syncd_opportunity_stage") or "")
    return table


def show(console: Console, loop: LoopResult) -> None:
    from syncd import console as views

    console.print("Sales worked the leads in Salesforce: "
                  + ", ".join(f"{n} {what}" for what, n in sorted(loop.played.items())), highlight=False)
    if loop.back is not None:
        console.print(views.run_summary(loop.back))
    console.print(outcomes_table(loop.contacts))
    for table in to_table(loop.report):
        console.print(table)
    console.print("The same report: syncd report --format csv -o report.csv", highlight=False)
