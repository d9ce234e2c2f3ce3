"""Rendering one contact into Salesforce fields, as the mapping says."""

import pytest

from syncd.core.digest import digest
from syncd.mapping.transform import FieldError, qualifies, render_fields
from tests.factories import contact, mapping


def test_fields_are_copied_translated_and_typed():
    fields = render_fields(contact(), mapping())
    assert fields["LastName"] == "Nguyễn"
    assert fields["LeadSource"] == "Search"          # translated through `values`
    assert fields["Page_Views__c"] == 12              # "12" -> number
    assert fields["HubSpot_Contact_Id__c"] == "101"   # external id filled from the contact id
    assert fields["Description"] == "Mai Nguyễn from Organic search"


def test_unmapped_value_falls_back_to_default_and_empty_required_field_gets_default():
    fields = render_fields(contact(hs_analytics_source="OFFLINE", lastname=""), mapping())
    assert fields["LeadSource"] == "Other"
    assert fields["LastName"] == "[not provided]"


def test_history_lists_past_values_newest_first_up_to_the_limit():
    c = contact(history={"recent_conversion_event_name": [("Demo request", "2026-11-03T00:00:00Z"),
                                                          ("Ebook", "2026-11-02T00:00:00Z"),
                                                          ("Webinar", "2026-11-01T00:00:00Z")]})
    assert render_fields(c, mapping())["Content_Consumed__c"] == "Demo request | Ebook"


def test_a_non_number_for_a_number_field_rejects_the_record_with_a_syncd_code():
    with pytest.raises(FieldError) as caught:
        render_fields(contact(hs_analytics_num_page_views="lots"), mapping())
    assert caught.value.code == "SYNCD_INVALID_NUMBER" and caught.value.field == "Page_Views__c"


def test_max_length_cuts_with_an_ellipsis():
    m = mapping(fields={**mapping().fields, "Company": {"from": "company", "max_length": 10}})
    m = mapping(fields={"LastName": {"from": "lastname"}, "Company": {"from": "company", "max_length": 10}})
    assert render_fields(contact(company="A" * 300), m)["Company"] == "A" * 9 + "…"


def test_payload_digest_is_stable_and_sensitive_to_every_value():
    a = render_fields(contact(), mapping())
    assert digest(a) == digest(dict(reversed(list(a.items()))))
    assert digest(a) != digest({**a, "Company": "Other"})


@pytest.mark.parametrize(("stage", "expected"), [
    ("marketingqualifiedlead", True), ("salesqualifiedlead", True), ("subscriber", False), ("", False),
], ids=["mql", "sql", "subscriber", "empty"])
def test_qualification_is_checked_locally_with_the_mappings_conditions(stage, expected):
    assert qualifies(contact(lifecyclestage=stage), mapping().filters()) is expected
