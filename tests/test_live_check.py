"""The mapping against live metadata, as plain data: each kind of finding, where it points, and
whether it stops a cycle (``blocks``) or only refuses the records it concerns."""

from __future__ import annotations

from typing import Any

import pytest

from syncd.mapping import Mapping
from syncd.mapping.live_check import Finding, check, objects_needed


def sf(name: str, type_: str = "string", length: int = 255, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "length": length, "createable": True, "updateable": True,
            "nillable": True, "defaultedOnCreate": False, **extra}


def picklist(name: str, active: list[str], inactive: list[str] = (), restricted: bool = True) -> dict[str, Any]:
    values = [{"value": v, "active": True} for v in active] + [{"value": v, "active": False} for v in inactive]
    return sf(name, "picklist", picklistValues=values, restrictedPicklist=restricted)


LEAD = {f["name"]: f for f in [
    sf("HubSpot_Contact_Id__c", length=50, externalId=True), sf("LastName", length=80, nillable=False),
    sf("Title", length=128), sf("Page_Views__c", "double", 0), picklist("LeadSource", ["Web", "Other"], ["Search"]),
    sf("Name", length=121, createable=False, updateable=False), sf("Status", "picklist", nillable=False,
                                                                     defaultedOnCreate=True),
    sf("Unqualified_Reason__c")]}
CONTACT = {f["name"]: f for f in [sf("Title", length=128), sf("Name", createable=False, updateable=False)]}
HUBSPOT = {p["name"]: p for p in [
    {"name": "lifecyclestage", "type": "enumeration", "options": [{"value": "marketingqualifiedlead"}]},
    {"name": "lastname", "type": "string"}, {"name": "jobtitle", "type": "string"},
    {"name": "hs_analytics_num_page_views", "type": "number"},
    {"name": "hs_analytics_source", "type": "enumeration", "options": [{"value": "DIRECT_TRAFFIC"}, {"value": "OFFLINE"}]},
    {"name": "syncd_outcome", "type": "enumeration", "options": [{"value": v} for v in
                                                                  ("contacted", "disqualified", "opportunity", "won")]},
    {"name": "syncd_reason", "type": "number"}]}

GOOD_FIELDS = {"LastName": {"from": "lastname", "default": "-", "max_length": 80},
               "Title": {"from": "jobtitle", "max_length": 128},
               "Page_Views__c": {"from": "hs_analytics_num_page_views", "type": "number"},
               "LeadSource": {"from": "hs_analytics_source", "values": {"DIRECT_TRAFFIC": "Web"}, "default": "Other"}}


def mapping(fields: dict[str, Any] | None = None, **extra: Any) -> Mapping:
    return Mapping.model_validate({
        "version": 1, "qualify": [{"property": "lifecyclestage", "in": ["marketingqualifiedlead"]}],
        "salesforce": {"external_id_field": "HubSpot_Contact_Id__c", **extra.pop("salesforce", {})},
        "fields": GOOD_FIELDS if fields is None else fields, **extra})


def findings(m: Mapping, lead: dict | None = None, hubspot: dict | None = None) -> list[Finding]:
    return check(m, {"Lead": LEAD if lead is None else lead, "Contact": CONTACT}, HUBSPOT if hubspot is None else hubspot)


def test_a_mapping_the_orgs_accept_has_no_findings():
    assert findings(mapping()) == []


def _with(name: str, rule: dict[str, Any]) -> Mapping:
    return mapping({**GOOD_FIELDS, name: rule})


