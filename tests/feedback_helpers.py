"""Helpers and fixtures for the back-leg tests (issue #3): a cycle as `syncd run --once` runs it,
and a Salesforce emulator whose clock can be moved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.stack import start_stack
from syncd import app
from syncd.app.cycle import run_cycle
from syncd.run.result import CycleResult
from syncd.core.errors import ExitCode
from tests.conftest import Syncd, qualified

UTC = dt.timezone.utc
PIPELINE = "hubspot-to-salesforce"


def cycle(syncd: Syncd, env: dict[str, str] | None = None, **kwargs) -> CycleResult:
    """Exactly what `syncd run --once` runs: forward, then back."""
    loaded = app.load(syncd.stack.config_path, env=env or {})
    store = app.open_store(loaded.settings)
    try:
        return run_cycle(loaded, store, **kwargs)
    finally:
        store.close()


def props(syncd: Syncd, hubspot_id: str) -> dict[str, str]:
    return syncd.hubspot.get_contact(hubspot_id)["properties"]


def lock_contact_once(syncd: Syncd, hubspot_id: str) -> None:
    """HubSpot's next batch update refuses this contact as LOCKED (a passing refusal, retried)."""
    syncd.hubspot.inject_fault("POST", "/batch/update", 207, {
        "status": "COMPLETE", "results": [], "numErrors": 1, "startedAt": "2026-11-26T00:00:00Z",
        "completedAt": "2026-11-26T00:00:01Z",
        "errors": [{"status": "error", "category": "LOCKED", "message": "Contact is locked",
                    "context": {"ids": [hubspot_id]}}]})


def hubspot_writes(syncd: Syncd) -> int:
    """Requests that change HubSpot data (searches and batch reads are POSTs but read)."""
    return sum(1 for e in syncd.hubspot.requests.entries()
               if e.method in ("POST", "PATCH", "DELETE") and not e.path.endswith(("/search", "/batch/read")))


def hand_over(syncd: Syncd, n: int) -> tuple[list[str], dict[str, dict]]:
    ids = syncd.hubspot.create_contacts(qualified(n))
    result = cycle(syncd)
    assert result.forward.counts["created"] == n and result.back is not None and result.back.error is None
    return ids, syncd.leads_by_hubspot_id()


@pytest.fixture
def ready(syncd: Syncd) -> Syncd:
    """syncd with the HubSpot properties of the bundled feedback mapping created."""
    assert syncd.cli("setup", "hubspot") == ExitCode.OK
    return syncd


class Clock:
    """Real time, shifted. SOQL datetime literals have whole seconds, so the back leg reads up to
    the last whole second before it started and a change made in that same second is picked up by
    the next run. Tests run faster than that, so the emulated Salesforce runs a little behind
    (clock skew, which the look-back absorbs in real life)."""

    def __init__(self, offset: dt.timedelta) -> None:
        self.offset = offset

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(UTC) + self.offset


BEHIND = dt.timedelta(seconds=-2)


@pytest.fixture
def clock() -> Clock:
    return Clock(BEHIND)


@pytest.fixture
def syncd(tmp_path: Path, clock: Clock) -> Iterator[Syncd]:
    stack = start_stack(tmp_path / "stack", hubspot=HubSpotEmulator(access_tokens=(), rate_limits=False),
                        salesforce=SalesforceEmulator(clock=clock))
    try:
        yield Syncd(stack, tmp_path)
    finally:
        stack.stop()
