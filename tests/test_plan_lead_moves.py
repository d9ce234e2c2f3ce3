"""Leads that move, planned with plain data (``syncd.plan.lead_moves`` and the forward planner's part):
a known Lead is written by Id; a write refused as deleted follows the merge master, holds,
unlinks or re-creates; the back leg's relink does the same from what its query saw."""

import datetime as dt

import pytest

from syncd.core.records import ExistingLead, Link, RecordError, SalesforceLead, WriteResult
from syncd.plan import forward, lead_moves
from syncd.plan.forward import ForwardFacts
from tests.factories import BASE_MAPPING, contact, mapping

DELETED = WriteResult(False, errors=(RecordError("ENTITY_IS_DELETED", "entity is deleted"),))


def recreate():
    return mapping(salesforce={**BASE_MAPPING["salesforce"], "deleted_lead": {"action": "recreate"}})


def lead(id, external_id=None, *, deleted=False, master=None, converted=False, contact_id=None):
    return ExistingLead(id, None, external_id, converted, contact_id, "", deleted, master)


def refused_write(m=None):
    """The contact's write to its known Lead 00QA, as Salesforce refused it (deleted)."""
    (write,) = forward.plan([contact("1")], ForwardFacts({"1": Link("1", "00QA", payload_hash="old")}, {}, ()),
                            m or mapping()).writes
    commit = forward.confirm([write], [DELETED])
    assert commit.deleted == [write] and commit.rejections == [] and commit.links == []
    return write


def test_a_known_lead_is_written_by_id_carrying_the_external_id_never_upserted():
    (write,) = forward.plan([contact("1")], ForwardFacts({"1": Link("1", "00QA", payload_hash="old")}, {}, ()),
                            mapping()).writes
    assert (write.kind, write.target_id) == ("lead_update", "00QA")
    assert write.lead_write().fields["HubSpot_Contact_Id__c"] == "1"


@pytest.mark.parametrize("moved, m, expected", [
    ("deleted", mapping(), ("skipped_unlinked", None)),
    ("held", mapping(), ("skipped_held", None)),
    ("deleted", recreate(), (None, "upsert")),
], ids=["unlinked", "held", "unlinked-then-recreate"])
def test_a_moved_link_is_skipped_or_re_created_as_the_mapping_says(moved, m, expected):
    link = Link("1", None if moved == "deleted" else "00QM", moved=moved, former_lead_id="00QA")
    result = forward.plan([contact("1")], ForwardFacts({"1": link}, {}, ()), m)
    skipped, kind = expected
    assert [w.kind for w in result.writes] == ([kind] if kind else [])
    if skipped:
        assert result.counts()[skipped] == 1
    else:
        assert (result.writes[0].former_lead_id, result.writes[0].move) == ("00QA", "recreated")


def test_a_merged_lead_is_followed_to_its_free_master_by_id():
    write = refused_write()
    traced = {"00QA": lead("00QA", "1", deleted=True, master="00QM"), "00QM": lead("00QM")}
    writes, links, events = forward.follow_deleted([write], traced, mapping())
    assert links == [] and events == []
    (aimed,) = writes
    assert (aimed.kind, aimed.target_id, aimed.former_lead_id, aimed.move) == ("lead_update", "00QM", "00QA", "merged")
    commit = forward.confirm(writes, [WriteResult(True, "00QM")])
    (link,) = commit.links
    assert (link.lead_id, link.former_lead_id, link.moved, link.unmarked) == ("00QM", "00QA", None, False)
    assert [(e.name, e.fields["lead_id"]) for e in commit.events] == [(lead_moves.MERGED, "00QM")]
    assert commit.counts["leads_merged"] == 1


def test_a_chain_of_merges_ends_at_the_last_live_master():
    traced = {"00QA": lead("00QA", deleted=True, master="00QB"), "00QB": lead("00QB", deleted=True, master="00QC"),
              "00QC": lead("00QC")}
    move = lead_moves.trace("00QA", traced)
    assert (move.master.id, move.chain) == ("00QC", ("00QA", "00QB"))