@pytest.mark.parametrize("m, loc, message, blocks", [
    (mapping({**{k: v for k, v in GOOD_FIELDS.items() if k != "Title"}, "Titel": {"from": "jobtitle", "max_length": 9}}),
     ("fields", "Titel"), "Salesforce's Lead has no field 'Titel' (did you mean 'Title'?)", True),
    (_with("Title", {"from": "jobtitel", "max_length": 9}), ("fields", "Title", "from"),
     "HubSpot's contacts has no property 'jobtitel' (did you mean 'jobtitle'?)", True),
    (_with("Page_Views__c", {"from": "hs_analytics_num_page_views"}), ("fields", "Page_Views__c"),
     "Lead.Page_Views__c is a double field and the mapping sends string: set `type: number`", True),
    (_with("LeadSource", {"from": "hs_analytics_source", "values": {"DIRECT_TRAFFIC": "Search"}, "default": "Other"}),
     ("fields", "LeadSource", "values", "DIRECT_TRAFFIC"), "'Search' is an inactive value of the Lead.LeadSource "
     "picklist (restricted): use an active one", True),
    (_with("LeadSource", {"from": "hs_analytics_source", "values": {"DIRECT_TRAFFIC": "Web"}, "default": "Misc"}),
     ("fields", "LeadSource", "default"), "'Misc' is not a value of the Lead.LeadSource picklist: use one of Other, Web",
     True),
    (_with("LeadSource", {"from": "hs_analytics_source"}), ("fields", "LeadSource"),
     "Lead.LeadSource is a restricted picklist and HubSpot values DIRECT_TRAFFIC, OFFLINE are not among its values",
     False),
    (_with("Title", {"from": "jobtitle"}), ("fields", "Title"), "Lead.Title holds 128 characters and its value can be "
     "longer (HubSpot text has no such limit); Salesforce refuses such records (STRING_TOO_LONG): set `max_length: 128`",
     False),
    (_with("Title", {"from": "jobtitle", "max_length": 500}), ("fields", "Title", "max_length"),
     "max_length 500 is more than Lead.Title holds (128): set `max_length: 128`", True),
    (_with("Name", {"from": "lastname"}), ("fields", "Name"), "Lead.Name cannot be created nor updated by syncd's user",
     True),
    (mapping({k: v for k, v in GOOD_FIELDS.items() if k != "LastName"}), ("fields",),
     "Lead.LastName is required and the mapping gives it no value", True),
    (_with("LastName", {"from": "lastname", "max_length": 80}), ("fields", "LastName"),
     "Lead.LastName is required: a contact without lastname is refused (REQUIRED_FIELD_MISSING); add a `default`",
     False),
    (mapping(salesforce={"converted": {"contact_fields": {"Title": "Titl"}}}),
     ("salesforce", "converted", "contact_fields", "Title"), "Salesforce's Contact has no field 'Titl'", True),
    (mapping(feedback={"properties": {"syncd_outcome": {"from": "outcome", "type": "enumeration"}}}),
     ("feedback", "properties", "syncd_outcome"), "HubSpot's syncd_outcome has no option lost", True),
    (mapping(feedback={"properties": {"syncd_reason": {"from": "reason"}}}), ("feedback", "properties", "syncd_reason",
     "type"), "HubSpot's syncd_reason is of type number, the mapping writes string", True),
    (mapping(feedback={"properties": {"syncd_reson": {"from": "Lead.Unqualified_Reason__c"}}}),
     ("feedback", "properties", "syncd_reson"), "HubSpot has no contact property 'syncd_reson' (did you mean "
     "'syncd_reason'?): run `syncd setup hubspot`", True),
], ids=["unknown-field", "unknown-property", "type-mismatch", "inactive-picklist-value", "default-not-in-picklist",
        "raw-values-into-restricted-picklist", "text-longer-than-field", "max-length-over-field", "not-writable",
        "required-without-source", "required-without-default", "unknown-contact-field", "feedback-missing-option",
        "feedback-wrong-type", "feedback-missing-property"])
def test_each_kind_of_finding_points_at_the_key_to_change_and_says_how(m, loc, message, blocks):
    (finding,) = findings(m)
    assert finding.loc == loc and finding.message.startswith(message) and finding.blocks is blocks, finding


def test_an_unrestricted_picklist_takes_raw_values_and_an_enumeration_whose_options_fit_passes():
    lead = {**LEAD, "LeadSource": picklist("LeadSource", ["Web"], restricted=False)}
    assert findings(_with("LeadSource", {"from": "hs_analytics_source"}), lead=lead) == []
    lead = {**LEAD, "LeadSource": picklist("LeadSource", ["DIRECT_TRAFFIC", "OFFLINE"])}
    assert findings(_with("LeadSource", {"from": "hs_analytics_source"}), lead=lead) == []


def test_field_names_match_case_insensitively_as_salesforce_matches_them():
    assert findings(mapping({**GOOD_FIELDS, "title": {"from": "jobtitle", "max_length": 128}})) == []


def test_the_objects_read_are_the_ones_the_mapping_uses():
    assert objects_needed(mapping()) == ["Lead"]
    assert objects_needed(mapping(salesforce={"converted": {"contact_fields": {"Title": "Title"}}})) == ["Contact", "Lead"]
    assert objects_needed(mapping(feedback={"opportunity": {"loss_reason_field": "Loss_Reason__c"},
                                         "properties": {"syncd_reason": {"from": "reason"}}})) == \
        ["Lead", "Opportunity"]
