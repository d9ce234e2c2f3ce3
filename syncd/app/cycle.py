"""One sync cycle, as `syncd run --once`, the service and the demo all run it.

Forward (HubSpot -> Salesforce) first, then back (Salesforce outcomes -> HubSpot) when the mapping
has a `feedback` section, then, when an agreement is configured, its tracking step (what Sales
did, into state: ``syncd.run.activities``) and its alerts (``syncd.run.agreement``). Each leg
commits its own state; a failure in one is reported with the
other's result intact.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

import structlog

from state.store import StateStore
from syncd.agreement import Agreement
from syncd.app import Loaded
from syncd.app.agreement import run_alerts
from syncd.app.connectors import Connectors
from syncd.app.mapping_check import before_writing
from syncd.core.errors import ConfigError, RemoteError, StateUnavailable
from syncd.core.ports import NoProgress, Progress
from syncd.run.activities import TrackingStep
from syncd.run.back import BackLeg
from syncd.run.forward import ForwardLeg
from syncd.run.leg import LegRunner
from syncd.run.result import ActivitiesResult, CycleResult, RunResult

log = structlog.get_logger("syncd.agreement")


def runner(loaded: Loaded, store: StateStore, connectors: Connectors, progress: Progress | None = None) -> LegRunner:
    settings = loaded.settings
    return LegRunner(store=store, pipeline=settings.sync.pipeline,
                     lookback=dt.timedelta(minutes=settings.sync.lookback_minutes), calls=connectors.calls,
                     quota=connectors.quota, quota_left=connectors.quota_left, progress=progress or NoProgress())


def run_forward(loaded: Loaded, store: StateStore, connectors: Connectors, *, dry_run: bool = False,
                full: bool = False, progress: Progress | None = None,
                should_stop: Callable[[], bool] | None = None, preflight: Callable[[], None] | None = None) -> RunResult:
    watcher = progress or NoProgress()

    def stop_or_work() -> bool:
        """Asked while templates render (every few steps): a busy render is progress, not a hang."""
        watcher.working()
        return should_stop() if should_stop is not None else False

    leg = ForwardLeg(mapping=loaded.mapping, agreement=loaded.agreement, source=connectors.contacts, sink=connectors.leads, store=store,
                     pipeline=loaded.settings.sync.pipeline, should_stop=stop_or_work,
                     archived_scan_every=dt.timedelta(minutes=loaded.settings.sync.archived_scan_minutes))
    try:
        return runner(loaded, store, connectors, progress).run(leg, dry_run=dry_run, full=full,
                                                               should_stop=should_stop, preflight=preflight)
    finally:
        leg.close()


def run_back(loaded: Loaded, store: StateStore, connectors: Connectors, *, dry_run: bool = False,
             full: bool = False, should_stop: Callable[[], bool] | None = None) -> RunResult:
    leg = BackLeg(mapping=loaded.mapping, source=connectors.outcomes, sink=connectors.contacts, store=store,
                  pipeline=loaded.settings.sync.pipeline, dry_run=dry_run)
    return runner(loaded, store, connectors).run(leg, dry_run=dry_run, full=full, should_stop=should_stop)


def run_activities(loaded: Loaded, store: StateStore, connectors: Connectors, agreement: Agreement) -> ActivitiesResult:
    """What Sales did to the handed-over Leads, as the agreement counts it, into state (``syncd.run.activities``)."""
    settings = loaded.settings
    return TrackingStep(source=connectors.activities, leads=connectors.leads, store=store,
                        pipeline=settings.sync.pipeline, lookback=dt.timedelta(minutes=settings.sync.lookback_minutes),
                        calls=connectors.calls, query=agreement.activity_query()).run()


def _alerts(loaded: Loaded, store: StateStore, connectors: Connectors,
            clock: Callable[[], dt.datetime] | None) -> Counter:
    """The agreement's alerts after both legs; a remote failure here leaves the legs' results
    alone (the alerts not recorded are tried again next cycle)."""
    try:
        return run_alerts(loaded, store, connectors, clock() if clock else None).raised
    except RemoteError as exc:
        log.warning("agreement.alerts_failed", error=str(exc), code=getattr(exc, "code", None))
        return Counter()


def run_cycle(loaded: Loaded, store: StateStore, *, dry_run: bool = False, full: bool = False,
              progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
              connectors: Connectors | None = None,
              agreement_clock: Callable[[], dt.datetime] | None = None) -> CycleResult:
    # One pair of connectors for both legs (and, in the service, for every cycle): one login.
    own = connectors is None
    connectors = connectors or Connectors.build(loaded)
    try:
        # The mapping against the live orgs (describe and properties, cached a few minutes): a
        # field or value every record would be refused for fails the forward run before any read
        # or write (ConfigError, exit 4), rather than as one remote error or thousands of rejections.
        def preflight() -> None:
            before_writing(loaded.mapping, connectors.metadata)

        forward = run_forward(loaded, store, connectors, dry_run=dry_run, full=full, progress=progress,
                              should_stop=should_stop, preflight=None if dry_run else preflight)
        back = None
        state_failed = isinstance(forward.error, StateUnavailable)    # the back leg needs the same store
        mapping_refused = isinstance(forward.error, ConfigError)      # the check failed: no write this cycle
        if loaded.mapping.feedback is not None and not state_failed and not mapping_refused \
                and not (should_stop is not None and should_stop()):
            back = run_back(loaded, store, connectors, dry_run=dry_run, full=full, should_stop=should_stop)
        activities, alerts = None, Counter()
        state_failed = state_failed or (back is not None and isinstance(back.error, StateUnavailable))
        # The agreement (the one switch): what Sales did, into state, then the alerts on it. Both
        # write state (the alerts also Tasks): not in a dry run.
        if loaded.agreement is not None and not dry_run and not state_failed \
                and not (should_stop is not None and should_stop()):
            activities = run_activities(loaded, store, connectors, loaded.agreement)
            state_failed = isinstance(activities.error, StateUnavailable)
            if not state_failed and not (should_stop is not None and should_stop()):
                alerts = _alerts(loaded, store, connectors, agreement_clock)
        return CycleResult(forward, back, activities, loaded.settings.sync.pipeline, alerts)
    finally:
        if own:
            connectors.close()
