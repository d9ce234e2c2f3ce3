"""The agreement's tracking step (issue #10) end to end: what Sales did in Salesforce (Tasks, Events,
Lead Status changes, in the emulator) read by syncd's connector (real simple-salesforce SDK) into
state, and the ``TrackedLead`` rows the classifier reads from it."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from structlog.testing import capture_logs

from emulators.salesforce.recycle_bin import undelete
from state.outcomes import OutcomeStore
from state.store import StateStore
from syncd import app
from syncd.app.connectors import Connectors
from syncd.core.agreement import Activity, ActivityKind
from syncd.core.errors import ExitCode
from syncd.core.ports import ActivityQuery
from syncd.core.records import Link, OutcomeState
from syncd.run.activities import ACTIVITIES_CURSOR, TrackingStep
from tests.feedback_helpers import (  # noqa: F401 - clock, syncd and ready are fixtures
    PIPELINE,
    clock,
    cycle,
    ready,
    syncd,
)
from tests.conftest import Syncd, qualified

# The one switch for the tracking step: an agreement in the config. What counts: the defaults
# (Call and Email Tasks, Events) and a change to a working status (so Lead history is read too).
MINIMAL_AGREEMENT = """\
version: 1
target: {sqls_per_month: 10}
first_contact: {within_hours: 8}
attempts:
  minimum: 3
  count: {working_statuses: [Working - Contacted]}
