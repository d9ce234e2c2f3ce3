"""`syncd backfill`'s reads and writes: the candidates planned by the forward leg's own ``prepare``
and compared with what Salesforce holds now, then the differing Leads written by the leg runner.

Reading: 200 candidates at a time, batch-read from HubSpot (100 a call, 50 with property history),
planned by ``ForwardLeg.prepare`` (``syncd.plan.forward.plan`` decides, with ``refresh`` so a
contact whose digest is unchanged is compared too), their Leads' current values read in one query
(``syncd.run.preview.explain``), and sorted by ``syncd.plan.backfill.compare``.

Writing: ``BackfillLeg`` hands those batches to ``LegRunner.run(only=...)``, as `syncd rejected
retry` does: the forward leg's own ``write`` (calls of 200, by Lead Id) and ``commit``; no window
is read and no cursor moves.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from syncd.core.ports import Page, Progress
from syncd.core.records import Rejection
from syncd.core.window import Window
from syncd.plan.backfill import MOVED, WRITE_SIZE, Comparison, compare
from syncd.plan.forward import ForwardCommit, Write
from syncd.run.forward import ForwardLeg
from syncd.run.leg import Prepared, Written
from syncd.run.preview import explain

CHUNK = 200          # candidates read, planned and compared at once: one query of current values
GONE = "not in HubSpot any more (archived, merged or deleted): the next run's archived scan handles it"


@dataclass
class Batch:
    """One chunk of candidates, compared."""

    comparison: Comparison
    rejections: list[Rejection] = field(default_factory=list)     # the mapping could not render these
    commit: ForwardCommit | None = None                           # what the plan records without a write


def read_and_compare(leg: ForwardLeg, ids: Sequence[str], fields: Sequence[str], progress: Progress,
                     should_stop: Callable[[], bool]) -> list[Batch]:
    """Every candidate, compared; stops between chunks when asked (the batches so far)."""
    batches: list[Batch] = []
    progress.started(len(ids))
    for start in range(0, len(ids), CHUNK):
        if should_stop():
            break
        chunk = list(ids[start:start + CHUNK])
        batches.append(_compare_chunk(leg, chunk, fields))
        progress.read(len(chunk), len(ids))
    return batches


def _compare_chunk(leg: ForwardLeg, ids: list[str], fields: Sequence[str]) -> Batch:
    contacts = leg.source.read_contacts(ids, leg.properties, leg.history)
    found = {c.id for c in contacts}
    comparison = Comparison(skipped={i: GONE for i in ids if i not in found})
    if not contacts:
        return Batch(comparison)
    prepared = leg.prepare(Page(contacts))
    planned = [w for w in prepared.planned if isinstance(w, Write)]
    leads = [w for w in planned if w.kind == "lead_update"]
    comparison.skipped.update({w.hubspot_id: MOVED for w in planned if w.kind != "lead_update"})
    comparison.skipped.update({s.hubspot_id: s.detail for s in prepared.skipped if s.reason != "rejected"})
    if leads:
        decisions = {d.hubspot_id: d for d in explain(leg.sink, leg.mapping, leads)}
        links = leg.store.links_for(leg.pipeline, [w.hubspot_id for w in leads])
        comparison.extend(compare(leads, decisions, links, fields, leg.external_id_field))
    commit = prepared.commit or ForwardCommit()
    commit.links += comparison.recorded
    return Batch(comparison, list(prepared.rejections), commit)


class BackfillLeg:
    """The forward leg's writes and commits over batches already read and compared."""

    name = "forward"
    started_event = "backfill.started"
    write_size = WRITE_SIZE
    planned_key = "planned"
    source_system = "hubspot"

    def __init__(self, forward: ForwardLeg, batches: list[Batch]) -> None:
        self.forward = forward
        self.batches = batches
        self.cursor_name = forward.cursor_name
        self.fingerprint_name = forward.fingerprint_name
        self.fingerprint = forward.fingerprint
        self.total = sum(len(b.comparison.send) for b in batches)

    def window(self, window: Window) -> Window:
        return window

    def server_skew(self) -> float | None:
        return self.forward.server_skew()

    def calls_needed(self, total: int) -> dict[str, int]:
        return {"salesforce": math.ceil(total / WRITE_SIZE)}

    def rejected_ids(self, retryable_only: bool) -> list[str]:
        return []

    def pages(self, window: Window, retry_ids: list[str]) -> Iterator[Page[int]]:
        return self.retry_pages(retry_ids)

    def retry_pages(self, retry_ids: list[str]) -> Iterator[Page[int]]:
        for index in range(len(self.batches)):
            yield Page([index], self.total)

    def prepare(self, page: Page[int]) -> Prepared[ForwardCommit, Write]:
        batch = self.batches[page.items[0]]
        send = batch.comparison.send
        return Prepared(Counter(rejected=len(batch.rejections)), batch.commit, {"update": send} if send else {},
                        batch.rejections, read=len(send), total=self.total)

    def write(self, group: str, items: list[Write]) -> Written[ForwardCommit]:
        return self.forward.write(group, items)

    def commit(self, commit: ForwardCommit, run_id: str, cursors: dict[str, str] | None) -> None:
        self.forward.commit(commit, run_id, cursors)
