"""Chaos, acceptance 3 of issue #8: twenty SIGKILLs of real `syncd run --once` processes at
seeded moments spread across both legs, with Sales and Marketing at work between some of them,
then one clean run: every Lead exactly once, every outcome delivered, nothing in the rejection
tables, the cursors where a clean history would have them (a further run writes nothing). On
SQLite and on PostgreSQL.

A moment is "the n-th request of some class that the emulators handled", never a wall-clock
instant: the emulator kills the process right after it handled that request, so a Salesforce
write killed this way was applied and its answer lost before syncd could record it. The classes:
any API request; a Salesforce Collections write (the kill lands between the write and the state
commit); a back-leg request (the outcome query, or the outcome update on HubSpot). Every third
process also meets 20 % weather (emulators/weather.py), so some kills land while a call is
being retried, or right after a write whose first answer was lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from sqlmodel import SQLModel
from werkzeug.wrappers import Request

from state.store import StateStore
from syncd.core.errors import ExitCode
from tests.chaos_helpers import (
    BadDay,
    WatchedStack,
    assert_every_lead_exactly_once_with_every_field_right,
    assert_every_outcome_delivered,
    assert_state_consistent,
    clear_weather,
    edit_contacts,
    new_contacts,
    watched_stack,
    weather,
    weather_met,
    work_leads,
)
from tests.conftest import POSTGRES_URL, postgres_or_skip
from tests.daemon import clean_env, syncd_command
from tests.feedback_helpers import Clock, clock  # noqa: F401 - a fixture
from tests.test_local_faults import run_once

KILLS = 20
MOST_PROCESSES = 45          # kills plus the runs whose moment never came
SEED = 20
ANY, WRITE, BACK = "any request", "Salesforce write", "back leg"
# The n-th request of each class a moment is drawn from (a run that never reaches it finishes).
MOMENTS = {ANY: (1, 6), WRITE: (1, 3), BACK: (1, 2)}
SCHEDULE = (ANY, WRITE, ANY, BACK)         # the class of each kill's moment, in turn
WEATHER_EVERY = 3            # every third process also runs in 20 % weather (tests/test_chaos.py)


def classes_of(system: str, request: Request) -> set[str]:
    classes = {ANY}
    if system == "salesforce" and request.method == "PATCH" and "/composite/sobjects" in request.path:
        classes.add(WRITE)
    if system == "hubspot" and request.method == "POST" and request.path.endswith("/batch/update"):
        classes.add(BACK)              # only the back leg writes to HubSpot
    if system == "salesforce" and "/query" in request.path \
            and "!= null" in unquote_plus(request.query_string.decode("latin-1")):
        classes.add(BACK)              # the outcome query (the forward leg's lookups are by email)
    return classes


@dataclass
class Landed:
    moment: str
    nth: int
    system: str
    request: str
    back_leg: bool
    salesforce_ahead: bool = False    # Salesforce holds Leads the state has not recorded


@dataclass
class KillSwitch:
    """Kills the armed process right after the emulators handled the armed moment's request."""

    pid: int | None = None
    moment: tuple[str, int] | None = None
    counts: Counter[str] = field(default_factory=Counter)
    landed: Landed | None = None
    started: threading.Event = field(default_factory=threading.Event)

    def arm(self, moment: tuple[str, int]) -> None:
        self.pid, self.moment, self.landed = None, moment, None
        self.counts.clear()
        self.started.clear()

    def __call__(self, system: str, request: Request, response: object) -> None:
        if response is None or self.moment is None or self.landed is not None:
            return
        classes = classes_of(system, request)
        self.counts.update(classes)
        kind, nth = self.moment
        if kind in classes and self.counts[kind] == nth:
            assert self.started.wait(30), "the process never told its pid"
            assert self.pid is not None
            os.kill(self.pid, signal.SIGKILL)
            self.landed = Landed(kind, nth, system, f"{request.method} {request.path}", BACK in classes)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[tuple[str | None, str]]:
    """(database URL or None for the config's SQLite file, pipeline); PostgreSQL rows deleted after."""
    pipeline = f"chaos-{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        yield None, pipeline
        return
    postgres_or_skip()
    yield POSTGRES_URL, pipeline
    store = StateStore(POSTGRES_URL)
    with store.engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if "pipeline" in table.c:
                connection.execute(table.delete().where(table.c.pipeline == pipeline))
    store.close()


@pytest.fixture
def stack(tmp_path: Path, clock: Clock) -> Iterator[WatchedStack]:  # noqa: F811 - the fixture
    with watched_stack(tmp_path, clock) as watched:
        yield watched


