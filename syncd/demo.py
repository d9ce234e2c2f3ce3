"""`syncd demo`: a full sync cycle against the bundled emulators, no credentials needed.

It starts both emulators on 127.0.0.1 (over TLS, with a CA made at start-up), seeds realistic
contacts, runs one cycle through exactly the code `syncd run --once` uses, shows the result, then
runs again to show that nothing unchanged is written twice. Then it closes the loop
(``syncd.demo_loop``): Sales works the Leads in Salesforce, a third cycle carries the outcomes back
to the HubSpot contacts, and the closed-loop report shows what sold.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import click
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from emulators.demo_data import demo_contacts
from emulators.stack import Stack, start_stack
from syncd import app, console
from syncd.logs import configure_logging
from syncd.cycle import CycleResult, run_cycle
from syncd.demo_loop import close_the_loop
from syncd.demo_loop import show as show_loop

out = Console()
err = Console(stderr=True)


def seed(stack: Stack, count: int, now: dt.datetime) -> dict[str, int]:
    """Contacts in HubSpot (with form-conversion history), and one Lead a rep created by hand."""
    hubspot, salesforce = stack.hubspot, stack.salesforce
    contacts = demo_contacts(count, now=now)
    # One record Salesforce will refuse (company longer than 255 characters), to show how a
    # rejected record is reported without stopping the others.
    contacts[3].properties["company"] = "Công ty TNHH " + "Giải pháp Phần mềm Đông Nam Á " * 10
    contacts[3].properties["lifecyclestage"] = "marketingqualifiedlead"
    qualified = 0
    for item in contacts:
        first_form, first_at = item.conversions[0]
        props = dict(item.properties, recent_conversion_event_name=first_form)
        contact_id = hubspot.create_contact(props, at=first_at)
        for form, at in item.conversions[1:]:
            hubspot.update_contact(contact_id, {"recent_conversion_event_name": form}, at=at)
        # the last touch: lifecycle stage set by the scoring workflow a little before now
        hubspot.update_contact(contact_id, {"lifecyclestage": item.properties["lifecyclestage"]},
                               at=now - dt.timedelta(minutes=2))
        qualified += item.properties["lifecyclestage"] in ("marketingqualifiedlead", "salesqualifiedlead")
    # A rep already typed in one of the qualified leads: syncd must link to it, not duplicate it.
    existing = next(c for c in contacts if c.properties["lifecyclestage"] == "salesqualifiedlead")
    salesforce.insert("Lead", {"FirstName": existing.properties["firstname"],
                               "LastName": existing.properties["lastname"],
                               "Company": existing.properties["company"],
                               "Email": existing.properties["email"].upper(),
                               "LeadSource": "Phone Inquiry"})
    return {"contacts": count, "qualified": qualified, "existing_leads": 1}


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
            with console.RunProgress(err) as progress:
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
    stack = start_stack(directory)
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
        loop = close_the_loop(stack, lambda: _cycle(stack, human=human))
        leads = sorted(stack.salesforce.all("Lead"), key=lambda l: l.get("HubSpot_Contact_Id__c") or "")
        if human:
            out.print(console.run_summary(first))
            if first.rejections:
                out.print(console.rejections_table(first.rejections, "Rejected (reported, the others landed)"))
            out.print(_lead_table([l for l in leads if l.get("HubSpot_Contact_Id__c")]))
            sample = next((l for l in leads if l.get("Description") and l.get("HubSpot_Contact_Id__c")), None)
            if sample:
                out.print(Panel(sample["Description"], title=f"Handoff brief on Lead {sample['Id']}", expand=False))
            out.print(f"Second run: {second.counts.get('unchanged', 0)} unchanged, "
                      f"{second.counts.get('created', 0) + second.counts.get('updated', 0)} written "
                      f"— nothing is written twice.", highlight=False)
            show_loop(out, loop)
        else:
            print(json.dumps({"event": "demo.finished", "seeded": seeded,
                              "first_run": dict(first.counts), "second_run": dict(second.counts),
                              "leads_in_salesforce": len(leads),
                              "sales_played": loop.played,
                              "back_run": dict(loop.back.counts) if loop.back else None,
                              "outcomes_on_contacts": dict(Counter(c["properties"]["syncd_outcome"]
                                                                   for c in loop.contacts)),
                              "report_totals": loop.report.totals.metrics()}))
        if keep_running:
            out.print(f"Emulators keep running. In another shell:\n  syncd run --once --config {stack.config_path}\n"
                      "Ctrl-C to stop.")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    failed = next((r.error for r in (first, second, loop.back if loop else None) if r is not None and r.error), None)
    if failed:
        raise click.ClickException(str(failed))
