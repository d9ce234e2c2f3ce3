"""Plain-data builders for pure unit tests (no network, no database)."""

from __future__ import annotations

from typing import Any

from syncd.mapping import Mapping
from syncd.core.records import Contact, HistoryEntry

BASE_MAPPING: dict[str, Any] = {
    "version": 1,
    "qualify": [{"property": "lifecyclestage", "in": ["marketingqualifiedlead", "salesqualifiedlead"]}],
    "salesforce": {
        "external_id_field": "HubSpot_Contact_Id__c",
        "converted": {"action": "update_contact", "contact_fields": {"Description": "Description",
                                                                      "Company": "Company__c"}},
    },
    "fields": {
        "LastName": {"from": "lastname", "default": "[not provided]"},
        "Company": {"from": "company", "default": "[not provided]"},
        "Email": {"from": "email"},
        "LeadSource": {"from": "hs_analytics_source", "values": {"ORGANIC_SEARCH": "Search"}, "default": "Other"},
        "Page_Views__c": {"from": "hs_analytics_num_page_views", "type": "number"},
        "Content_Consumed__c": {"history": "recent_conversion_event_name", "limit": 2, "separator": " | "},
    },
    "brief": {"field": "Description",
              "template": "{{ firstname }} {{ lastname }} from {{ hs_analytics_source | humanize }}"},
}


def mapping(**overrides: Any) -> Mapping:
    data = {**BASE_MAPPING, **overrides}
    return Mapping.model_validate(data)


def contact(id: str = "101", **props: Any) -> Contact:
    history = props.pop("history", {})
    properties = {"firstname": "Mai", "lastname": "Nguyễn", "email": f"c{id}@example.com", "company": "Acme",
                  "lifecyclestage": "marketingqualifiedlead", "hs_analytics_source": "ORGANIC_SEARCH",
                  "hs_analytics_num_page_views": "12", "lastmodifieddate": "2026-11-01T10:00:00.000Z"}
    properties.update(props)
    return Contact(id, properties, {k: tuple(HistoryEntry(v, t) for v, t in entries) for k, entries in history.items()})
