"""Fixtures for tests that drive syncd against the emulators over real HTTPS."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from sqlmodel import SQLModel

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.stack import Stack, start_stack
from state.store import StateStore
from syncd import app
from syncd.app.connectors import Connectors, salesforce_client
from syncd.app.cycle import run_forward
from syncd.cli import main
from syncd.run.result import RunResult
from tests.clock_shift import shift_days, shifted

UTC = dt.timezone.utc
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The chaos suite (tests/test_chaos*.py) is marked ``chaos`` and collected first: its tests
    take up to a minute each, and started last they would leave one worker running alone."""
    chaos = [item for item in items if item.path.name.startswith("test_chaos")]
    for item in chaos:
        item.add_marker(pytest.mark.chaos)
    # Longest files first (the SIGKILL loops sort after test_chaos.py); stable within a file.
    chaos.sort(key=lambda item: item.path.name, reverse=True)
    items[:] = chaos + [item for item in items if not item.path.name.startswith("test_chaos")]


@pytest.fixture(autouse=True)
def logging_config() -> Iterator[None]:
    """A command run in-process configures structlog for the whole process (`syncd doctor` at level
    error): put the configuration back, so no test's log capture depends on which ran before it."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(autouse=True)
def clock_shift() -> Iterator[None]:
    """TEST_CLOCK_SHIFT_DAYS=N runs every test with the clock N days on (tests/clock_shift.py)."""
    with shifted(shift_days()):
        yield


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """A migrated state store, once on SQLite and once on the machine's PostgreSQL. Rows of the
    pipelines the test took (the `pipeline` fixture) are deleted afterwards: the PostgreSQL
    database is shared with other tests and workers."""
    if request.param == "postgresql":
        postgres_or_skip()
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'state.db'}"
    state = StateStore(url)
    state.migrate()
    state.test_pipelines = []  # type: ignore[attr-defined]
    yield state
    pipelines = state.test_pipelines  # type: ignore[attr-defined]
    if pipelines:
        with state.engine.begin() as connection:
            for table in reversed(SQLModel.metadata.sorted_tables):
                if "pipeline" in table.c:
                    connection.execute(table.delete().where(table.c.pipeline.in_(pipelines)))
    state.close()


@pytest.fixture
def pipeline(store: StateStore) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    store.test_pipelines.append(name)  # type: ignore[attr-defined]
    return name


def postgres_or_skip() -> None:
    """Skip (with the reason) where the machine's PostgreSQL is not reachable."""
    try:
        import psycopg

        psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any reason it is not there
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({type(exc).__name__})")


def qualified(n: int, start: int = 0, **extra: str) -> list[dict[str, str]]:
    """n MQL contacts with distinct emails and enough context to map."""
    return [{"firstname": f"First{i}", "lastname": f"Last{i}", "email": f"lead{i}@example.com",
             "company": f"Company {i}", "lifecyclestage": "marketingqualifiedlead",
             "hs_analytics_source": "ORGANIC_SEARCH", "hs_analytics_source_data_1": "Google",
             "recent_conversion_event_name": "Ebook", "hs_analytics_num_page_views": str(i % 50),
             "pain_points": "slow handoff", **extra}
            for i in range(start, start + n)]


@dataclass
class Syncd:
    """syncd wired to a fresh pair of emulators; runs cycles in-process or via the CLI."""

    stack: Stack
    tmp: Path

    @property
    def hubspot(self) -> HubSpotEmulator:
        return self.stack.hubspot

    @property
    def salesforce(self) -> SalesforceEmulator:
        return self.stack.salesforce

    def run(self, *, dry_run: bool = False, full: bool = False, env: dict[str, str] | None = None) -> RunResult:
        """The forward leg once, as `syncd run --once` runs it (fresh connectors, one login)."""
        loaded = app.load(self.stack.config_path, env=env or {})
        store = app.open_store(loaded.settings)
        connectors = Connectors.build(loaded)
        try:
            return run_forward(loaded, store, connectors, dry_run=dry_run, full=full)
        finally:
            connectors.close()
            store.close()

    def cli(self, *args: str) -> int:
        return main([*args, "--config", str(self.stack.config_path)])

    def store(self):
        loaded = app.load(self.stack.config_path, env={}, require_credentials=False)
        return app.open_store(loaded.settings)

    def leads(self) -> list[dict]:
        return [lead for lead in self.salesforce.all("Lead")]

    def leads_by_hubspot_id(self) -> dict[str, dict]:
        by_id: dict[str, dict] = {}
        for lead in self.leads():
            key = lead.get("HubSpot_Contact_Id__c")
            assert key not in by_id, f"two Leads for HubSpot contact {key}"
            if key:
                by_id[key] = lead
        return by_id

    def soql(self, query: str) -> list[dict]:
        """Run a SOQL query over HTTPS through syncd's own Salesforce connector."""
        loaded = app.load(self.stack.config_path, env={})
        return salesforce_client(loaded.settings).query(query)

    def salesforce_writes(self) -> int:
        """Collections write calls (upserts and updates) the Salesforce emulator answered."""
        return self.salesforce.requests.count(method="PATCH", path_contains="/composite/sobjects")

    def write_config(self, **kwargs) -> Path:
        return self.stack.write_config(**kwargs)


@pytest.fixture
def syncd(tmp_path: Path) -> Iterator[Syncd]:
    hubspot = HubSpotEmulator(access_tokens=(), rate_limits=False)
    stack = start_stack(tmp_path / "stack", hubspot=hubspot, salesforce=SalesforceEmulator())
    try:
        yield Syncd(stack, tmp_path)
    finally:
        stack.stop()
