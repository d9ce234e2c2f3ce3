"""Synthetic contacts for volume runs: qualified MQLs with an email and a form-conversion history.

Seeding happens inside the emulator (``POST /__emulator/seed`` or ``python -m emulators serve
--seed-contacts N``) because sending 100,000 contacts with their histories as JSON would take
longer than the run being measured. Values are deterministic for a given ``seed``; every contact
is last modified at ``at`` (the benchmark puts that hours in the past, so that syncd's look-back
window does not read them again after the first sync).
"""

from __future__ import annotations

import random
from typing import Any

from emulators.hubspot.store import Contact, ContactStore
from emulators.hubspot.timefmt import iso_ms

FORMS = ("Pricing page: Request a demo", "Ebook: The 2026 Sales Handoff Playbook",
         "Webinar: Closing the loop between Marketing and Sales", "Contact us", "ROI calculator",
         "Free trial sign-up")
SOURCES = (("ORGANIC_SEARCH", "Google"), ("PAID_SEARCH", "Google Ads"), ("PAID_SOCIAL", "LinkedIn"),
           ("EMAIL_MARKETING", "Newsletter"), ("REFERRALS", "partner.example.com"), ("DIRECT_TRAFFIC", ""))
FORM_SOURCE = {"sourceType": "FORM", "sourceId": "form-submission"}
IMPORT_SOURCE = {"sourceType": "IMPORT", "sourceId": "import"}
DAY_MS = 86_400_000


def synthetic_properties(index: int, rng: random.Random) -> dict[str, str]:
    """The current values of contact number ``index`` (emails are unique per index)."""
    source, detail = SOURCES[index % len(SOURCES)]
    return {
        "firstname": f"First{index}", "lastname": f"Last{index}", "email": f"lead{index}@bench.example.com",
        "company": f"Company {index % 5000}", "jobtitle": "Head of Operations", "phone": f"+44 20 7946 {index % 10000:04d}",
        "city": "London", "country": "United Kingdom", "website": f"https://company{index % 5000}.example.com",
        "lifecyclestage": "marketingqualifiedlead" if index % 4 else "salesqualifiedlead",
        "hs_analytics_source": source, "hs_analytics_source_data_1": detail,
        "hs_analytics_first_url": "https://www.example.com/pricing",
        "hs_analytics_num_page_views": str(rng.randint(2, 60)), "hubspotscore": str(rng.randint(10, 95)),
        "pain_points": "Leads go cold before Sales calls them",
    }


def seed_contacts(store: ContactStore, count: int, *, at_ms: int, seed: int = 7,
                  forms_per_contact: int = 3) -> list[str]:
    """Add ``count`` qualified contacts, each with ``forms_per_contact`` form conversions on the
    days before ``at_ms`` (history of ``recent_conversion_event_name``); returns their ids."""
    rng = random.Random(seed)
    at_iso = iso_ms(at_ms)
    registry = store.registry
    created: list[Contact] = []
    first_index = len(store.by_id)
    for n in range(count):
        index = first_index + n
        values, issues = registry.validate(synthetic_properties(index, rng), enforce_read_only=False)
        if issues:  # the generator and the property definitions disagree: a bug here, say so loudly
            raise ValueError(f"synthetic contact {index} is invalid: {issues}")
        c = store.new_contact(values, at_ms - forms_per_contact * DAY_MS, iso_ms(at_ms - forms_per_contact * DAY_MS),
                              IMPORT_SOURCE)
        forms = [FORMS[(index + k) % len(FORMS)] for k in range(forms_per_contact)]
        history: list[tuple[str, str]] = [(form, iso_ms(at_ms - (forms_per_contact - k) * DAY_MS + 3_600_000))
                                          for k, form in enumerate(forms)]
        store.set_text(c, "first_conversion_event_name", forms[0], history[0][1], FORM_SOURCE)
        store.set_history(c, "recent_conversion_event_name", history, FORM_SOURCE)
        store.set_text(c, "num_conversion_events", str(forms_per_contact), history[-1][1], FORM_SOURCE)
        c.updated_ms = at_ms
        c.props["lastmodifieddate"] = at_iso
        c.typed["lastmodifieddate"] = at_ms
        c.history["lastmodifieddate"].append({"value": at_iso, "timestamp": at_iso, "sourceType": "CALCULATED",
                                              "sourceId": "RollupProperties"})
        created.append(c)
    store.add_many(created)
    return [str(c.id) for c in created]


def describe_seed(ids: list[str]) -> dict[str, Any]:
    return {"count": len(ids), "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None}
