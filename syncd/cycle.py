"""One sync cycle, as `syncd run --once`, the service and the demo all run it.

Forward (HubSpot -> Salesforce) first, then back (Salesforce outcomes -> HubSpot) when the mapping
has a `feedback` section. Each leg commits its own state; a failure in one is reported with the
other's result intact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector
from state.store import StateStore
from syncd import app
from syncd.core.errors import ExitCode
from syncd.runner import Progress, RunResult


@dataclass
class Connectors:
    """The clients a cycle talks through. The service keeps one pair across cycles (one login,
    warm connection pools) and builds a new pair when a reload changes the settings."""

    hubspot: HubSpotConnector
    salesforce: SalesforceConnector

    @classmethod
    def build(cls, loaded: app.Loaded) -> "Connectors":
        return cls(app.hubspot_connector(loaded.settings), app.salesforce_connector(loaded.settings))


@dataclass
class CycleResult:
    forward: RunResult
    back: RunResult | None = None

    @property
    def results(self) -> list[RunResult]:
        return [r for r in (self.forward, self.back) if r is not None]

    @property
    def exit_code(self) -> ExitCode:
        """The most serious of the legs' codes (failure beats rejected records beats success)."""
        codes = [r.exit_code for r in self.results]
        failures = [c for c in codes if c not in (ExitCode.OK, ExitCode.RECORDS_REJECTED)]
        if failures:
            return failures[0]
        return ExitCode.RECORDS_REJECTED if ExitCode.RECORDS_REJECTED in codes else ExitCode.OK


def run_cycle(loaded: app.Loaded, store: StateStore, *, dry_run: bool = False, full: bool = False,
              progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
              connectors: Connectors | None = None) -> CycleResult:
    # One pair of connectors for both legs (and, in the service, for every cycle): one login.
    connectors = connectors or Connectors.build(loaded)
    hubspot, salesforce = connectors.hubspot, connectors.salesforce
    forward = app.forward_sync(loaded, store, progress=progress, hubspot=hubspot,
                               salesforce=salesforce).run(dry_run=dry_run, full=full, should_stop=should_stop)
    back = None
    if loaded.mapping.feedback is not None and not (should_stop is not None and should_stop()):
        from syncd.feedback_runner import back_sync

        back = back_sync(loaded, store, hubspot=hubspot, salesforce=salesforce).run(
            dry_run=dry_run, full=full, should_stop=should_stop)
    return CycleResult(forward, back)
