"""The forward planner: what to write, given contacts, the mapping and state. Plain data only."""

from syncd.core.digest import digest as payload_hash
from syncd.core.records import Contact, ExistingLead, Link, RecordError, Rejection, WriteResult
from syncd.mapping.transform import render_fields
from syncd.plan import forward
from syncd.plan.forward import ForwardFacts
from tests.factories import contact, mapping


def plan(contacts, links=None, rejections=None, existing=(), m=None):
    return forward.plan(contacts, ForwardFacts(links or {}, rejections or {}, existing), m or mapping())


def test_new_qualified_contacts_are_upserted_by_external_id_and_unqualified_are_not_sent():
    result = plan([contact("1"), contact("2", lifecyclestage="subscriber")])
    assert [(w.hubspot_id, w.kind) for w in result.writes] == [("1", "upsert")]
    assert result.not_qualified == ["2"]


def test_unchanged_payload_is_not_written_again():
    c = contact("1")
    link = Link("1", "00Q1", payload_hash=payload_hash(render_fields(c, mapping())))
    result = plan([c], {"1": link})
    assert result.writes == [] and result.unchanged == ["1"]


def test_an_unchanged_contact_clears_its_old_rejection():
    """A mapping broken and then restored: the payload equals the last accepted write again."""
    c = contact("1")
    link = Link("1", "00Q1", payload_hash=payload_hash(render_fields(c, mapping())))
    old = {"1": Rejection("1", "SYNCD_TEMPLATE_ERROR", "broken", "input-hash")}
    result = plan([c], {"1": link}, old)
    assert result.unchanged == ["1"] and result.resolved == ["1"]


def test_a_rejected_record_is_retried_only_when_its_payload_changed():
    c = contact("1", company="X" * 300)
    h = payload_hash(render_fields(c, mapping()))
    rejected = {"1": Rejection("1", "STRING_TOO_LONG", "too long", h)}
    assert plan([c], rejections=rejected).still_rejected == ["1"]
    changed = contact("1", company="Acme")
    assert [w.hubspot_id for w in plan([changed], rejections=rejected).writes] == ["1"]


def test_a_retryable_rejection_is_retried_even_if_unchanged():
    c = contact("1")
    h = payload_hash(render_fields(c, mapping()))
    rejected = {"1": Rejection("1", "UNABLE_TO_LOCK_ROW", "locked", h, retryable=True)}
    assert len(plan([c], rejections=rejected).writes) == 1


def test_email_match_links_to_the_existing_lead_instead_of_creating_one():
    c = contact("1", email="O'Brien@Example.com")
    assert forward.email_lookups([c], {}, mapping()) == ["O'Brien@Example.com"]
    existing = [ExistingLead("00QA", "o'brien@example.com", None, False, None, "2026-01-01")]
    (write,) = plan([c], existing=existing).writes
    assert (write.kind, write.target_id, write.via_email) == ("lead_update", "00QA", True)
    assert write.lead_write().fields["HubSpot_Contact_Id__c"] == "1"   # the link is written to Salesforce too


def test_an_email_matching_duplicate_leads_links_the_oldest_and_names_the_others():
    existing = [ExistingLead("00QB", "Ann@Example.com", None, False, None, "2026-02-01"),
                ExistingLead("00QA", "ann@example.com", None, False, None, "2026-01-01"),
                ExistingLead("00QC", "ANN@example.com", "999", False, None, "2025-12-01")]   # another contact's
    result = plan([contact("1", email="ann@example.com")], existing=existing)
    (write,) = result.writes
    assert (write.kind, write.target_id) == ("lead_update", "00QA")
    assert result.ambiguous == {"1": ("00QA", ["00QB"])} and result.counts()["ambiguous_email"] == 1
    single = plan([contact("1", email="ann@example.com")], existing=existing[1:])
    assert single.ambiguous == {} and single.writes[0].target_id == "00QA"


def test_email_match_ignores_a_lead_claimed_by_another_contact():
    existing = [ExistingLead("00QA", "a@example.com", "999", False, None)]
    assert plan([contact("1", email="a@example.com")], existing=existing).writes[0].kind == "upsert"


def test_email_match_on_a_converted_lead_updates_its_contact():
    existing = [ExistingLead("00QA", "a@example.com", None, True, "003C")]
    (write,) = plan([contact("1", email="a@example.com")], existing=existing).writes
    assert (write.kind, write.target_id) == ("contact_update", "003C")
    assert set(write.fields) == {"Description", "Company__c"}      # renamed per contact_fields


