"""The demo's first act: realistic contacts in the HubSpot emulator, and one Lead a rep already
typed into Salesforce by hand (syncd must link to it, not duplicate it)."""

from __future__ import annotations

import datetime as dt

from emulators.demo_data import demo_contacts
from emulators.stack import Stack


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
