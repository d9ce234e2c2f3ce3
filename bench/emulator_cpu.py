"""How much CPU the emulators themselves spend at volume, so the benchmark's numbers are syncd's:

    python bench/emulator_cpu.py [--contacts 100000]

Measures, in-process (CPU seconds, no HTTP): seeding N contacts with history; a search page of
200 (the first page of a window scans and caches the matches, later pages are binary searches);
a search for 1 % changed contacts; N Leads written; and the back leg's outcome query over N
Leads with 10 % converted, and with nothing changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulators.hubspot import HubSpotEmulator  # noqa: E402
from emulators.salesforce import SalesforceEmulator, soql  # noqa: E402

OUTCOME_QUERY = (
    "SELECT Id, Status, IsConverted, ConvertedOpportunityId, ConvertedContactId, LastModifiedDate, SystemModstamp, "
    "HubSpot_Contact_Id__c, Unqualified_Reason__c, ConvertedOpportunity.StageName, ConvertedOpportunity.IsClosed, "
    "ConvertedOpportunity.IsWon, ConvertedOpportunity.Amount, ConvertedOpportunity.CloseDate, "
    "ConvertedOpportunity.Loss_Reason__c, ConvertedOpportunity.LastModifiedDate, ConvertedOpportunity.SystemModstamp "
    "FROM Lead WHERE HubSpot_Contact_Id__c != null AND ((SystemModstamp >= {a} AND SystemModstamp <= {b}) OR "
    "(ConvertedOpportunity.SystemModstamp >= {a} AND ConvertedOpportunity.SystemModstamp <= {b})) AND "
    "(Status NOT IN ('Open - Not Contacted') OR IsConverted = true OR LastModifiedById != '{user}') "
    "ORDER BY SystemModstamp, Id")


def cpu(fn):  # type: ignore[no-untyped-def]
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


def search_body(start_ms: int, end_ms: int, after: str | None) -> dict:
    filters = [{"propertyName": "lifecyclestage", "operator": "IN", "values": ["marketingqualifiedlead",
                                                                                "salesqualifiedlead"]},
               {"propertyName": "email", "operator": "HAS_PROPERTY"},
               {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(start_ms)},
               {"propertyName": "lastmodifieddate", "operator": "LTE", "value": str(end_ms)}]
    if after:
        filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after})
    return {"filterGroups": [{"filters": filters}], "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["email", "firstname", "lastname", "company"], "limit": 200}


def hubspot(n: int) -> dict[str, float]:
    hs = HubSpotEmulator(rate_limits=False)
    seeded_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    out = {"seed_seconds": cpu(lambda: hs.seed_contacts(n, at=seeded_at))[0]}
    start, end = int((seeded_at - dt.timedelta(days=1)).timestamp() * 1000), hs.now_ms()

    def page(body: dict) -> dict:
        return hs.search.run(body, raw_length=len(json.dumps(body)), registry=hs.registry, store=hs.store,
                             now_ms=hs.now_ms(), lag_ms=0, render=hs.store.render, next_link=str)
    first_cpu, result = cpu(lambda: page(search_body(start, end, None)))
    later = []
    for _ in range(20):
        seconds, result = cpu(lambda: page(search_body(start, end, result["results"][-1]["id"])))
        later.append(seconds)
    for cid in range(1, n + 1, 100):
        hs.update_contact(cid, {"jobtitle": "CFO"})
    changed_cpu, _ = cpu(lambda: page(search_body(end, hs.now_ms() + 1000, None)))
    out.update(first_page_ms=first_cpu * 1000, later_page_ms=sum(later) / len(later) * 1000,
               one_percent_changed_page_ms=changed_cpu * 1000)
    return out


def salesforce(n: int) -> dict[str, float]:
    sf = SalesforceEmulator()
    lead, user = sf.store.obj("Lead"), sf.default_user_id

    def write_leads() -> None:
        for i in range(n):
            sf.store.write(lead, {"LastName": f"L{i}", "Company": "Acme", "Email": f"l{i}@bench.example.com",
                                  "HubSpot_Contact_Id__c": str(i + 1)}, existing=None, user_id=user, journal=[])
    out = {"write_leads_seconds": cpu(write_leads)[0]}
    for i in range(1, n + 1, 10):
        sf.convert_lead(sf.find_ids("Lead", "HubSpot_Contact_Id__c", str(i))[0],
                        opportunity={"StageName": "Closed Won" if i % 20 == 1 else "Closed Lost"})
    now = sf.now()

    def query(a: dt.datetime, b: dt.datetime) -> int:
        text = OUTCOME_QUERY.format(a=a.strftime("%Y-%m-%dT%H:%M:%SZ"), b=b.strftime("%Y-%m-%dT%H:%M:%SZ"), user=user)
        bound = soql.compile_query(text, sf.schema)
        return bound.run(sf.query_api._rows(bound, False), sf.store.resolve, lambda o, i: i).total_size
    seconds, rows = cpu(lambda: query(now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)))
    idle, _ = cpu(lambda: query(now + dt.timedelta(hours=2), now + dt.timedelta(hours=3)))
    out.update(outcome_query_ms=seconds * 1000, outcome_rows=rows, nothing_changed_query_ms=idle * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    n = parser.parse_args().contacts
    print(json.dumps({"contacts": n, "hubspot": hubspot(n), "salesforce": salesforce(n)}, indent=2))


if __name__ == "__main__":
    main()
