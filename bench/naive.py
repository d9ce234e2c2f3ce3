"""The naive baseline: what a straightforward integration does, one call per record wherever a
batch call exists. Run as its own process by ``bench/run.py`` (its CPU and memory are measured
like syncd's):

    python bench/naive.py --config DIR/syncd.yaml [--limit N]

Page the search for qualified contacts (ids only), then for each contact: GET it with its
properties and form history, look its email up in Salesforce (one SOQL query), and upsert one
Lead by the HubSpot id (PATCH on the external id). The field mapping is a fixed subset of the
bundled one, written inline so the baseline depends on nothing inside syncd. HubSpot 429s are
retried with backoff (as any client must); everything else that fails stops the run.
Prints one JSON line: ``{"written": n}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import requests
from hubspot import HubSpot
from ruamel.yaml import YAML
from simple_salesforce import Salesforce, format_external_id, format_soql
from urllib3.util.retry import Retry

PROPERTIES = ["firstname", "lastname", "email", "company", "phone", "jobtitle", "city", "country",
              "lifecyclestage", "hs_analytics_source", "num_conversion_events", "hs_analytics_num_page_views",
              "pain_points", "recent_conversion_event_name"]
LEAD_SOURCES = {"ORGANIC_SEARCH": "Search", "PAID_SEARCH": "Advertisement", "PAID_SOCIAL": "Social Media",
                "EMAIL_MARKETING": "Email", "REFERRALS": "Partner Referral", "DIRECT_TRAFFIC": "Web"}


def lead_fields(props: dict[str, Any], history: list[str]) -> dict[str, Any]:
    return {
        "FirstName": props.get("firstname"), "LastName": props.get("lastname") or "[not provided]",
        "Company": props.get("company") or "[not provided]", "Email": props.get("email"),
        "Phone": props.get("phone"), "Title": props.get("jobtitle"), "City": props.get("city"),
        "Country": props.get("country"), "LeadSource": LEAD_SOURCES.get(props.get("hs_analytics_source") or "", "Other"),
        "HubSpot_Source__c": props.get("hs_analytics_source"), "Content_Consumed__c": "\n".join(history[:20]) or None,
        "Conversion_Count__c": float(props["num_conversion_events"]) if props.get("num_conversion_events") else None,
        "Page_Views__c": float(props["hs_analytics_num_page_views"]) if props.get("hs_analytics_num_page_views") else None,
        "Pain_Points__c": props.get("pain_points"), "HubSpot_Lifecycle_Stage__c": props.get("lifecyclestage"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="stop after this many contacts")
    args = parser.parse_args()
    config = YAML(typ="safe").load(args.config.read_text())
    ca = config["tls"]["ca_bundle"]
    hs_conf, sf_conf = config["hubspot"], config["salesforce"]
    hubspot = HubSpot(access_token=Path(hs_conf["access_token_file"]).read_text().strip(), host=hs_conf["base_url"],
                      ssl_ca_cert=ca, retry=Retry(total=20, status_forcelist=[429], backoff_factor=0.5,
                                                  allowed_methods=None))
    http = requests.Session()
    http.trust_env = False
    http.verify = ca
    token = http.post(f"{sf_conf['login_url']}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": sf_conf["auth"]["client_id"],
        "client_secret": Path(sf_conf["auth"]["client_secret_file"]).read_text().strip()}, timeout=30).json()
    sf = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], version="62.0", session=http)

    written, after = 0, None
    while args.limit is None or written < args.limit:
        page = hubspot.crm.contacts.search_api.do_search(public_object_search_request={
            "filterGroups": [{"filters": [
                {"propertyName": "lifecyclestage", "operator": "IN",
                 "values": ["marketingqualifiedlead", "salesqualifiedlead"]},
                {"propertyName": "email", "operator": "HAS_PROPERTY"}]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["hs_object_id"], "limit": 200, **({"after": after} if after else {})})
        for hit in page.results:
            if args.limit is not None and written >= args.limit:
                break
            contact = hubspot.crm.contacts.basic_api.get_by_id(
                hit.id, properties=PROPERTIES, properties_with_history=["recent_conversion_event_name"])
            history = [h.value for h in (contact.properties_with_history or {}).get("recent_conversion_event_name", [])]
            fields = {k: v for k, v in lead_fields(contact.properties, history).items() if v is not None}
            sf.query(format_soql("SELECT Id FROM Lead WHERE Email = {}", fields.get("Email", "")))
            sf.Lead.upsert(format_external_id("HubSpot_Contact_Id__c", contact.id), fields)
            written += 1
        if not page.paging or not page.paging.next:
            break
        after = page.paging.next.after
    print(json.dumps({"written": written}))


if __name__ == "__main__":
    main()
