"""Chaos with records that move (issue #8): the SIGKILL loop of tests/test_chaos_kills.py, fewer
kills, with Marketing and Sales moving records between them and the servers' clocks off this
host's, then clean runs, and the EXACT end state the README's "Records that move" documents for
each case. On SQLite and on PostgreSQL.

Between the processes, besides the usual work (Leads worked, contacts edited, new contacts):
- Marketing merges a handed-over contact into a subscriber (a survivor without a Lead, which
  search never returns), merges two handed-over contacts (the survivor has its own Lead), and
  merges a handed-over contact and a subscriber into a new surviving id; archives three contacts
  (``archived_contact: unlink``) and restores one; GDPR-deletes one whose Lead Sales then works.
- Sales deletes two Leads (one contact is edited afterwards, one is not), merges a Lead into a
  free master Lead it made by hand (then works the master), and merges one Lead into another
  contact's Lead (held).
- The emulators' clocks run five minutes behind this host for the first processes, level for
  the next, then five minutes ahead (servers' clocks only move forward, as real ones do), with a
  one-minute look-back, shorter than the skew.
Every choice (which contacts, the kill moments, the weather) comes from one seed."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import select

from mappings import __file__ as mappings_init
from state.models import ContactMoveRow
from state.outcomes import OutcomeStore
from syncd.core.errors import ExitCode
from syncd.core.records import Move
from syncd.run.clock import skew_cursor
from tests.chaos_helpers import BadDay, WatchedStack, assert_lead_fields, clear_weather, new_contacts
from tests.feedback_helpers import BEHIND, Clock, clock  # noqa: F401 - a fixture
from tests.test_chaos_kills import (  # noqa: F401 - database and stack are fixtures
    SCHEDULE,
    KillSwitch,
    Landed,
    assert_a_further_run_writes_nothing,
    database,
    kill_loop,
    open_store,
    stack,
    work_between_kills,
)
from tests.test_local_faults import run_once

KILLS = 10
MOST_PROCESSES = 24
SEED = 88
EXT = "HubSpot_Contact_Id__c"
SKEW = dt.timedelta(minutes=5)
BEHIND_UNTIL, LEVEL_UNTIL = 4, 8            # processes 0-3: servers behind; 4-7: level; then ahead
NOT_WORKED: tuple[None, None] = (None, None)
UTC = dt.timezone.utc


@dataclass
class Expected:
    """The documented end state of every contact and Lead that moved."""

    live: dict[str, str | None] = field(default_factory=dict)       # live Lead Id -> the contact id it carries
    deleted: dict[str, str | None] = field(default_factory=dict)    # deleted Lead Id -> its master (None: none)
    links: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    moves: dict[str, Move] = field(default_factory=dict)            # contact_moves, exactly
    outcomes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    fields_from: dict[str, str] = field(default_factory=dict)       # live Lead Id -> contact its fields are from
    touched: set[str] = field(default_factory=set)                  # contacts the usual work leaves alone
    to_restore: list[str] = field(default_factory=list)
    found_by_refusal: set[str] = field(default_factory=set)         # gone from HubSpot's listings


def configure(stack: WatchedStack, tmp_path: Path) -> None:
    """The bundled mapping with ``archived_contact: unlink``; the archived scan on every run."""
    text = (Path(mappings_init).parent / "hubspot-to-salesforce.yaml").read_text()
    custom = tmp_path / "moves.yaml"
    assert "  archived_contact:\n    action: leave\n" in text
    custom.write_text(text.replace("  archived_contact:\n    action: leave\n", "  archived_contact: {action: unlink}\n"))
    stack.stack.write_config(mapping=custom, extra="sync:\n  archived_scan_minutes: 0\n")
    stack.hubspot.configure({"merge_mints_new_id": False})     # the older merge; round_1 mints one id


def set_skew(stack: WatchedStack, clock: Clock, skew: dt.timedelta) -> None:  # noqa: F811 - the fixture
    """Both servers' clocks ``skew`` off this host's (Salesforce keeps its usual two seconds)."""
    stack.hubspot.set_clock(lambda: dt.datetime.now(UTC) + skew)
    clock.offset = BEHIND + skew


def stored_skew(stack: WatchedStack, url: str | None, pipeline: str) -> dict[str, int]:
    store = open_store(stack, url)
    try:
        return {system: round(float(store.get_cursor(pipeline, skew_cursor(system)) or "nan") / 60)
                for system in ("hubspot", "salesforce")}
    finally:
        store.close()


def pick(stack: WatchedStack, day: BadDay, exp: Expected, rng: random.Random, n: int, url: str | None,
         pipeline: str) -> list[str]:
    """``n`` contacts to move: handed over (linked in state to the Lead carrying their id), no
    outcome yet, nothing special; each picked once."""
    leads = stack.leads_by_hubspot_id()
    store = open_store(stack, url)
    try:
        links = store.links_for(pipeline, day.qualified)
    finally:
        store.close()
    pool = [i for i in day.qualified if i not in exp.touched and i not in day.outcomes and i not in day.matched
            and i in leads and i in links and links[i].lead_id == leads[i]["Id"]]
    chosen = rng.sample(sorted(pool, key=int), n)
    exp.touched.update(chosen)
    return chosen


def subscriber(day: BadDay, exp: Expected, rng: random.Random) -> str:
    chosen = rng.choice(sorted(set(day.unqualified) - exp.touched, key=int))
    exp.touched.add(chosen)
    return chosen


def contacted(stack: WatchedStack, lead_id: str) -> tuple[str, None]:
    stack.salesforce.update("Lead", lead_id, {"Status": "Working - Contacted"})
    return ("contacted", None)


def kept(exp: Expected, contact: str, lead_id: str, outcome: tuple[str | None, str | None] = NOT_WORKED) -> None:
    """``contact`` ends linked to its own Lead, which carries its id and its values."""
    exp.live[lead_id] = exp.fields_from[lead_id] = contact
    exp.links[contact] = (lead_id, None, None)
    exp.outcomes[contact] = outcome


Picker = Callable[[int], list[str]]


def round_0(stack: WatchedStack, day: BadDay, exp: Expected, rng: random.Random, picked: Picker) -> None:
    """Merges in HubSpot (survivor without a Lead; survivor with its own), deletes and a free
    master in Salesforce."""
    leads = stack.leads_by_hubspot_id()
    h1, q1, q2, d1, d3 = picked(5)
    survivor, lead = subscriber(day, exp, rng), leads[h1]["Id"]
    assert stack.hubspot.merge_contacts(survivor, h1) == survivor
    # The survivor never qualifies: the back leg's outcome for h1 is refused, the scan traces it.
    exp.live[lead], exp.links[survivor] = survivor, (lead, None, None)
    exp.moves[h1] = Move(h1, "merged", "moved", lead, into=survivor)
    exp.found_by_refusal.add(h1)
    stack.salesforce.update("Lead", lead, {"Status": "Closed - Not Converted", "Unqualified_Reason__c": "No Budget"})
    exp.outcomes[survivor] = ("disqualified", "no_budget")
    assert stack.hubspot.merge_contacts(q1, q2) == q1                # both had a Lead: q2's is unlinked
    kept(exp, q1, leads[q1]["Id"])
    exp.live[leads[q2]["Id"]], exp.links[q2] = None, (leads[q2]["Id"], None, None)
    exp.moves[q2] = Move(q2, "merged", "unlink", leads[q2]["Id"], into=q1)
    # Sales deletes d1's Lead, and Marketing edits d1 afterwards: the write is refused, no new Lead.
    stack.salesforce.delete("Lead", leads[d1]["Id"])
    stack.hubspot.update_contact(d1, {"company": "Edited after its Lead was deleted"})
    exp.deleted[leads[d1]["Id"]], exp.links[d1], exp.outcomes[d1] = None, (None, "deleted", leads[d1]["Id"]), NOT_WORKED
    # Sales merges d3's Lead into one typed by hand, then works it; d3's next edit lands there.
    master = stack.salesforce.insert("Lead", {"LastName": "Typed by hand", "Company": "Trade fair",
                                              "Email": f"master{d3}@example.com"})
    stack.salesforce.merge_leads(master, [leads[d3]["Id"]])
    stack.hubspot.update_contact(d3, {"company": f"Edited after the merge {d3}"})
    exp.live[master] = exp.fields_from[master] = d3
    exp.deleted[leads[d3]["Id"]], exp.links[d3] = master, (master, None, leads[d3]["Id"])
    exp.outcomes[d3] = contacted(stack, master)


def round_1(stack: WatchedStack, day: BadDay, exp: Expected, rng: random.Random, picked: Picker) -> None:
    """Three contacts archived, a merge into a new surviving id, a Lead merged into another
    contact's Lead (held)."""
    leads = stack.leads_by_hubspot_id()
    a1, a2, a3, h3, k1, k2 = picked(6)
    for gone in (a1, a2, a3):
        stack.hubspot.archive_contact(gone)
    kept(exp, a1, leads[a1]["Id"])
    exp.to_restore.append(a1)                                        # in round 2
    for gone in (a2, a3):
        exp.live[leads[gone]["Id"]], exp.links[gone] = None, (leads[gone]["Id"], None, None)
        exp.moves[gone] = Move(gone, "archived", "unlink", leads[gone]["Id"])
    stack.hubspot.configure({"merge_mints_new_id": True})
    try:
        survivor = stack.hubspot.merge_contacts(h3, subscriber(day, exp, rng))
    finally:
        stack.hubspot.configure({"merge_mints_new_id": False})
    exp.touched.add(survivor)
    lead = leads[h3]["Id"]
    kept(exp, survivor, lead, contacted(stack, lead))
    exp.moves[h3] = Move(h3, "merged", "moved", lead, into=survivor)
    stack.salesforce.merge_leads(leads[k1]["Id"], [leads[k2]["Id"]])
    kept(exp, k1, leads[k1]["Id"])
    exp.deleted[leads[k2]["Id"]] = leads[k1]["Id"]
    exp.links[k2], exp.outcomes[k2] = (leads[k1]["Id"], "held", leads[k2]["Id"]), NOT_WORKED


