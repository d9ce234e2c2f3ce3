"""The planner: what to write, given contacts, the mapping and state. Plain data only."""

from syncd import engine
from syncd.core.records import ExistingLead, Link, Rejection, RecordError, WriteResult
from syncd.core.digest import digest as payload_hash
from syncd.mapping.transform import render_fields
from tests.factories import contact, mapping


def test_new_qualified_contacts_are_upserted_by_external_id_and_unqualified_are_not_sent():
    plan = engine.plan_forward([contact("1"), contact("2", lifecyclestage="subscriber")], mapping(), {}, {})
    assert [(w.hubspot_id, w.kind) for w in plan.writes] == [("1", "upsert")]
    assert plan.not_qualified == ["2"]


def test_unchanged_payload_is_not_written_again():
    c = contact("1")
    link = Link("1", "00Q1", payload_hash=payload_hash(render_fields(c, mapping())))
    plan = engine.plan_forward([c], mapping(), {"1": link}, {})
    assert plan.writes == [] and plan.unchanged == ["1"]


def test_a_rejected_record_is_retried_only_when_its_payload_changed():
    c = contact("1", company="X" * 300)
    h = payload_hash(render_fields(c, mapping()))
    rejected = {"1": Rejection("1", "STRING_TOO_LONG", "too long", h)}
    assert engine.plan_forward([c], mapping(), {}, rejected).still_rejected == ["1"]
    changed = contact("1", company="Acme")
    assert [w.hubspot_id for w in engine.plan_forward([changed], mapping(), {}, rejected).writes] == ["1"]


def test_a_retryable_rejection_is_retried_even_if_unchanged():
    c = contact("1")
    h = payload_hash(render_fields(c, mapping()))
    rejected = {"1": Rejection("1", "UNABLE_TO_LOCK_ROW", "locked", h, retryable=True)}
    assert len(engine.plan_forward([c], mapping(), {}, rejected).writes) == 1


def test_email_match_links_to_the_existing_lead_instead_of_creating_one():
    plan = engine.plan_forward([contact("1", email="O'Brien@Example.com")], mapping(), {}, {})
    existing = [ExistingLead("00QA", "o'brien@example.com", None, False, None, "2026-01-01")]
    plan = engine.resolve_email_matches(plan, existing, mapping())
    (write,) = plan.writes
    assert (write.kind, write.target_id, write.via_email) == ("lead_update", "00QA", True)
    assert write.record(mapping())["HubSpot_Contact_Id__c"] == "1"   # the link is written to Salesforce too


def test_email_match_ignores_a_lead_claimed_by_another_contact():
    plan = engine.plan_forward([contact("1", email="a@example.com")], mapping(), {}, {})
    existing = [ExistingLead("00QA", "a@example.com", "999", False, None)]
    assert engine.resolve_email_matches(plan, existing, mapping()).writes[0].kind == "upsert"


def test_email_match_on_a_converted_lead_updates_its_contact():
    plan = engine.plan_forward([contact("1", email="a@example.com")], mapping(), {}, {})
    existing = [ExistingLead("00QA", "a@example.com", None, True, "003C")]
    (write,) = engine.resolve_email_matches(plan, existing, mapping()).writes
    assert (write.kind, write.target_id) == ("contact_update", "003C")
    assert set(write.fields) == {"Description", "Company__c"}      # renamed per contact_fields


def test_reconcile_records_links_and_rejections_with_the_remote_code():
    plan = engine.plan_forward([contact("1"), contact("2")], mapping(), {}, {})
    results = [WriteResult(True, "00Q1", created=True),
               WriteResult(False, errors=(RecordError("STRING_TOO_LONG", "Company: too long", ("Company",)),))]
    outcome = engine.reconcile(plan.writes, results, {})
    assert [(l.hubspot_id, l.lead_id) for l in outcome.links] == [("1", "00Q1")]
    (rejection,) = outcome.rejections
    assert (rejection.hubspot_id, rejection.code, rejection.retryable) == ("2", "STRING_TOO_LONG", False)
    assert "Company" in rejection.message and outcome.created == 1


def test_converted_refusal_is_followed_to_the_contact_or_skipped():
    plan = engine.plan_forward([contact("1")], mapping(), {}, {})
    refused = engine.reconcile(plan.writes, [WriteResult(False, errors=(RecordError(engine.CONVERTED, "x"),))], {})
    assert refused.rejections == [] and len(refused.converted) == 1
    lead = ExistingLead("00Q1", "c1@example.com", "1", True, "003X")
    writes, skipped = engine.plan_converted(refused.converted, [lead], mapping())
    assert [(w.kind, w.target_id, w.lead_id) for w in writes] == [("contact_update", "003X", "00Q1")]
    skip = mapping(salesforce={"external_id_field": "HubSpot_Contact_Id__c", "converted": {"action": "skip"}})
    writes, skipped = engine.plan_converted(refused.converted, [lead], skip)
    assert writes == [] and skipped[0].converted


def test_a_converted_link_goes_straight_to_the_contact_next_time():
    link = Link("1", "00Q1", "003X", converted=True, payload_hash="old")
    (write,) = engine.plan_forward([contact("1")], mapping(), {"1": link}, {}).writes
    assert (write.kind, write.target_id) == ("contact_update", "003X")


def test_a_record_the_mapping_cannot_render_is_rejected_once_then_still_rejected_until_it_changes():
    bad = contact("1", hs_analytics_num_page_views="lots")
    first = engine.plan_forward([bad], mapping(), {}, {})
    (rejection,) = first.rejected
    assert rejection.code == "SYNCD_INVALID_NUMBER"
    again = engine.plan_forward([bad], mapping(), {}, {"1": rejection})
    assert again.rejected == [] and again.still_rejected == ["1"]
    fixed = engine.plan_forward([contact("1", hs_analytics_num_page_views="7")], mapping(), {}, {"1": rejection})
    assert [w.hubspot_id for w in fixed.writes] == ["1"]
