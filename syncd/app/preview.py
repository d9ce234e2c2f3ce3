"""`syncd preview` and the dry run's list, composed: the connectors and the forward leg, read only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from state.store import StateStore
from syncd.app import Loaded
from syncd.app.connectors import Connectors
from syncd.plan.preview import Decision
from syncd.run.forward import ForwardLeg
from syncd.run.preview import explain, preview
from syncd.run.result import RunResult


def preview_contacts(loaded: Loaded, store: StateStore, keys: Sequence[str]) -> tuple[list[Decision], list[str]]:
    """These contacts (ids or emails) as the next run would treat them; and the keys not found."""
    connectors = Connectors.build(loaded)
    leg = ForwardLeg(mapping=loaded.mapping, source=connectors.contacts, sink=connectors.leads, store=store,
                     pipeline=loaded.settings.sync.pipeline,
                     archived_scan_every=dt.timedelta(minutes=loaded.settings.sync.archived_scan_minutes))
    try:
        return preview(leg, keys)
    finally:
        leg.close()
        connectors.close()


def dry_run_decisions(loaded: Loaded, result: RunResult, connectors: Connectors) -> list[Decision]:
    """A forward dry run's plan against what Salesforce holds now (one query per 200 targets),
    read through the run's own connectors."""
    if not result.planned and not result.skipped:
        return []
    return explain(connectors.leads, loaded.mapping, result.planned, result.skipped)