def round_2(stack: WatchedStack, day: BadDay, exp: Expected, rng: random.Random, picked: Picker) -> None:
    """A GDPR delete whose Lead Sales then works; a Lead deleted with no edit after; a restore."""
    leads = stack.leads_by_hubspot_id()
    g, d2 = picked(2)
    stack.hubspot.gdpr_delete_contact(g)
    contacted(stack, leads[g]["Id"])                                 # refused: how the deletion is found
    exp.live[leads[g]["Id"]], exp.links[g] = None, (leads[g]["Id"], None, None)
    exp.moves[g] = Move(g, "deleted", "unlink", leads[g]["Id"])
    exp.found_by_refusal.add(g)
    stack.salesforce.delete("Lead", leads[d2]["Id"])
    exp.deleted[leads[d2]["Id"]], exp.links[d2], exp.outcomes[d2] = None, (None, "deleted", leads[d2]["Id"]), NOT_WORKED
    for restored in exp.to_restore:
        stack.hubspot.restore_contact(restored)


ROUNDS = (round_0, round_1, round_2)


# -- the end state -----------------------------------------------------------------------------

def assert_moved_exactly_as_documented(stack: WatchedStack, day: BadDay, exp: Expected, url: str | None,
                                       pipeline: str) -> None:
    """Every Lead (live and deleted), link, move and outcome as the README's "Records that move"
    says, and every other contact exactly once with its values and outcome."""
    everyone = stack.salesforce.all("Lead", include_deleted=True)
    live = {lead["Id"]: lead for lead in everyone if not lead["IsDeleted"]}
    deleted = {lead["Id"]: lead for lead in everyone if lead["IsDeleted"]}
    others = [i for i in day.qualified if i not in exp.touched]
    by_contact = stack.leads_by_hubspot_id()                          # fails on two Leads for one contact
    assert {k: v for k, v in by_contact.items() if k in exp.touched} == {
        c: live[lead] for lead, c in exp.live.items() if c is not None}
    assert {lead: live[lead][EXT] for lead in exp.live} == exp.live
    assert sorted(set(live) - set(exp.live)) == sorted(by_contact[i]["Id"] for i in others)
    assert {lead: deleted[lead]["MasterRecordId"] for lead in exp.deleted} == exp.deleted
    assert len(deleted) == len(exp.deleted)                           # no other Lead was lost
    assert_lead_fields(stack, day, {i: by_contact[i] for i in others})
    # The moved Leads carry their contact's values (edits made after the move included).
    assert_lead_fields(stack, BadDay(), {c: live[lead] for lead, c in exp.fields_from.items()})
    for contact in others:
        props = stack.hubspot.get_contact(contact)["properties"]
        assert (props.get("syncd_outcome"), props.get("syncd_outcome_reason")) == day.outcomes.get(
            contact, NOT_WORKED), contact
    for contact, outcome in exp.outcomes.items():
        props = stack.hubspot.get_contact(contact)["properties"]
        assert stack.hubspot.get_contact(contact)["id"] == contact    # live, not merged away
        assert (props.get("syncd_outcome"), props.get("syncd_outcome_reason")) == outcome, contact

    store = open_store(stack, url)
    try:
        links = {row.hubspot_id: row for row in store.all_links(pipeline)}
        assert {c: (links[c].lead_id, links[c].lead_moved, links[c].former_lead_id) for c in exp.links} == exp.links
        assert {c: links[c].lead_id for c in others} == {c: by_contact[c]["Id"] for c in others}
        assert set(links) == set(others) | set(exp.links)            # merged-away ids hold no link
        with store.session() as session:
            moves = {row.hubspot_id: Move(row.hubspot_id, row.kind, row.action, row.lead_id, row.into)
                     for row in session.exec(select(ContactMoveRow).where(ContactMoveRow.pipeline == pipeline))}
        assert moves == exp.moves
        assert store.count_rejections(pipeline) == 0
        assert [(r.hubspot_id, r.code) for r in OutcomeStore(store).list_rejections(pipeline)] == []
    finally:
        store.close()


