"""Re-send rejected records now (`syncd rejected retry`), through the same runner as a cycle.

A retry is a leg's run whose pages are its retry queue alone (``LegRunner.run(only=...)``): the
forward leg reads the contacts by id in batches, renders and writes them; the back leg reads their
Leads by Id and writes the outcomes. Planning, writing and committing are the run's own, so a record
that lands (or is unchanged by now) clears its rejection exactly as in a cycle; no window is read
and no cursor moves. The records are written even when their payload is the one refused (the fix
may be in Salesforce or HubSpot, where syncd cannot see it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from state.store import StateStore
from syncd.app import Loaded
from syncd.app.connectors import Connectors
from syncd.app.cycle import runner
from syncd.run.back import BackLeg
from syncd.run.forward import ForwardLeg
from syncd.run.result import RunResult


def retry_rejected(loaded: Loaded, store: StateStore, connectors: Connectors, leg: str, ids: Sequence[str], *,
                   dry_run: bool = False, should_stop: Callable[[], bool] | None = None) -> RunResult:
    """One run of ``leg`` (forward | back) over exactly these rejected contacts."""
    pipeline = loaded.settings.sync.pipeline
    if leg == "back":
        back = BackLeg(mapping=loaded.mapping, source=connectors.outcomes, sink=connectors.contacts, store=store,
                       pipeline=pipeline, dry_run=dry_run, resend=ids)
        return runner(loaded, store, connectors).run(back, dry_run=dry_run, should_stop=should_stop, only=ids)
    forward = ForwardLeg(mapping=loaded.mapping, agreement=loaded.agreement, source=connectors.contacts, sink=connectors.leads, store=store,
                         pipeline=pipeline, should_stop=should_stop, resend=ids,
                         archived_scan_every=dt.timedelta(minutes=loaded.settings.sync.archived_scan_minutes))
    try:
        return runner(loaded, store, connectors).run(forward, dry_run=dry_run, should_stop=should_stop, only=ids)
    finally:
        forward.close()