"""


def track(syncd: Syncd) -> dict[str, str]:
    """The environment that names a minimal agreement file (written once into the test's directory)."""
    path = syncd.tmp / "agreement.yaml"
    if not path.exists():
        path.write_text(MINIMAL_AGREEMENT)
    return {"SYNCD_AGREEMENT": str(path)}


COUNTED = ActivityQuery(working_statuses=("Working - Contacted",))
LATER = dt.timedelta(minutes=5)          # Sales works the Leads a few minutes after the hand-over


def _hand_over(syncd: Syncd, n: int) -> tuple[list[str], dict[str, str]]:
    """n contacts handed over by a cycle with tracking on: contact id -> Lead id."""
    ids = syncd.hubspot.create_contacts(qualified(n))
    result = cycle(syncd, env=track(syncd))
    assert result.forward.counts["created"] == n and result.activities is not None
    assert result.activities.status == "ok", result.activities.error
    # One query per kind of activity, one for the owners of the Leads just handed over, one for
    # their owner's name (the integration user owns them all).
    assert result.activities.api_calls["salesforce"] == 5 and result.activities.counts["owners_read"] == n
    assert result.activities.counts["owner_names_read"] == 1
    return ids, {i: lead["Id"] for i, lead in syncd.leads_by_hubspot_id().items()}


def _task(syncd: Syncd, lead: str, subtype: str | None, **fields) -> str:
    """A Task as a salesperson logs it (``fields`` may set read-only ones, such as CreatedDate)."""
    return syncd.salesforce.insert("Task", {"WhoId": lead, "Subject": subtype or "Follow up",
                                            **({"TaskSubtype": subtype} if subtype else {}), **fields},
                                   validate=not fields)


def _tracked(syncd: Syncd) -> dict[str, object]:
    store = syncd.store()
    try:
        return {t.hubspot_id: t for t in store.tracked_leads(PIPELINE, query=COUNTED)}
    finally:
        store.close()


def _activity_ids(syncd: Syncd) -> list[str]:
    store = syncd.store()
    try:
        return sorted(row.activity_id for row in store.lead_activities(PIPELINE))
    finally:
        store.close()


def test_calls_emails_events_and_working_status_changes_count_as_attempts_once_each(ready, clock):
    syncd = ready
    assert cycle(syncd).activities is None                 # no agreement: not a call more
    (a, b, c), leads = _hand_over(syncd, 3)
    sf = syncd.salesforce
    clock.offset = LATER
    call, email = _task(syncd, leads[a], "Call"), _task(syncd, leads[a], "Email")
    meeting = sf.insert("Event", {"WhoId": leads[a], "Subject": "Demo", "StartDateTime": "2026-03-02T10:00:00Z",
                                  "EndDateTime": "2026-03-02T11:00:00Z"})
    _task(syncd, leads[a], None)                            # a plain to-do is not an attempt
    before = min(t.handed_over_at for t in _tracked(syncd).values()) - dt.timedelta(hours=1)
    early = _task(syncd, leads[a], "Call", CreatedDate=before)   # logged as before the hand-over
    sf.update("Lead", leads[b], {"Status": "Working - Contacted", "OwnerId": sf.sales_user_id})
    stranger = sf.insert("Lead", {"LastName": "Nobody", "Company": "Elsewhere"})
    _task(syncd, stranger, "Call")                          # a Lead syncd did not hand over
    with capture_logs() as logs:
        result = cycle(syncd, env=track(syncd)).activities
    # Three kinds, and one name: the salesperson the back leg saw own lead b (the integration
    # user's name was read the cycle before and is not read again).
    assert result.status == "ok" and result.api_calls == {"hubspot": 0, "salesforce": 4}
    assert result.count_dict() == {"read": 6, "tasks": 3, "events": 1, "status_changes": 1, "kept": 5,
                                   "deleted": 0, "not_handed_over": 1, "owners_read": 0, "owner_names_read": 1}
    [line] = [e for e in logs if e["event"] == "activities.read"]
    assert line["kept"] == 5 and line["api_calls"]["salesforce"] == 4 and line["status"] == "ok"
    history = sf.find("LeadHistory", LeadId=leads[b])[0]["Id"]
    stored = _activity_ids(syncd)
    assert stored == sorted([call, email, meeting, early, history])

    tracked = _tracked(syncd)
    assert tracked[a].attempts == 3                          # call, email, event: not the plain task nor the early call
    assert tracked[a].first_contact_at == min(dt.datetime.fromisoformat(sf.get(kind, i)["CreatedDate"].replace(
        "+0000", "+00:00")) for kind, i in (("Task", call), ("Task", email), ("Event", meeting)))
    assert tracked[a].first_contact_at > tracked[a].handed_over_at
    assert (tracked[b].attempts, tracked[b].status, tracked[b].owner_id) == (1, "Working - Contacted",
                                                                             sf.sales_user_id)
    assert (tracked[c].attempts, tracked[c].first_contact_at, tracked[c].owner_id) == (0, None, sf.default_user_id)
    assert tracked[c].status == "Open - Not Contacted" and tracked[c].lead_id == leads[c]
    assert (tracked[b].owner_name, tracked[c].owner_name) == ("Sam Sales", "Integration User")
    assert not any(t.converted or t.closed_at for t in tracked.values())

    # The next cycle's window overlaps this one (the look-back): the same activities are read
    # again and stored once; the attempts do not move.
    # Every owner is named: no name is read again (until a day has passed).
    again = cycle(syncd, env=track(syncd)).activities
    assert again.counts["kept"] == 5 and again.api_calls["salesforce"] == 3
    assert again.counts["owner_names_read"] == 0
    assert _activity_ids(syncd) == stored
    assert {i: t.attempts for i, t in _tracked(syncd).items()} == {a: 3, b: 1, c: 0}


def test_a_call_deleted_in_salesforce_no_longer_counts_after_the_next_cycle_and_comes_back_if_restored(ready, clock):
    syncd = ready
    (a, b), leads = _hand_over(syncd, 2)
    sf = syncd.salesforce
    clock.offset = LATER
    call, email = _task(syncd, leads[a], "Call"), _task(syncd, leads[b], "Email")
    first = cycle(syncd, env=track(syncd)).activities
    assert first.counts["kept"] == 2 and first.counts["deleted"] == 0
    assert {i: t.attempts for i, t in _tracked(syncd).items()} == {a: 1, b: 1}
    clock.offset = LATER * 2
    sf.delete("Task", call)                                   # logged by mistake: in the recycle bin
    gone = cycle(syncd, env=track(syncd)).activities
    # Still one query per kind (queryAll for Tasks and Events, query for history), no other call.
    assert gone.status == "ok" and gone.api_calls["salesforce"] == first.api_calls["salesforce"] == 3
    assert (gone.counts["deleted"], gone.counts["kept"], gone.counts["tasks"]) == (1, 1, 1)
    tracked = _tracked(syncd)
    assert (tracked[a].attempts, tracked[a].first_contact_at) == (0, None)      # not contacted again
    assert tracked[b].attempts == 1 and _activity_ids(syncd) == [email]
    again = cycle(syncd, env=track(syncd)).activities                # the look-back reads the delete again
    assert again.api_calls["salesforce"] == 3 and _activity_ids(syncd) == [email]
    assert {i: t.attempts for i, t in _tracked(syncd).items()} == {a: 0, b: 1}
    clock.offset = LATER * 3
    with sf.lock:                                             # restored from the recycle bin
        undelete(sf.store, "Task", call)
    back = cycle(syncd, env=track(syncd)).activities
    assert back.counts["deleted"] == 0 and _activity_ids(syncd) == sorted([call, email])
    assert {i: t.attempts for i, t in _tracked(syncd).items()} == {a: 1, b: 1}


class _KilledBeforeCommit(StateStore):
    """The process dies after the window was read, before its last transaction."""

    def commit_activities(self, pipeline, **kwargs):  # noqa: ANN001, ANN003, ANN201
        if kwargs.get("cursors"):
            raise KeyboardInterrupt("killed")
        return super().commit_activities(pipeline, **kwargs)


def test_a_step_killed_between_read_and_commit_loses_and_doubles_nothing(ready, clock):
    syncd = ready
    (a, _), leads = _hand_over(syncd, 2)
    clock.offset = LATER
    call = _task(syncd, leads[a], "Call")
    loaded = app.load(syncd.stack.config_path, env=track(syncd))
    store = syncd.store()
    cursor = store.get_cursor(PIPELINE, ACTIVITIES_CURSOR)
    killed = _KilledBeforeCommit(store.url)
    connectors = Connectors.build(loaded)
    try:
        def step(state: StateStore) -> TrackingStep:
            return TrackingStep(source=connectors.activities, leads=connectors.leads, store=state, pipeline=PIPELINE,
                                lookback=dt.timedelta(minutes=10), calls=connectors.calls)

        with pytest.raises(KeyboardInterrupt):
            step(killed).run()
        # The pages before the last were stored as they came; the cursor did not move.
        assert store.get_cursor(PIPELINE, ACTIVITIES_CURSOR) == cursor and _activity_ids(syncd) == [call]
        assert step(store).run().counts["kept"] == 1
        assert _activity_ids(syncd) == [call]
        assert store.get_cursor(PIPELINE, ACTIVITIES_CURSOR) > cursor
        assert step(store).run().counts["kept"] == 1             # once more over the same window
        # A refused read (the integration user may not read Lead history) fails the step, through
        # the one error table; the cursor stays where it was.
        moved = store.get_cursor(PIPELINE, ACTIVITIES_CURSOR)
        syncd.salesforce.inject_fault("GET", "/query", 400, [{"errorCode": "INVALID_TYPE", "message":
                                                              "sObject type 'LeadHistory' is not supported"}])
        with capture_logs() as logs:
            failed = step(store).run()
        assert failed.status == "failed" and failed.exit_code == ExitCode.REMOTE_UNAVAILABLE
        assert [e["who_acts"] for e in logs if e["event"] == "activities.read"] == ["config"]
        assert store.get_cursor(PIPELINE, ACTIVITIES_CURSOR) == moved
        # A queue owns Leads as a Group: the emulator answers the names query the step sends.
        queue = syncd.salesforce.insert("Group", {"Name": "Inbound queue", "Type": "Queue"})
        assert connectors.leads.current_values(sobject="Group", fields=("Name",), ids=[queue]) == {
            queue: {"Id": queue, "Name": "Inbound queue"}}
    finally:
        connectors.close()
        killed.close()
        store.close()
    assert [t.attempts for t in _tracked(syncd).values() if t.hubspot_id == a] == [1]


T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def _at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def test_tracked_leads_count_only_what_the_query_counts_after_the_hand_over_and_map_outcomes(store, pipeline):
    """On both databases: the hand-over range, activities before the hand-over, subtypes, events and
    status changes per the query, disqualified (closed not converted) and converted outcomes."""
    for hours, (hubspot_id, lead_id) in enumerate([("1", "00Q000000000001AAA"), ("2", "00Q000000000002AAA"),
                                                  ("3", "00Q000000000003AAA"), ("4", "00Q000000000004AAA")]):
        store.commit_batch(pipeline, links=[Link(hubspot_id, lead_id, attribution=("ads", "spring", None))],
                           now=_at(hours))
    acts = [Activity("00T000000000001AAA", "00Q000000000001AAA", ActivityKind.TASK, _at(-1), "Call"),   # early
            Activity("00T000000000002AAA", "00Q000000000001AAA", ActivityKind.TASK, _at(2), "Email"),
            Activity("00T000000000003AAA", "00Q000000000001AAA", ActivityKind.TASK, _at(1), "Task"),
            Activity("00U000000000001AAA", "00Q000000000001AAA", ActivityKind.EVENT, _at(3)),
            Activity("017000000000001AAA", "00Q000000000002AAA", ActivityKind.STATUS, _at(4), "Working - Contacted",
                     "Open - Not Contacted"),
            Activity("017000000000002AAA", "00Q000000000003AAA", ActivityKind.STATUS, _at(5),
                     "Closed - Not Converted", "Open - Not Contacted")]
    store.commit_activities(pipeline, activities=acts, owners={"00Q000000000004AAA": ("005000000000001AAA", "Open")})
    store.commit_activities(pipeline, activities=acts[1:2])                 # read again: stored once
    OutcomeStore(store).commit(pipeline, states=[
        OutcomeState("3", "00Q000000000003AAA", "Closed - Not Converted", outcome="disqualified", outcome_at=_at(5),
                     lead_fields={"OwnerId": "005000000000002AAA"}),
        OutcomeState("4", "00Q000000000004AAA", "Closed - Converted", converted=True, outcome="won")])
    tracked = {t.hubspot_id: t for t in store.tracked_leads(pipeline, query=COUNTED)}
    assert {i: t.attempts for i, t in tracked.items()} == {"1": 2, "2": 1, "3": 0, "4": 0}
    assert (tracked["1"].first_contact_at, tracked["2"].first_contact_at) == (_at(2), _at(4))
    assert tracked["1"].handed_over_at == _at(0) and tracked["1"].source == "ads" and tracked["1"].parts == {}
    assert (tracked["3"].closed_at, tracked["3"].converted, tracked["3"].owner_id) == (_at(5), False,
                                                                                     "005000000000002AAA")
    assert (tracked["4"].converted, tracked["4"].closed_at, tracked["4"].owner_id) == (True, None,
                                                                                      "005000000000001AAA")
    no_events = ActivityQuery(task_subtypes=("Call",), events=False, working_statuses=("Working - Contacted",))
    in_range = store.tracked_leads(pipeline, handed_over_from=_at(0), handed_over_to=_at(2), query=no_events)
    assert [(t.hubspot_id, t.attempts) for t in in_range] == [("1", 0), ("2", 1)]
    assert len(store.lead_activities(pipeline)) == 6
    # The owners to name: of lead_owners and of the back leg's outcomes (lead_fields' OwnerId).
    assert sorted(store.owners_to_name(pipeline, max_age=dt.timedelta(days=1), limit=10)) == [
        "005000000000001AAA", "005000000000002AAA"]
    store.commit_activities(pipeline, owner_names={"005000000000001AAA": "Ada Owner", "005000000000002AAA": None})
    tracked = {t.hubspot_id: t for t in store.tracked_leads(pipeline, query=COUNTED)}
    assert (tracked["4"].owner_name, tracked["3"].owner_name, tracked["1"].owner_name) == ("Ada Owner", None, None)
    assert store.owners_to_name(pipeline, max_age=dt.timedelta(days=1), limit=10) == []


class _Nothing:
    """An ActivitySource with no activities (the names are what is tested)."""

    system = "salesforce"

    def lead_activities(self, query, window):
        return iter(())

    def server_skew(self) -> float | None:
        return 0.0


class _Names:
    """A LeadSink that knows some owners' names and counts the queries sent (one per sObject here)."""

    def __init__(self, owners: dict[str, str], names: dict[str, str]) -> None:
        self.owners, self.names, self.queries = owners, names, []

    def current_values(self, *, sobject, fields, ids=(), key_field="Id"):
        self.queries.append((sobject, tuple(fields), sorted(ids)))
        if sobject == "Lead":
            return {i: {"Id": i, "OwnerId": self.owners[i], "Status": "Open"} for i in ids}
        return {i: {"Id": i, "Name": self.names[i]} for i in ids if i in self.names}


def test_owner_names_are_read_once_users_and_queues_and_again_after_a_day(store, pipeline):
    user, queue, gone = "005000000000001AAA", "00G000000000001AAA", "005000000000009AAA"
    leads = {"00Q000000000001AAA": user, "00Q000000000002AAA": queue, "00Q000000000003AAA": gone}
    store.commit_batch(pipeline, links=[Link(str(n), lead) for n, lead in enumerate(leads)], now=_at(0))
    sink = _Names(leads, {user: "Ada Owner", queue: "Inbound queue"})

    def run() -> dict[str, int]:
        result = TrackingStep(source=_Nothing(), leads=sink, store=store, pipeline=pipeline,
                              lookback=dt.timedelta(minutes=10)).run()
        assert result.status == "ok", result.error
        return result.count_dict()

    assert run()["owner_names_read"] == 3
    assert sink.queries == [("Lead", ("OwnerId", "Status"), sorted(leads)), ("User", ("Name",), sorted([user, gone])),
                            ("Group", ("Name",), [queue])]
    assert {t.lead_id: t.owner_name for t in store.tracked_leads(pipeline, query=COUNTED)} == {
        "00Q000000000001AAA": "Ada Owner", "00Q000000000002AAA": "Inbound queue", "00Q000000000003AAA": None}
    sink.queries.clear()
    assert run()["owner_names_read"] == 0 and sink.queries == []     # named (or known nameless): no call
    # A day later each is read again (a renamed User catches up), oldest first.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=1)
    assert sorted(store.owners_to_name(pipeline, max_age=dt.timedelta(days=1), limit=10, now=later)) == sorted(
        [user, queue, gone])


def test_an_activity_read_as_deleted_removes_its_row_once_and_read_live_again_comes_back(store, pipeline):
    """On both databases: a deleted Task or Event removes its row in the page's transaction; read
    again (the look-back, a rerun after a crash), or never stored, it changes nothing."""
    store.commit_batch(pipeline, links=[Link("1", "00Q000000000001AAA")], now=_at(0))
    call = Activity("00T000000000001AAA", "00Q000000000001AAA", ActivityKind.TASK, _at(1), "Call")
    demo = Activity("00U000000000001AAA", "00Q000000000001AAA", ActivityKind.EVENT, _at(2))
    store.commit_activities(pipeline, activities=[call, demo])
    deleted = [dataclasses.replace(call, deleted=True), dataclasses.replace(demo, deleted=True),
               Activity("00T000000000009AAA", "00Q000000000001AAA", ActivityKind.TASK, _at(3), "Call", deleted=True)]
    for _ in range(2):
        store.commit_activities(pipeline, activities=deleted[:1])
        [lead] = store.tracked_leads(pipeline, query=COUNTED)
        assert (lead.attempts, lead.first_contact_at) == (1, _at(2))
    store.commit_activities(pipeline, activities=deleted)
    [lead] = store.tracked_leads(pipeline, query=COUNTED)
    assert (lead.attempts, lead.first_contact_at) == (0, None) and store.lead_activities(pipeline) == []
    store.commit_activities(pipeline, activities=[call])                    # undeleted: counts again
    assert [t.attempts for t in store.tracked_leads(pipeline, query=COUNTED)] == [1]