def test_ten_sigkills_with_records_moving_and_clocks_skewed_end_in_each_documented_state(stack, database, clock,
                                                                                          tmp_path):  # noqa: F811
    url, pipeline = database
    env = {"SYNCD_SYNC__PIPELINE": pipeline, "SYNCD_SYNC__LOOKBACK_MINUTES": "1",
           **({"SYNCD_STATE__DATABASE_URL": url} if url else {})}
    configure(stack, tmp_path)
    assert stack.cli("setup", "hubspot") == ExitCode.OK
    set_skew(stack, clock, -SKEW)
    day, exp, rng = BadDay(), Expected(), random.Random(SEED)
    new_contacts(stack, day, 100, start=0, matched=2, unqualified=10)
    code, _, stderr = run_once(stack, env=env)                      # handed over before the bad day
    assert code == ExitCode.OK, stderr
    assert stored_skew(stack, url, pipeline) == {"hubspot": -5, "salesforce": -5}   # minutes, servers - host

    def picked(n: int) -> list[str]:
        return pick(stack, day, exp, rng, n, url, pipeline)

    switch = KillSwitch()
    stack.requests.listener = switch
    landed: list[Landed] = []
    phases: list[int] = []                  # each kill's skew: 0 behind, 1 level, 2 ahead
    try:
        set_skew_for = {BEHIND_UNTIL: dt.timedelta(0), LEVEL_UNTIL: SKEW}     # from that process on
        for process, killed in kill_loop(stack, switch, env, rng, kills=KILLS, most=MOST_PROCESSES, seed=SEED):
            if killed is not None:
                landed.append(killed)
                phases.append(0 if process < BEHIND_UNTIL else 1 if process < LEVEL_UNTIL else 2)
            if process < len(ROUNDS):
                ROUNDS[process](stack, day, exp, rng, picked)
            work_between_kills(stack, day, rng, process, leave=frozenset(exp.touched), new=8)
            if process + 1 in set_skew_for:
                set_skew(stack, clock, set_skew_for[process + 1])
    finally:
        stack.requests.listener = None
        clear_weather(stack)
    assert len(landed) == KILLS, f"{len(landed)} kills in {MOST_PROCESSES} runs"
    assert sum(k.back_leg for k in landed) >= 2 and sum(k.moment == SCHEDULE[1] for k in landed) >= 2, landed
    # Kills landed in each skew, and those level or ahead after every round of moves.
    assert set(phases) == {0, 1, 2} and phases.count(2) >= 2, phases

    # Two clean runs: a contact merged into one that does not qualify and a GDPR-deleted one are
    # "found when the back leg's next outcome is refused, then traced by the next scan" (README):
    # the first run may end with exit 3 for those refusals alone (OBJECT_NOT_FOUND), the second
    # traces them and exits 0.
    code, lines, stderr = run_once(stack, env=env)
    refused = {(e["hubspot_id"], e["code"]) for e in lines if e["event"] == "record.rejected"}
    assert refused <= {(c, "OBJECT_NOT_FOUND") for c in exp.found_by_refusal}, refused
    assert code == (ExitCode.RECORDS_REJECTED if refused else ExitCode.OK), stderr
    code, _, stderr = run_once(stack, env=env)
    assert code == ExitCode.OK, stderr
    assert_moved_exactly_as_documented(stack, day, exp, url, pipeline)
    assert stored_skew(stack, url, pipeline) == {"hubspot": 5, "salesforce": 5}

    assert_a_further_run_writes_nothing(stack, env)
    assert_moved_exactly_as_documented(stack, day, exp, url, pipeline)
