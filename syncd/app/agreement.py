"""The agreement, composed: the month report from state, and the alerts step of a cycle
(``syncd.run.agreement``) with its connectors."""

from __future__ import annotations

import datetime as dt

from state.store import StateStore
from syncd.agreement import Agreement
from syncd.agreement.clock import month_bounds, month_of
from syncd.app import Loaded
from syncd.app.connectors import Connectors
from syncd.core.agreement import AgreementMonth, TrackedLead
from syncd.core.errors import ConfigError, Problem
from syncd.plan.agreement import build_month
from syncd.run.agreement import AgreementAlerts, AlertsResult


def require_agreement(loaded: Loaded) -> Agreement:
    if loaded.agreement is None:
        where = str(loaded.settings.config_path or "syncd.yaml")
        raise ConfigError(Problem(where, "agreement", "no agreement file is configured; add "
                                                      "`agreement: mappings/agreement.yaml` to the config"))
    return loaded.agreement


def tracked_leads(store: StateStore, pipeline: str, agreement: Agreement, *,
                  handed_over_from: dt.datetime | None = None,
                  handed_over_to: dt.datetime | None = None) -> list[TrackedLead]:
    """The tracked leads from state, their attempts counted as the agreement's ``attempts.count`` says."""
    return store.tracked_leads(pipeline, handed_over_from=handed_over_from, handed_over_to=handed_over_to,
                               query=agreement.activity_query())


def agreement_month(loaded: Loaded, store: StateStore, month: str, now: dt.datetime) -> AgreementMonth:
    """One month of the agreement, both sides, from state only (no API calls), as of ``now``."""
    agreement = require_agreement(loaded)
    start, end = month_bounds(month, agreement.zone)
    leads = tracked_leads(store, loaded.settings.sync.pipeline, agreement, handed_over_from=start,
                          handed_over_to=end)
    return build_month(leads, agreement, month, now)


def current_month(loaded: Loaded, store: StateStore, now: dt.datetime) -> AgreementMonth | None:
    """The status page's agreement: this month in the agreement's time zone (None without one)."""
    if loaded.agreement is None:
        return None
    return agreement_month(loaded, store, month_of(now, loaded.agreement.zone), now)


def salesforce_now(connectors: Connectors) -> dt.datetime:
    """Salesforce's time: this host's clock corrected by the skew Salesforce's answers showed."""
    skew = connectors.outcomes.server_skew() or 0.0
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew)


def run_alerts(loaded: Loaded, store: StateStore, connectors: Connectors,
               now: dt.datetime | None = None) -> AlertsResult:
    """The cycle's alerts step (``syncd.run.agreement``), at ``now`` (default: Salesforce's time)."""
    agreement = require_agreement(loaded)
    pipeline = loaded.settings.sync.pipeline
    step = AgreementAlerts(
        agreement=agreement, store=store, pipeline=pipeline, leads=connectors.leads, tasks=connectors.tasks,
        contacts=connectors.contacts,
        read_tracked=lambda since: tracked_leads(store, pipeline, agreement, handed_over_from=since))
    return step.run(now or salesforce_now(connectors))