def test_a_chain_longer_than_the_hops_followed_counts_as_deleted():
    traced = {f"00Q{i}": lead(f"00Q{i}", deleted=True, master=f"00Q{i + 1}") for i in range(lead_moves.MAX_HOPS + 1)}
    traced[f"00Q{lead_moves.MAX_HOPS + 1}"] = lead(f"00Q{lead_moves.MAX_HOPS + 1}")
    assert lead_moves.trace("00Q0", traced).master is None


def test_a_master_carrying_another_contacts_id_holds_the_contact_and_is_not_written():
    write = refused_write()
    traced = {"00QA": lead("00QA", "1", deleted=True, master="00QM"), "00QM": lead("00QM", "2")}
    writes, links, events = forward.follow_deleted([write], traced, mapping())
    assert writes == []
    (link,) = links
    assert (link.lead_id, link.moved, link.former_lead_id, link.payload_hash) == ("00QM", "held", "00QA", None)
    assert [(e.name, e.fields["master_hubspot_id"]) for e in events] == [(lead_moves.HELD, "2")]


def test_a_converted_master_gets_the_contact_write():
    write = refused_write()
    traced = {"00QA": lead("00QA", "1", deleted=True, master="00QM"),
              "00QM": lead("00QM", converted=True, contact_id="003C")}
    (aimed,), links, _ = forward.follow_deleted([write], traced, mapping())
    assert (aimed.kind, aimed.target_id, aimed.lead_id, aimed.unmarked) == ("contact_update", "003C", "00QM", True)


@pytest.mark.parametrize("m, expected", [(mapping(), "unlink"), (recreate(), "recreate")], ids=["unlink", "recreate"])
def test_a_lead_deleted_without_a_master_is_unlinked_or_re_created(m, expected):
    write = refused_write(m)
    writes, links, events = forward.follow_deleted([write], {"00QA": lead("00QA", "1", deleted=True)}, m)
    if expected == "unlink":
        assert writes == []
        (link,) = links
        assert (link.lead_id, link.moved, link.former_lead_id) == (None, "deleted", "00QA")
        assert [(e.name, e.fields["action"]) for e in events] == [(lead_moves.UNLINKED, "unlink")]
    else:
        assert links == [] and events == []
        (aimed,) = writes
        assert (aimed.kind, aimed.target_id, aimed.lead_id, aimed.move) == ("upsert", None, None, "recreated")


def test_a_lead_gone_from_the_recycle_bin_is_treated_as_deleted():
    write = refused_write()
    _, links, _ = forward.follow_deleted([write], {}, mapping())
    assert [(link.lead_id, link.moved) for link in links] == [(None, "deleted")]


def _seen(lead_id, hubspot_id, master=None):
    return SalesforceLead(lead_id, hubspot_id, "Open", None, False, None, dt.datetime(2026, 1, 1), deleted=True,
                          master_id=master)


def test_the_back_leg_relinks_only_links_still_pointing_at_the_moved_lead():
    links = {"1": Link("1", "00QA", payload_hash="h"), "2": Link("2", "00QB"), "3": Link("3", "00QX"),
             "4": Link("4", "00QD", "003D", True)}
    traced = {"00QA": lead("00QA", "1", deleted=True, master="00QM"), "00QM": lead("00QM"),
              "00QB": lead("00QB", "2", deleted=True)}
    seen = [_seen("00QA", "1", "00QM"), _seen("00QB", "2"), _seen("00QC", "3"), _seen("00QD", "4")]
    moved, events = lead_moves.relink(seen, links, traced, mapping())     # 3 points elsewhere; 4 writes to its Contact
    assert [(link.hubspot_id, link.lead_id, link.moved, link.unmarked, link.payload_hash) for link in moved] == [
        ("1", "00QM", None, True, None), ("2", None, "deleted", None, None)]
    assert [e.name for e in events] == [lead_moves.MERGED, lead_moves.UNLINKED]
