"""`syncd demo`: a full sync cycle against the bundled emulators, no credentials needed.

It starts both emulators on 127.0.0.1 (over TLS, with a CA made at start-up), seeds realistic
contacts, runs one cycle through exactly the code `syncd run --once` uses, shows the result, then
runs again to show that nothing unchanged is written twice. Then it closes the loop: Sales works
the Leads in Salesforce, a third cycle carries the outcomes back to the HubSpot contacts, and the
closed-loop report shows what sold. The config names the bundled Sales–Marketing agreement: Sales'
attempts are logged hours after the hand-over (Salesforce's clock moves on), and the month is
judged: leads on time, late, never contacted, the alert raised (``syncd.demo.agreement``). With
``--keep-running`` the status page is served too, on a free loopback port.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from emulators.stack import Stack
from syncd import app
from syncd.agreement_report import to_table as agreement_tables
from syncd.app.cycle import run_cycle
from syncd.cli import console as views
from syncd.demo.agreement import AgreementAct, MovableClock, month_now, start_demo_stack
from syncd.demo.sales import LoopResult, close_the_loop
from syncd.demo.seed import seed
from syncd.app.logs import configure_logging
from syncd.report import to_table
from syncd.run.result import CycleResult
from syncd.service.endpoint import HealthServer
from syncd.service.metrics import Metrics
from syncd.service.status_page import StatusPage, no_agreement

out = Console()
err = Console(stderr=True)


def _lead_table(leads: list[dict]) -> Table:
    table = Table(title="Leads now in Salesforce (first 8)", title_justify="left")
    for column in ("Name", "Company", "LeadSource", "HubSpot source", "Recent conversion", "HubSpot id"):
        table.add_column(column, overflow="fold")
    for lead in leads[:8]:
        table.add_row(f"{lead.get('FirstName') or ''} {lead.get('LastName')}", (lead.get("Company") or "")[:40],
                      lead.get("LeadSource") or "", lead.get("HubSpot_Source_Detail__c") or lead.get("HubSpot_Source__c") or "",
                      lead.get("Recent_Conversion__c") or "", lead.get("HubSpot_Contact_Id__c") or "")
    return table


def _cycle(stack: Stack, *, human: bool) -> CycleResult:
    """Exactly what `syncd run --once` runs."""
    loaded = app.load(stack.config_path, env={})
    store = app.open_store(loaded.settings)
    try:
        if human:
            with views.RunProgress(err) as progress:
                return run_cycle(loaded, store, progress=progress)
        return run_cycle(loaded, store)
    finally:
        store.close()


@click.command()
@click.option("--contacts", default=40, show_default=True, help="How many HubSpot contacts to seed.")
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              help="Keep emulator TLS files, config and state here (default: a temporary folder).")
@click.option("--keep-running", is_flag=True, help="Leave the emulators up afterwards, for `syncd run --once -c ...`.")
def demo(contacts: int, directory: Path | None, keep_running: bool) -> None:
    """Run a full sync cycle against local HubSpot and Salesforce emulators.

    \b
    Example:
      syncd demo
      syncd demo --contacts 500 --keep-running
    """
    directory = directory or Path(tempfile.mkdtemp(prefix="syncd-demo-"))
    stack, clock = start_demo_stack(directory)
    first = second = loop = None
    human = configure_logging("auto", "error" if sys.stderr.isatty() else "info",
                              [stack.hubspot_token, stack.salesforce_client_secret])
    try:
        seeded = seed(stack, contacts, dt.datetime.now(dt.timezone.utc))
        if human:
            out.print(Panel.fit(
                f"HubSpot emulator    {stack.hubspot_server.url}\n"
                f"Salesforce emulator {stack.salesforce_server.url}\n"
                f"seeded {seeded['contacts']} HubSpot contacts ({seeded['qualified']} qualified), "
                f"1 Lead already in Salesforce\nconfig {stack.config_path}",
                title="syncd demo"))
        first = _cycle(stack, human=human).forward
        second = _cycle(stack, human=human).forward
        loop = close_the_loop(stack, lambda: _cycle(stack, human=human), clock)
        leads = sorted(stack.salesforce.all("Lead"), key=lambda l: l.get("HubSpot_Contact_Id__c") or "")
        if human:
            out.print(views.run_summary(first))
            if first.rejections:
                out.print(views.rejections_table(first.rejections, "Rejected (reported, the others landed)"))
            out.print(_lead_table([l for l in leads if l.get("HubSpot_Contact_Id__c")]))
            sample = next((l for l in leads if l.get("Description") and l.get("HubSpot_Contact_Id__c")), None)
            if sample:
                out.print(Panel(sample["Description"], title=f"Handoff brief on Lead {sample['Id']}", expand=False))
            out.print(f"Second run: {second.counts.get('unchanged', 0)} unchanged, "
                      f"{second.counts.get('created', 0) + second.counts.get('updated', 0)} written "
                      f"— nothing is written twice.", highlight=False)
            show_loop(out, loop, stack.config_path)
            if loop.agreement is not None:
                show_agreement(out, loop.agreement, stack.config_path)
        else:
            print(json.dumps({"event": "demo.finished", "seeded": seeded,
                              "first_run": dict(first.counts), "second_run": dict(second.counts),
                              "leads_in_salesforce": len(leads),
                              "sales_played": loop.played,
                              "back_run": dict(loop.back.counts) if loop.back else None,
                              "outcomes_on_contacts": dict(Counter(c["properties"]["syncd_outcome"]
                                                                   for c in loop.contacts)),
                              "report_totals": loop.report.totals.metrics(),
                              "agreement": loop.agreement.summary() if loop.agreement else None}))
        if keep_running:
            page = _serve_page(stack, loop.agreement, clock)
            out.print(f"Emulators keep running. In another shell:\n  syncd run --once --config {stack.config_path}\n"
                      f"Status page: http://127.0.0.1:{page.port}/\nCtrl-C to stop.", highlight=False, soft_wrap=True)
            sys.stdout.flush()
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    failed = next((r.error for r in (first, second, loop.back if loop else None) if r is not None and r.error), None)
    if failed:
        raise click.ClickException(str(failed))


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


def show_loop(console: Console, loop: LoopResult, config_path: Path) -> None:
    console.print("Sales worked the leads in Salesforce: "
                  + ", ".join(f"{n} {what}" for what, n in sorted(loop.played.items())), highlight=False)
    if loop.back is not None:
        console.print(views.run_summary(loop.back))
    console.print(outcomes_table(loop.contacts))
    for table in to_table(loop.report):
        console.print(table)
    # With the demo's config: without it `syncd report` finds no config (exit 4), not the demo's state.
    console.print(f"The same report: syncd report --config {config_path} -o report.csv", highlight=False)


def show_agreement(console: Console, act: AgreementAct, config_path: Path) -> None:
    month, zone = act.month, act.month.time_zone
    intended = act.intended
    console.rule(f"Agreement — {month.month}", align="left")
    console.print(f"{act.source}: Sales logged Calls, Emails and a meeting hours after each hand-over "
                  f"({intended.get('on_time', 0)} leads first contacted in time, {intended.get('late', 0)} late, "
                  f"{intended.get('never', 0)} never, {intended.get('too_few', 0)} closed after one call); "
                  f"Salesforce's clock moved on to {act.at.astimezone(ZoneInfo(zone)):%a %Y-%m-%d %H:%M} ({zone}).",
                  highlight=False)
    for table in agreement_tables(month):
        console.print(table)
    for alert in act.alerts:
        task = (f"Salesforce Task {alert.task_id} for its owner" if alert.task_id else
                "no Salesforce Task (alerts.salesforce_task is off in the agreement file)")
        console.print(f"Alert raised: {alert.state.replace('_', ' ')} — Lead {alert.lead_id} (HubSpot contact "
                      f"{alert.hubspot_id}), owner {alert.owner_id}, first contact due "
                      f"{alert.deadline.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}: an agreement.alert log line; "
                      f"{task}.", highlight=False)
    console.print(f"The same month: syncd agreement report --config {config_path} --month {month.month} "
                  f"--at {act.at:%Y-%m-%dT%H:%M:%SZ}", highlight=False)


def _serve_page(stack: Stack, act: AgreementAct | None, clock: MovableClock) -> HealthServer:
    """The daemon's status page, from the demo's state, on a free loopback port (no token there)."""
    loaded = app.load(stack.config_path, env={})
    store = app.open_store(loaded.settings)          # open while the demo runs; the process ends it
    agreement = month_now(stack, store, act.month.month, clock) if act is not None else no_agreement
    page = StatusPage(store, loaded.settings.sync.pipeline, agreement=agreement)
    return HealthServer(("127.0.0.1", 0), Metrics(), live=lambda: (True, {}), ready=lambda: (True, {}),
                        page=page).start()
