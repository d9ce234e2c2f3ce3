"""The forward leg's part for HubSpot contacts that move (``syncd.plan.contact_moves`` decides).

Two places in the forward leg:

- every page: the merges the page's contacts name and the restores among them are gathered and
  planned (``gather``), and their writes go with the page's (``Moving.aim``);
- the archived scan, when due: the first page of the leg (``scan``) lists HubSpot's recycle bin (100
  a page, ids only) and traces the contacts the back leg found missing (OBJECT_NOT_FOUND: deleted
  for good, or merged into a contact that never qualified). Linked contacts among them get the
  mapping's ``archived_contact`` action (``prepare``, ``write``).

Every call goes through the connectors (limiter, retry policy, quota reserve); the runner stops
sending after a stop request; state records each move only after its Salesforce write.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from state.models import FeedbackRejectionRow
from state.store import StateStore
from syncd.core.ports import ContactSource, LeadSink, Page
from syncd.core.records import Contact, GoneContact, Link, Move
from syncd.core.window import Window, format_cursor, parse_cursor
from syncd.mapping.model import Mapping
from syncd.plan import contact_moves as planner
from syncd.plan.forward import ForwardCommit, Write
from syncd.plan.contact_moves import GoneWrite, MoveFacts, MovePlan
from syncd.run.leg import Prepared, Written

log = structlog.get_logger("syncd.run")

SCAN_CURSOR = "hubspot.archived_scan"     # when the recycle bin was last listed (this host's UTC time)
NOT_FOUND = "OBJECT_NOT_FOUND"            # HubSpot's answer for a merged-away or deleted id
TRACE_CHUNK = 10                          # ids traced (one or two GETs each) between stop checks


@dataclass(frozen=True)
class GonePage(Page[GoneContact]):
    """The archived scan's findings: linked contacts that were archived, deleted or merged away,
    and when the scan listed the recycle bin (its cursor, committed with the page)."""

    scanned_at: str = ""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Moving:
    """One page's merges and restores: the links the planner sees, and what to do after it."""

    plan: MovePlan = field(default_factory=MovePlan)
    links: dict[str, Link] = field(default_factory=dict)
    gone: planner.GonePlan = field(default_factory=planner.GonePlan)
    external_id_field: str = ""

    def aim(self, writes: Sequence[Write]) -> list[Write]:
        return planner.aim(writes, self.plan, self.external_id_field)

    def restored_now(self) -> list[str]:
        """Restored contacts whose Lead kept its external id: nothing to write to forget the move."""
        return [c for c in self.plan.restored if c not in self.plan.relinks]

    def counts(self) -> Counter:
        return Counter(restored=len(self.restored_now())) + _move_counts(self.gone.recorded)