def test_linked_contacts_need_no_email_lookup():
    link = Link("1", "00Q1", payload_hash="old")
    assert forward.email_lookups([contact("1"), contact("2")], {"1": link}, mapping()) == ["c2@example.com"]


def test_confirm_records_links_and_rejections_with_the_remote_code():
    result = plan([contact("1"), contact("2")])
    answers = [WriteResult(True, "00Q1", created=True),
               WriteResult(False, errors=(RecordError("STRING_TOO_LONG", "Company: too long", ("Company",)),))]
    commit = forward.confirm(result.writes, answers)
    assert [(link.hubspot_id, link.lead_id) for link in commit.links] == [("1", "00Q1")]
    (rejection,) = commit.rejections
    assert (rejection.hubspot_id, rejection.code, rejection.retryable) == ("2", "STRING_TOO_LONG", False)
    assert "Company" in rejection.message and commit.counts["created"] == 1


def test_a_refusal_the_error_table_calls_passing_is_retried_next_run():
    result = plan([contact("1")])
    locked = WriteResult(False, errors=(RecordError("UNABLE_TO_LOCK_ROW", "locked", (), retryable=True),))
    (rejection,) = forward.confirm(result.writes, [locked]).rejections
    assert rejection.retryable


def test_converted_refusal_is_followed_to_the_contact_or_skipped():
    result = plan([contact("1")])
    refused = forward.confirm(result.writes, [WriteResult(False, errors=(RecordError(forward.CONVERTED, "x"),))])
    assert refused.rejections == [] and len(refused.converted) == 1
    lead = ExistingLead("00Q1", "c1@example.com", "1", True, "003X")
    writes, skipped = forward.follow_converted(refused.converted, [lead], mapping())
    assert [(w.kind, w.target_id, w.lead_id) for w in writes] == [("contact_update", "003X", "00Q1")]
    skip = mapping(salesforce={"external_id_field": "HubSpot_Contact_Id__c", "converted": {"action": "skip"}})
    writes, skipped = forward.follow_converted(refused.converted, [lead], skip)
    assert writes == [] and skipped[0].converted


def test_a_converted_link_goes_straight_to_the_contact_next_time():
    link = Link("1", "00Q1", "003X", converted=True, payload_hash="old")
    (write,) = plan([contact("1")], {"1": link}).writes
    assert (write.kind, write.target_id) == ("contact_update", "003X")


def test_a_record_the_mapping_cannot_render_is_rejected_once_then_still_rejected_until_it_changes():
    bad = contact("1", hs_analytics_num_page_views="lots")
    first = plan([bad])
    (rejection,) = first.rejections
    assert rejection.code == "SYNCD_INVALID_NUMBER"
    again = plan([bad], rejections={"1": rejection})
    assert again.rejections == [] and again.still_rejected == ["1"]
    fixed = plan([contact("1", hs_analytics_num_page_views="7")], rejections={"1": rejection})
    assert [w.hubspot_id for w in fixed.writes] == ["1"]


def test_a_contact_unchanged_since_its_accepted_write_is_not_read_in_full():
    """The look-back re-reads the last window's tail: those contacts cost no batch read."""
    c = contact("1")
    write = plan([c]).writes[0]
    link = forward.confirm([write], [WriteResult(True, "00Q1", created=True)]).links[0]
    stub = Contact("1", {"hs_object_id": "1", "lastmodifieddate": c.properties["lastmodifieddate"]}, complete=False)
    edited = Contact("1", {"hs_object_id": "1", "lastmodifieddate": "2026-11-02T10:00:00.000Z"}, complete=False)
    fingerprint = mapping().fingerprint
    assert forward.needs_reading([stub], {"1": link}, {}, fingerprint) == []
    assert forward.needs_reading([edited], {"1": link}, {}, fingerprint) == ["1"]
    assert forward.needs_reading([stub], {}, {}, fingerprint) == ["1"]                       # never written
    assert forward.needs_reading([stub], {"1": link}, {}, "another mapping") == ["1"]
    rejected = {"1": Rejection("1", "UNABLE_TO_LOCK_ROW", "locked", "h", retryable=True)}
    assert forward.needs_reading([stub], {"1": link}, rejected, fingerprint) == ["1"]
    assert plan([stub], {"1": link}).unchanged == ["1"]
