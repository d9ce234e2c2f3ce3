"""What the chaos suite (tests/test_chaos.py, tests/test_chaos_kills.py) shares: emulators that
tell the test about every API request they handle (``Watched``: a session expiry or a SIGKILL
lands on the n-th request, never on a wall-clock moment), a realistic bad day's data set, and the
exact end state every run of it must reach."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.stack import start_stack
from state.outcomes import OutcomeStore
from state.store import StateStore
from syncd import app
from syncd.core.window import CONTACTS_CURSOR
from syncd.run.back import OUTCOMES_CURSOR
from tests.conftest import Syncd, qualified
from tests.feedback_helpers import Clock

WEATHER = {"429": 1, "503": 1, "drop": 1, "concurrency": 1}
# What each system's weather can be, as its request log marks it (emulators/weather.py).
HUBSPOT_KINDS = {"429", "503", "drop-before", "drop-after"}
SALESFORCE_KINDS = {"503", "concurrency", "drop-before", "drop-after"}
TOKEN_PATH = "/services/oauth2/token"
QUALIFIED_STAGES = ("marketingqualifiedlead", "salesqualifiedlead")      # the bundled mapping's `qualify`

Listener = Callable[[str, Request, "Response | None"], None]


class Requests:
    """Every API request both emulators handle, in one numbered sequence, told to a listener
    before (response None) and after it is handled. Thread-safe; the listener runs under its lock
    so the n-th request is the n-th for the test too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.listener: Listener | None = None

    def tell(self, system: str, request: Request, response: Response | None) -> None:
        with self._lock:
            if self.listener is not None:
                self.listener(system, request, response)