def killed_run(stack: WatchedStack, switch: KillSwitch, env: dict[str, str]) -> Landed | None:
    """One `syncd run --once`, killed at the armed moment if the run gets that far."""
    process = subprocess.Popen(syncd_command("run", "--once", "--config", str(stack.stack.config_path)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=clean_env(**env))
    switch.pid = process.pid
    switch.started.set()
    _, stderr = process.communicate(timeout=120)
    if switch.landed is None:
        assert process.returncode == ExitCode.OK, stderr
        return None
    assert process.returncode == -signal.SIGKILL, stderr
    return switch.landed


def open_store(stack: WatchedStack, url: str | None) -> StateStore:
    return StateStore(url) if url else stack.store()


def salesforce_ahead_of_state(stack: WatchedStack, url: str | None, pipeline: str) -> bool:
    store = open_store(stack, url)
    try:
        return len(stack.leads_by_hubspot_id()) > store.count_links(pipeline)
    finally:
        store.close()


def work_between_kills(stack: WatchedStack, day: BadDay, rng: random.Random, round_: int, *,
                       leave: frozenset[str] = frozenset(), new: int = 15) -> None:
    """Sales works a few Leads that exist by now, Marketing edits a few handed-over contacts,
    and new contacts qualify: the next run has both legs' work to do. The contacts in ``leave``
    (records that moved: tests/test_chaos_moves.py) are neither worked nor edited here."""
    in_salesforce = set(stack.leads_by_hubspot_id()) - leave
    unworked = [i for i in day.qualified if i in in_salesforce and i not in day.outcomes]
    work_leads(stack, day, rng.sample(unworked, min(4, len(unworked))), first=round_)
    linked = [i for i in day.qualified if i in in_salesforce]
    edit_contacts(stack, day, rng.sample(linked, min(3, len(linked))), f"round {round_}")
    new_contacts(stack, day, new, start=10_000 + 100 * round_, unqualified=2)


def assert_a_further_run_writes_nothing(stack: WatchedStack, env: dict[str, str]) -> None:
    """Nothing is left half-done: one more run finds nothing to write in either system."""
    stack.hubspot.requests.clear()
    stack.salesforce.requests.clear()
    code, _, stderr = run_once(stack, env=env)
    assert code == ExitCode.OK, stderr
    assert stack.salesforce_writes() == 0
    assert stack.hubspot.requests.count(method="POST", path_contains="/batch/update") == 0


def kill_loop(stack: WatchedStack, switch: KillSwitch, env: dict[str, str], rng: random.Random, *, kills: int,
              most: int, seed: int) -> Iterator[tuple[int, Landed | None]]:
    """Run `run --once` processes until ``kills`` of them were killed (at most ``most``): each
    armed with the next moment of the schedule (a run that finished is armed with the same class
    again), every WEATHER_EVERY-th in weather. Yields (process number, its kill or None), for the
    caller to work between runs."""
    landed = 0
    for process in range(most):
        if landed == kills:
            return
        kind = SCHEDULE[landed % len(SCHEDULE)]
        switch.arm((kind, rng.randint(*MOMENTS[kind])))
        if process % WEATHER_EVERY == WEATHER_EVERY - 1:
            weather(stack, seed=seed * 1000 + process)
        killed = killed_run(stack, switch, env)
        clear_weather(stack)
        landed += killed is not None
        yield process, killed


def test_twenty_sigkills_across_both_legs_then_one_clean_run_deliver_everything_exactly_once(stack, database):
    url, pipeline = database
    env = {"SYNCD_SYNC__PIPELINE": pipeline, **({"SYNCD_STATE__DATABASE_URL": url} if url else {})}
    assert stack.cli("setup", "hubspot") == ExitCode.OK
    day = BadDay()
    new_contacts(stack, day, 300, start=0, matched=3, unqualified=10)
    rng = random.Random(SEED)
    switch = KillSwitch()
    stack.requests.listener = switch
    landed: list[Landed] = []
    try:
        for process, killed in kill_loop(stack, switch, env, rng, kills=KILLS, most=MOST_PROCESSES, seed=SEED):
            if killed is not None:
                if killed.moment == WRITE:
                    killed.salesforce_ahead = salesforce_ahead_of_state(stack, url, pipeline)
                landed.append(killed)
            if killed is None or process % 4 == 1:
                work_between_kills(stack, day, rng, process)
    finally:
        stack.requests.listener = None
        clear_weather(stack)
    assert len(landed) == KILLS, f"{len(landed)} kills in {MOST_PROCESSES} runs"

    # The kills really spread: into the back leg, between a Salesforce write and its commit
    # (and at least once Salesforce was ahead of the state), and elsewhere in the forward leg.
    assert sum(k.back_leg for k in landed) >= KILLS // 4, landed
    assert sum(k.moment == WRITE for k in landed) == KILLS // 4 and any(k.salesforce_ahead for k in landed), landed
    assert sum(not k.back_leg and k.moment == ANY for k in landed) >= 3, landed
    met = weather_met(stack)
    assert met["hubspot"] and met["salesforce"], met          # and the weather really came

    code, _, stderr = run_once(stack, env=env)
    assert code == ExitCode.OK, stderr
    assert_every_lead_exactly_once_with_every_field_right(stack, day)
    assert_every_outcome_delivered(stack, day)
    store = open_store(stack, url)
    try:
        assert_state_consistent(stack, day, store, pipeline)
    finally:
        store.close()

    assert_a_further_run_writes_nothing(stack, env)
