"""The planner for contacts that move (syncd.plan.contact_moves), with plain data, and the state it records
(state.moves) on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from state.outcomes import OutcomeStore
from syncd.core.records import GoneContact, Link, Move, OutcomeState, Rejection
from syncd.mapping.model import ArchivedContactRule
from syncd.plan import contact_moves as moves
from syncd.plan.forward import Write
from syncd.plan.contact_moves import MoveFacts
from tests.factories import contact

EXT = "HubSpot_Contact_Id__c"


def link(hubspot_id: str, lead_id: str, **kw) -> Link:
    return Link(hubspot_id, lead_id, payload_hash="h", attribution=("ADS", "q3", "Ebook"), **kw)


@pytest.mark.parametrize("survivor_linked,merged,takeover,retired", [
    (False, ("7",), "7", []),                     # only the merged-away contact had a Lead: it moves
    (True, ("7",), None, ["7"]),                  # both had Leads: the survivor keeps its own
    (False, ("9", "7"), "7", ["9"]),              # a new id, both had Leads: the one handed over first moves
    (False, ("8",), None, []),                    # no Lead behind the merged id: nothing to do
], ids=["only-merged-away", "both", "new-id-both", "none"])
def test_merges_move_one_link_to_the_survivor_and_retire_the_others(survivor_linked, merged, takeover, retired):
    links = {"7": link("7", "00Q7"), "9": link("9", "00Q9")}
    if survivor_linked:
        links["20"] = link("20", "00Q20")
    plan = moves.merges([("20", merged)], MoveFacts(links, {}))
    assert (plan.takeovers["20"].hubspot_id if plan.takeovers else None) == takeover
    assert [g.hubspot_id for g in plan.retired] == retired and all(g.into == "20" for g in plan.retired)


def test_an_id_already_known_as_merged_is_never_taken_over_again():
    facts = MoveFacts({"7": link("7", "00Q7")}, {"7": Move("7", "merged", "moved", "00Q7", "20")})
    assert moves.merges([("30", ("7", "20"))], facts).takeovers == {}


def test_the_survivor_writes_to_the_taken_over_lead_by_id_and_relinks_when_it_has_nothing_to_write():
    plan = moves.merges([("20", ("7",)), ("21", ("8",))],
                        MoveFacts({"7": link("7", "00Q7"), "8": link("8", "00Q8")}, {}))
    seen = moves.planning_links({}, plan)
    assert seen["20"] == replace(link("7", "00Q7"), hubspot_id="20", payload_hash=None)
    rendered = Write("20", "upsert", {EXT: "20", "LastName": "X"}, "p")
    aimed = moves.aim([rendered], plan, EXT)
    assert aimed[0] == replace(rendered, kind="lead_update", target_id="00Q7", lead_id="00Q7", replaces="7")
    assert (aimed[1].hubspot_id, aimed[1].kind, aimed[1].fields, aimed[1].target_id, aimed[1].replaces) == \
        ("21", "lead_update", {EXT: "21"}, "00Q8", "8")
    assert moves.confirmed(aimed, {"20"}) == ([Move("7", "merged", "moved", "00Q7", into="20")], [])


@pytest.mark.parametrize("rule,fields", [
    (ArchivedContactRule(), None),
    (ArchivedContactRule(action="mark", field="Status", value="Closed"), {"Status": "Closed"}),
    (ArchivedContactRule(action="unlink"), {EXT: None}),
], ids=["leave", "mark", "unlink"])
def test_a_linked_contact_that_left_gets_the_action_once(rule, fields):
    facts = MoveFacts({"5": link("5", "00Q5"), "6": link("6", "00Q6", contact_id="003", converted=True)},
                      {"4": Move("4", "archived", rule.action, "00Q4")})
    gone = [GoneContact("4", "archived"), GoneContact("5", "deleted"), GoneContact("6", "archived"),
            GoneContact("99", "archived")]
    plan = moves.gone(gone, facts, rule, EXT)
    written = [(w.hubspot_id, w.fields, w.target_id) for w in plan.writes]     # as a dry run shows them
    assert written == ([] if fields is None else [("5", fields, "00Q5")])
    recorded = [(m.hubspot_id, m.kind, m.action) for m in plan.recorded]
    # 4 was handled before, 99 has no Lead, 6's Lead is converted (Salesforce refuses updates): left.
    assert recorded == ([("5", "deleted", "leave")] if fields is None else []) + [("6", "archived", "leave")]


def test_a_restored_contact_is_relinked_by_id_when_its_lead_was_unlinked():
    facts = MoveFacts({"5": link("5", "00Q5")}, {"5": Move("5", "archived", "unlink", "00Q5"),
                                                 "6": Move("6", "archived", "leave", "00Q6")})
    plan = moves.restores([contact("5"), contact("6"), contact("7")], facts, moves.MovePlan())
    assert plan.restored == ["5", "6"] and plan.relinks == {"5": "00Q5"}
    assert moves.planning_links(facts.links, plan)["5"].payload_hash is None
    aimed = moves.aim([Write("5", "upsert", {EXT: "5"}, "p")], plan, EXT)
    assert (aimed[0].kind, aimed[0].target_id, aimed[0].replaces) == ("lead_update", "00Q5", "5")
    assert moves.confirmed(aimed, {"5"}) == ([], ["5"])


def test_a_merge_moves_the_link_the_outcome_and_the_hand_over_time_in_state(store, pipeline):
    outcomes = OutcomeStore(store)
    store.commit_batch(pipeline, links=[link("7", "00Q7")], rejections=[Rejection("7", "X", "m", "h")])
    outcomes.commit(pipeline, states=[OutcomeState("7", "00Q7", outcome="contacted")])
    handed = store.all_links(pipeline)[0].first_synced_at
    survivor = Link("20", "00Q7", payload_hash="p2", attribution=("OTHER", None, None))
    store.commit_batch(pipeline, links=[survivor], resolved=["20"],
                       moves=[Move("7", "merged", "moved", "00Q7", into="20")])
    (row,) = store.all_links(pipeline)
    assert (row.hubspot_id, row.lead_id, row.source, row.first_synced_at) == ("20", "00Q7", "ADS", handed)
    assert list(outcomes.states_for(pipeline, ["7", "20"])) == ["20"]
    assert store.rejections_for(pipeline, ["7"]) == {}
    assert store.moves_for(pipeline, ["7", "20"]) == {"7": Move("7", "merged", "moved", "00Q7", "20")}
    assert store.count_moves(pipeline) == {"merged/moved": 1}
    store.commit_batch(pipeline, moves=[Move("20", "archived", "leave", "00Q7")])
    store.commit_batch(pipeline, restored=["20"])
    assert store.moves_for(pipeline, ["20"]) == {}