def watched(emulator_class: type, system: str) -> type:
    """``emulator_class`` telling ``requests`` about each API request it handles (control calls
    and requests weather answered or dropped before handling are not told)."""

    class Watched(emulator_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, requests: Requests, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.watchers = requests

        def dispatch(self, request):  # noqa: ANN001, ANN201 - werkzeug types, as the base class
            if request.path.startswith("/__emulator"):
                return super().dispatch(request)
            request.get_data()
            self.watchers.tell(system, request, None)
            response = super().dispatch(request)
            self.watchers.tell(system, request, response)
            return response

    Watched.__name__ = Watched.__qualname__ = f"Watched{emulator_class.__name__}"
    return Watched


@dataclass
class WatchedStack(Syncd):
    requests: Requests = field(default_factory=Requests)


@contextmanager
def watched_stack(tmp_path: Path, clock: Clock, extra_config: str = "") -> Iterator[WatchedStack]:
    requests = Requests()
    stack = start_stack(tmp_path / "stack",
                        hubspot=watched(HubSpotEmulator, "hubspot")(access_tokens=(), rate_limits=False,
                                                                    requests=requests),
                        salesforce=watched(SalesforceEmulator, "salesforce")(clock=clock, requests=requests))
    if extra_config:
        stack.write_config(extra=extra_config)
    try:
        yield WatchedStack(stack, tmp_path, requests)
    finally:
        requests.listener = None
        stack.stop()


def weather(syncd: Syncd, seed: int, rate: float = 0.2) -> None:
    syncd.hubspot.set_weather(seed, rate, WEATHER)
    syncd.salesforce.set_weather(seed, rate, WEATHER)


def clear_weather(syncd: Syncd) -> None:
    syncd.hubspot.clear_weather()
    syncd.salesforce.clear_weather()


def weather_met(syncd: Syncd) -> dict[str, set[str]]:
    """The kinds of weather each system's request log shows, and ``login`` for the token endpoint's."""
    met = {"hubspot": {e.weather for e in syncd.hubspot.requests.entries() if e.weather},
           "salesforce": {e.weather for e in syncd.salesforce.requests.entries() if e.weather},
           "login": {e.weather for e in syncd.salesforce.requests.entries() if e.weather and e.path == TOKEN_PATH}}
    return met


# -- the data set ------------------------------------------------------------------------------

@dataclass
class BadDay:
    """Who is who in the data set: contacts by what happened to them."""

    handed_over: list[str] = field(default_factory=list)     # qualified and synced before the bad day
    edited: dict[str, str] = field(default_factory=dict)     # synced, then edited: id -> new company
    new: list[str] = field(default_factory=list)             # qualified, never synced
    matched: dict[str, str] = field(default_factory=dict)    # new, whose email a Lead Sales made has: id -> Lead id
    unqualified: list[str] = field(default_factory=list)
    outcomes: dict[str, tuple[str, str | None]] = field(default_factory=dict)   # id -> (outcome, reason)

    @property
    def qualified(self) -> list[str]:
        return self.handed_over + self.new


def work_leads(syncd: Syncd, day: BadDay, ids: list[str], first: int = 0) -> None:
    """Sales works the Leads of ``ids``, five ways in turn (starting at the ``first``th way):
    disqualified, won, lost, an open Opportunity, contacted."""
    sf = syncd.salesforce
    leads = syncd.leads_by_hubspot_id()
    for i, hubspot_id in enumerate(ids):
        lead_id = leads[hubspot_id]["Id"]
        way = (i + first) % 5
        if way == 0:
            sf.update("Lead", lead_id, {"Status": "Closed - Not Converted", "Unqualified_Reason__c": "No Budget"})
            day.outcomes[hubspot_id] = ("disqualified", "no_budget")
        elif way == 1:
            sf.convert_lead(lead_id, opportunity={"StageName": "Closed Won", "Amount": 1000 + i,
                                                  "CloseDate": "2026-03-31"})
            day.outcomes[hubspot_id] = ("won", None)
        elif way == 2:
            sf.convert_lead(lead_id, opportunity={"StageName": "Closed Lost", "Amount": 500 + i,
                                                  "CloseDate": "2026-02-27", "Loss_Reason__c": "Competitor"})
            day.outcomes[hubspot_id] = ("lost", "competitor")
        elif way == 3:
            sf.convert_lead(lead_id, opportunity={"StageName": "Prospecting", "Amount": 700 + i})
            day.outcomes[hubspot_id] = ("opportunity", None)
        else:
            sf.update("Lead", lead_id, {"Status": "Working - Contacted"})
            day.outcomes[hubspot_id] = ("contacted", None)


def new_contacts(syncd: Syncd, day: BadDay, n: int, start: int, *, matched: int = 0, unqualified: int = 0) -> None:
    """n new qualified contacts (the first ``matched`` with a Lead Sales already made by hand)
    and ``unqualified`` subscribers who must not be handed over."""
    batch = qualified(n, start=start)
    for contact in batch[:matched]:
        lead_id = syncd.salesforce.insert("Lead", {"LastName": "Typed by hand", "Company": "Trade fair",
                                                   "Email": contact["email"]})
        day.matched[contact["email"]] = lead_id
    ids = syncd.hubspot.create_contacts(batch)
    day.new += ids
    for hubspot_id, contact in zip(ids, batch):
        if contact["email"] in day.matched:
            day.matched[hubspot_id] = day.matched.pop(contact["email"])
    subscribers = [{**c, "lifecyclestage": "subscriber", "email": f"sub{c['email']}"}
                   for c in qualified(unqualified, start=start)]
    day.unqualified += syncd.hubspot.create_contacts(subscribers) if subscribers else []


def edit_contacts(syncd: Syncd, day: BadDay, ids: list[str], tag: str) -> None:
    for hubspot_id in ids:
        company = f"Renamed {tag} {hubspot_id}"
        syncd.hubspot.update_contact(hubspot_id, {"company": company, "pain_points": f"pain {tag}"})
        day.edited[hubspot_id] = company


# -- the end state -----------------------------------------------------------------------------

def assert_every_lead_exactly_once_with_every_field_right(syncd: Syncd, day: BadDay) -> None:
    leads = syncd.leads_by_hubspot_id()                        # fails on two Leads for one contact
    assert sorted(leads, key=int) == sorted(day.qualified, key=int)
    assert len(syncd.leads()) == len(day.qualified)            # and no Lead without its contact
    assert_lead_fields(syncd, day, leads)


def assert_lead_fields(syncd: Syncd, day: BadDay, leads: dict[str, dict]) -> None:
    """Each of ``leads`` (contact id -> its Lead) carries its contact's values, or Sales's."""
    for hubspot_id, lead in leads.items():
        contact = syncd.hubspot.get_contact(hubspot_id)["properties"]
        assert lead["Email"] == contact["email"], hubspot_id
        assert (lead["FirstName"], lead["LastName"]) == (contact["firstname"], contact["lastname"]), hubspot_id
        # An edit is handed over while the contact qualifies; a won deal or an open Opportunity
        # moved its stage on (the back leg), and then it no longer does: its edits stay in HubSpot.
        edit_due = hubspot_id in day.edited and contact["lifecyclestage"] in QUALIFIED_STAGES
        if edit_due and not lead["IsConverted"]:
            assert lead["Company"] == day.edited[hubspot_id], hubspot_id
            assert lead["Pain_Points__c"] == contact["pain_points"], hubspot_id
        elif edit_due:                                         # Sales converted it: the Contact has it
            sf_contact = syncd.salesforce.get("Contact", lead["ConvertedContactId"])
            assert sf_contact["Pain_Points__c"] == contact["pain_points"], hubspot_id
        elif hubspot_id not in day.matched and hubspot_id not in day.edited:
            assert lead["Company"] == contact["company"], hubspot_id
        if hubspot_id in day.matched:
            assert lead["Id"] == day.matched[hubspot_id], hubspot_id


def assert_every_outcome_delivered(syncd: Syncd, day: BadDay) -> None:
    for hubspot_id in day.qualified + day.unqualified:
        props = syncd.hubspot.get_contact(hubspot_id)["properties"]
        expected = day.outcomes.get(hubspot_id, (None, None))
        assert (props.get("syncd_outcome"), props.get("syncd_outcome_reason")) == expected, hubspot_id


def assert_state_consistent(syncd: Syncd, day: BadDay, store: StateStore | None = None,
                            pipeline: str | None = None) -> None:
    """Every qualified contact linked to its Lead, nothing left to retry or to fix, both cursors
    set, and every delivered outcome recorded. Default: the config's store and pipeline."""
    own = store is None
    store = store or syncd.store()
    try:
        pipeline = pipeline or app.load(syncd.stack.config_path, env={},
                                         require_credentials=False).settings.sync.pipeline
        leads = syncd.leads_by_hubspot_id()
        links = store.links_for(pipeline, day.qualified)
        assert {k: link.lead_id for k, link in links.items()} == {k: leads[k]["Id"] for k in day.qualified}
        assert store.count_links(pipeline) == len(day.qualified)
        assert store.count_rejections(pipeline) == 0
        outcomes = OutcomeStore(store)
        assert outcomes.list_rejections(pipeline) == []
        delivered = outcomes.states_for(pipeline, list(day.outcomes))
        assert all(delivered[k].feedback_hash for k in day.outcomes), "an outcome written but not recorded"
        assert store.get_cursor(pipeline, CONTACTS_CURSOR) is not None
        assert store.get_cursor(pipeline, OUTCOMES_CURSOR) is not None
    finally:
        if own:
            store.close()
