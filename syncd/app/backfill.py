"""`syncd backfill`, composed: after a mapping change, re-send what the change affects to the Leads
already handed over, with the API calls it costs said first.

1. The candidates, from state: contacts linked to a Lead that is still theirs (not converted, not
   moved), ``since``: handed over (first written) at or after it. The read estimate is shown
   (``show_reads``); the caller may stop here (off a terminal without --yes).
2. The mapping against the live orgs (as before a cycle's first write), then the comparison
   (``syncd.run.backfill``): reads only.
3. The write estimate and the list are shown (``approve``); a dry run, or a "no", ends here.
4. The writes: ``LegRunner.run(only=...)`` over the compared batches, so state ends exactly as a
   run leaves it (links, digests, rejections).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from state.store import StateStore
from syncd.app import Loaded
from syncd.app.connectors import Connectors
from syncd.app.cycle import runner
from syncd.app.mapping_check import before_writing
from syncd.core.ports import NoProgress, Progress
from syncd.core.records import Rejection
from syncd.plan.backfill import Comparison, Estimate, estimate, with_writes
from syncd.run.backfill import BackfillLeg, Batch, read_and_compare
from syncd.run.forward import ForwardLeg
from syncd.run.result import RunResult

log = structlog.get_logger("syncd.backfill")


@dataclass
class BackfillPlan:
    """What the comparison found, and what it cost."""

    estimate: Estimate
    fields: list[str]
    comparison: Comparison = field(default_factory=Comparison)
    rejections: list[Rejection] = field(default_factory=list)
    calls_spent: dict[str, int] = field(default_factory=dict)    # the comparison's reads, per system
    check_calls: dict[str, int] = field(default_factory=dict)    # the live mapping check's, per system


@dataclass
class Backfill:
    estimate: Estimate
    plan: BackfillPlan | None = None           # None: stopped before reading
    result: RunResult | None = None            # None: nothing written (dry run, declined, nothing to do)
    approved: bool = False


def backfill(loaded: Loaded, store: StateStore, connectors: Connectors, *, fields: Sequence[str],
             since: dt.datetime | None, dry_run: bool, show_reads: Callable[[Estimate], bool],
             approve: Callable[[BackfillPlan], bool], progress: Progress | None = None,
             should_stop: Callable[[], bool] | None = None) -> Backfill:
    """One backfill over the pipeline's handed-over contacts, comparing ``fields``."""
    started = time.monotonic()
    settings = loaded.settings
    pipeline = settings.sync.pipeline
    stop = should_stop or (lambda: False)
    ids = store.handed_over(pipeline, since)
    leg = ForwardLeg(mapping=loaded.mapping, source=connectors.contacts, sink=connectors.leads, store=store,
                     pipeline=pipeline, should_stop=stop, refresh=ids,
                     archived_scan_every=dt.timedelta(minutes=settings.sync.archived_scan_minutes))
    try:
        first = estimate(len(ids), history=bool(leg.history))
        log.info("backfill.estimate", stage="reads", pipeline=pipeline, fields=list(fields), dry_run=dry_run,
                 since=since.isoformat() if since else None, **first.as_json())
        outcome = Backfill(first)
        if not show_reads(first) or not ids:
            return outcome
        calls_before = connectors.calls()
        before_writing(loaded.mapping, connectors.metadata)
        checked = connectors.calls()
        batches = read_and_compare(leg, ids, fields, progress or NoProgress(), stop)
        after = connectors.calls()
        compared = time.monotonic()
        plan = _plan(first, fields, batches, {s: after[s] - checked.get(s, 0) for s in after})
        plan.check_calls = {s: checked[s] - calls_before.get(s, 0) for s in checked}
        outcome.plan = plan
        log.info("backfill.estimate", stage="writes", pipeline=pipeline, **plan.estimate.as_json(),
                 calls_spent=plan.calls_spent, mapping_check_calls=plan.check_calls)
        outcome.approved = approve(plan) and not dry_run and not stop()
        if outcome.approved and (plan.comparison.send or plan.comparison.recorded or plan.rejections):
            outcome.result = runner(loaded, store, connectors, _WritesOnly(progress or NoProgress())).run(
                BackfillLeg(leg, batches), only=ids, should_stop=should_stop)   # type: ignore[arg-type]
        _done(outcome, dry_run, started, compared)
        return outcome
    finally:
        leg.close()


class _WritesOnly:
    """The write phase moves only the progress bar's write line: the reads were done comparing."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def started(self, total: int | None) -> None:
        pass

    def read(self, records: int, total: int | None) -> None:
        pass

    def written(self, records: int) -> None:
        self.progress.written(records)

    def working(self) -> None:
        self.progress.working()


def _plan(first: Estimate, fields: Sequence[str], batches: list[Batch], spent: dict[str, int]) -> BackfillPlan:
    comparison = Comparison()
    rejections: list[Rejection] = []
    for batch in batches:
        comparison.extend(batch.comparison)
        rejections += batch.rejections
    return BackfillPlan(with_writes(first, len(comparison.send)), list(fields), comparison, rejections, spent)


def _done(outcome: Backfill, dry_run: bool, started: float, compared: float) -> None:
    plan, result = outcome.plan, outcome.result
    assert plan is not None
    counts = result.counts if result is not None else {}
    log.info("backfill.done", dry_run=dry_run, approved=outcome.approved,
             status=result.status if result is not None else ("dry_run" if dry_run else "nothing_written"),
             candidates=plan.estimate.candidates, to_write=plan.estimate.leads_to_write,
             updated=int(counts.get("updated", 0)), rejected=int(counts.get("rejected", 0)),
             recorded=len(plan.comparison.recorded), pending=len(plan.comparison.pending),
             skipped=len(plan.comparison.skipped), other_fields_differ=plan.comparison.other_fields_differ,
             compare_seconds=round(compared - started, 3),
             write_seconds=result.duration_seconds if result is not None else 0.0,
             duration_seconds=round(time.monotonic() - started, 3),
             api_calls=result.api_calls if result is not None else {})