class ContactMoves:
    def __init__(self, *, mapping: Mapping, source: ContactSource, sink: LeadSink, store: StateStore, pipeline: str,
                 scan_every: dt.timedelta, clock: Callable[[], dt.datetime] = utcnow,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.mapping = mapping
        self.rule = mapping.salesforce.archived_contact
        self.external_id_field = mapping.salesforce.external_id_field
        self.source, self.sink, self.store, self.pipeline = source, sink, store, pipeline
        self.scan_every = scan_every
        self.clock = clock
        self.should_stop = should_stop or (lambda: False)
        # Merged-away ids whose Lead a survivor takes over in this run: should HubSpot list them as
        # archived too, the scan must not give that Lead the archived action meanwhile.
        self._taken_over: set[str] = set()

    # -- every page -----------------------------------------------------------------------------
    def gather(self, contacts: Sequence[Contact], links: dict[str, Link]) -> Moving:
        named = [i for i in planner.named_ids(contacts) if i not in links]
        ids = [c.id for c in contacts] + named
        facts = MoveFacts({**links, **(self.store.links_for(self.pipeline, named) if named else {})},
                          self.store.moves_for(self.pipeline, ids))
        plan = planner.merges(((c.id, c.merged_ids) for c in contacts if c.merged_ids), facts)
        plan = planner.restores(contacts, facts, plan)
        self._taken_over.update(link.hubspot_id for link in plan.takeovers.values())
        for contact_id in plan.restored:
            move = facts.moves[contact_id]
            log.info("hubspot.contact_restored", hubspot_id=contact_id, was=move.kind, action=move.action,
                     lead_id=move.lead_id, then="relinked by Id" if contact_id in plan.relinks else "synced as before")
        gone = planner.gone(plan.retired, facts, self.rule, self.external_id_field)
        return Moving(plan, planner.planning_links(links, plan), gone, self.external_id_field)

    def confirmed(self, writes: Sequence[Write], commit: ForwardCommit) -> None:
        """After a write call: the merges whose link moved and the restores relinked, into the commit."""
        moves, restored = planner.confirmed(writes, set(commit.resolved))
        for move in moves:
            log.info("hubspot.contact_merged", hubspot_id=move.hubspot_id, kind=move.kind, into=move.into,
                     lead_id=move.lead_id, action="moved", state="written")
        commit.moves += moves
        commit.restored += restored
        commit.counts["merged"] += len(moves)
        commit.counts["restored"] += len(restored)

    # -- the archived scan ----------------------------------------------------------------------
    def due(self, window: Window) -> bool:
        """Every ``scan_every``, and on a full run (``run --once --full``)."""
        last = parse_cursor(self.store.get_cursor(self.pipeline, SCAN_CURSOR))
        return window.start is None or last is None or self.clock() - last >= self.scan_every

    def scan(self) -> GonePage:
        """The recycle bin's linked contacts and the traced ones. A stop request between calls ends
        the scan with nothing found and its cursor unmoved: the next run scans again."""
        started, now = time.monotonic(), self.clock()
        listed, found = 0, []
        for page in self.source.archived_contacts():
            listed += len(page.items)
            linked = self.store.links_for(self.pipeline, [g.hubspot_id for g in page.items])
            found += [g for g in page.items if g.hubspot_id in linked]
            if self.should_stop():
                return GonePage([])
        missing = self.store.rejections_coded(self.pipeline, FeedbackRejectionRow.__table__, NOT_FOUND)
        known = self.store.moves_for(self.pipeline, missing)
        to_trace = [i for i in missing if i not in known and i not in {g.hubspot_id for g in found}]
        traced: list[GoneContact] = []
        for start in range(0, len(to_trace), TRACE_CHUNK):
            if self.should_stop():
                return GonePage([])
            traced += self.source.trace_contacts(to_trace[start:start + TRACE_CHUNK])
        kinds = Counter(g.kind for g in traced)
        log.info("hubspot.archived_scan", archived=listed, linked=len(found), traced=len(to_trace),
                 deleted=kinds["deleted"], merged=kinds["merged"], archived_traced=kinds["archived"],
                 duration_ms=round((time.monotonic() - started) * 1000))
        return GonePage(found + traced, scanned_at=format_cursor(now))

    def prepare(self, page: GonePage) -> Prepared[ForwardCommit, object]:
        """Linked contacts the scan found gone: the action for archived and deleted ones; a merge
        found by tracing moves the link (relinking the Lead by Id) or retires the Lead."""
        items = [g for g in page.items if g.hubspot_id not in self._taken_over]
        merged = [g for g in items if g.kind == "merged" and g.into]
        ids = [g.hubspot_id for g in items] + [g.into for g in merged if g.into]
        facts = MoveFacts(self.store.links_for(self.pipeline, ids), self.store.moves_for(self.pipeline, ids))
        plan = planner.merges(((g.into, (g.hubspot_id,)) for g in merged if g.into), facts)
        gone = planner.gone([g for g in items if g.kind != "merged"] + plan.retired, facts, self.rule,
                            self.external_id_field)
        relinks = planner.aim([], plan, self.external_id_field)
        commit = ForwardCommit(moves=list(gone.recorded), scanned_at=page.scanned_at)
        self._log_gone(gone.recorded, "recorded")
        writes: dict[str, list[object]] = {}
        if gone.writes:
            writes["gone"] = list(gone.writes)
        if relinks:
            writes["update"] = list(relinks)
        counts = _move_counts(gone.recorded)
        return Prepared(counts, commit if commit.moves or commit.scanned_at else None, writes,
                        planned=[*relinks, *gone.writes])

    def write(self, items: Sequence[GoneWrite]) -> Written[ForwardCommit]:
        """The mark or unlink writes, 200 a call (sObject Collections, by Id)."""
        results = self.sink.write_leads([i.write for i in items], sobject=self.mapping.salesforce.object,
                                        external_id_field=self.external_id_field)
        done = [item.move for item, result in zip(items, results) if result.ok]
        for item, result in zip(items, results):
            if not result.ok:
                error = result.first_error
                log.warning("hubspot.contact_move_failed", hubspot_id=item.move.hubspot_id, kind=item.move.kind,
                            action=item.move.action, lead_id=item.move.lead_id,
                            code=error.code if error else None, then="tried again by the next archived scan")
        self._log_gone(done, "written")
        counts = _move_counts(done) + Counter(move_failed=len(items) - len(done))
        return Written(ForwardCommit(moves=done), counts, records=len(items))

    @staticmethod
    def _log_gone(moves: Iterable[Move], how: str) -> None:
        for move in moves:
            fields = {"hubspot_id": move.hubspot_id, "kind": move.kind, "into": move.into, "lead_id": move.lead_id,
                      "action": move.action, "state": how}
            if move.kind == "merged":
                log.info("hubspot.contact_merged", **fields)
            else:
                log.info("hubspot.contact_archived", **fields)


def _move_counts(moves: Iterable[Move]) -> Counter:
    return Counter("merged" if m.kind == "merged" else ("deleted" if m.kind == "deleted" else "archived")
                   for m in moves)
