"""One forward sync cycle: read changed contacts, plan, write to Salesforce, commit state.

The engine decides; this module only moves data between the connectors, the planner and the
state store, in this order for every batch: write to Salesforce -> commit what it answered.
The cursor moves once, at the end, after every write of the window was confirmed.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from connectors.hubspot import HubSpotConnector
from connectors.salesforce import COLLECTION_LIMIT, SalesforceConnector
from state.store import StateStore
from syncd import engine
from syncd.core.window import CONTACTS_CURSOR, Window, advance, format_cursor, read_window
from syncd.engine import Outcome, Plan, Write
from syncd.core.errors import ExitCode, SyncdError
from syncd.mapping.model import Mapping
from syncd.core.records import Contact, Link, Rejection

log = structlog.get_logger("syncd.run")

# The fingerprint of the mapping the last complete run used (see ForwardSync._retry_queue).
MAPPING_CURSOR = "mapping.fingerprint"


class Progress(Protocol):
    def started(self, total: int | None) -> None: ...
    def read(self, contacts: int, total: int | None) -> None: ...
    def written(self, records: int) -> None: ...


class _NoProgress:
    def started(self, total: int | None) -> None:
        pass

    def read(self, contacts: int, total: int | None) -> None:
        pass

    def written(self, records: int) -> None:
        pass


COUNT_KEYS = ("read", "created", "updated", "linked_by_email", "contact_updates", "unchanged",
              "rejected", "still_rejected", "skipped_converted", "not_qualified")


@dataclass
class RunResult:
    run_id: str
    status: str                                   # ok, partial, failed, dry_run
    counts: Counter = field(default_factory=Counter)
    duration_seconds: float = 0.0
    error: SyncdError | None = None
    rejections: list[Rejection] = field(default_factory=list)
    planned: list[Write] = field(default_factory=list)          # dry run: what would be written
    window: Window | None = None
    api_calls: dict[str, int] = field(default_factory=dict)
    quota_remaining: dict[str, int | None] = field(default_factory=dict)   # per system, last seen

    @property
    def exit_code(self) -> ExitCode:
        if self.error is not None:
            return self.error.exit_code
        if self.counts.get("rejected"):
            return ExitCode.RECORDS_REJECTED
        return ExitCode.OK


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def close_window(result: RunResult, store: StateStore, pipeline: str, *, dry_run: bool, stopped: bool,
                 cursor: tuple[str, str | None], window: Window, fingerprint: tuple[str, str]) -> None:
    """End of a leg's window, the same for both legs: when every write of the window was
    confirmed, move the cursor and record the mapping it was read with (one transaction), then
    set the run's status. A stopped run keeps its cursor: the next run reads the window again."""
    name, previous = cursor
    if not dry_run and not stopped:
        value = advance(previous, window)
        store.set_cursors(pipeline, {name: value, fingerprint[0]: fingerprint[1]})
        log.info("cursor.advanced", cursor=name, value=value, previous=previous)
    if stopped:
        result.status = "interrupted"
        log.warning("run.stopping", reason="stop requested", committed="batches written so far")
    else:
        result.status = "dry_run" if dry_run else ("partial" if result.counts["rejected"] else "ok")


@contextmanager
def recorded_run(result: RunResult, *, store: StateStore, pipeline: str, leg: str, dry_run: bool,
                 hubspot: HubSpotConnector, salesforce: SalesforceConnector,
                 counts: Callable[[], dict[str, int]]) -> Iterator[None]:
    """Everything around a run's body, the same for both legs: the run row, the error policy and
    the canonical ``run.finished`` line. The body sets ``result.status``. A SyncdError ends the
    run as "failed" (logged with who must act, not raised: the caller reads the exit code); any
    other exception (a kill, a bug) marks the run "interrupted" and propagates."""
    structlog.contextvars.bind_contextvars(run_id=result.run_id, pipeline=pipeline, leg=leg)
    started = time.monotonic()
    calls_before = (hubspot.calls, salesforce.calls)
    if not dry_run:
        store.start_run(result.run_id, pipeline, dry_run=dry_run, leg=leg)
    try:
        yield
    except SyncdError as exc:
        result.status, result.error = "failed", exc
        log.error("run.failed", error=str(exc), error_type=type(exc).__name__,
                  code=getattr(exc, "code", None), who_acts=exc.who_acts)
    except BaseException:
        result.status = "interrupted"
        if not dry_run:
            store.finish_run(result.run_id, status="interrupted", counts=counts())
        raise
    finally:
        result.duration_seconds = round(time.monotonic() - started, 3)
        result.api_calls = {"hubspot": hubspot.calls - calls_before[0],
                            "salesforce": salesforce.calls - calls_before[1]}
        result.quota_remaining = {"hubspot": hubspot.quota_remaining,      # for syncd.metrics
                                  "salesforce": salesforce.quota_remaining}
        structlog.contextvars.unbind_contextvars("run_id", "pipeline", "leg")
    if not dry_run:
        store.finish_run(result.run_id, status=result.status, counts=counts(),
                         error=str(result.error) if result.error else None)
    log.info("run.finished", run_id=result.run_id, pipeline=pipeline, leg=leg, status=result.status,
             exit_code=int(result.exit_code), duration_seconds=result.duration_seconds,
             api_calls=result.api_calls, **counts())


class ForwardSync:
    """HubSpot contacts -> Salesforce Leads, once."""

    def __init__(self, *, mapping: Mapping, store: StateStore, hubspot: HubSpotConnector,
                 salesforce: SalesforceConnector, pipeline: str, lookback: dt.timedelta,
                 clock: Callable[[], dt.datetime] = utcnow, progress: Progress | None = None) -> None:
        self.mapping = mapping
        self.store = store
        self.hubspot = hubspot
        self.salesforce = salesforce
        self.pipeline = pipeline
        self.lookback = lookback
        self.clock = clock
        self.progress = progress or _NoProgress()

    # -- reading --------------------------------------------------------------------------
    def _mapping_changed(self) -> bool:
        return self.store.get_cursor(self.pipeline, MAPPING_CURSOR) != engine.mapping_fingerprint(self.mapping)

    def _retry_queue(self) -> list[Contact]:
        """Contacts to re-read by id even though they did not change in HubSpot: those whose last
        write failed for a passing reason, and, after the mapping changed, every rejected one
        (an admin who adds `max_length` to a field expects the records it rejected to go)."""
        ids = self.store.rejected_ids(self.pipeline, retryable_only=not self._mapping_changed())
        if not ids:
            return []
        return self.hubspot.read_contacts(ids, self.mapping.properties_to_read(),
                                          self.mapping.history_properties())

    def _batches(self, window: Window) -> Iterator[list[Contact]]:
        queued = self._retry_queue()
        if queued:
            log.info("hubspot.retry_queue_read", contacts=len(queued))
            yield queued
        announced = False
        for page in self.hubspot.search_pages(self.mapping.filters(), window,
                                              self.mapping.properties_to_read(),
                                              self.mapping.history_properties()):
            if not announced:
                self.progress.started(page.total)
                announced = True
            log.info("hubspot.page_read", contacts=len(page.contacts), total=page.total)
            self.progress.read(len(page.contacts), page.total)
            yield page.contacts
        if not announced:
            self.progress.started(0)

    # -- writing --------------------------------------------------------------------------
    def _send(self, writes: list[Write]) -> Outcome:
        """Write one buffer (upserts by external id, updates by Id) and reconcile the answers."""
        mapping, sf = self.mapping, self.salesforce
        links = self.store.links_for(self.pipeline, [w.hubspot_id for w in writes])
        upserts = [w for w in writes if w.kind == "upsert"]
        updates = [w for w in writes if w.kind != "upsert"]
        total = Outcome()
        for group, send in ((upserts, lambda recs: sf.upsert(mapping.salesforce.object,
                                                              mapping.salesforce.external_id_field, recs)),
                            (updates, sf.update)):
            if not group:
                continue
            started = time.monotonic()
            results = send([w.record(mapping) for w in group])
            outcome = engine.reconcile(group, results, links)
            log.info("salesforce.batch_written", kind=group[0].kind,
                     records=len(group), created=outcome.created, updated=outcome.updated,
                     rejected=len(outcome.rejections), converted=len(outcome.converted),
                     duration_ms=round((time.monotonic() - started) * 1000))
            _merge(total, outcome)
        if total.converted:
            total.links.extend(self._follow_converted(total))
        return total

    def _follow_converted(self, total: Outcome) -> list[Link]:
        """Leads Sales converted since we last wrote: write to their Contact, or skip."""
        refused, total.converted = total.converted, []
        leads = self.salesforce.leads_by_external_id([w.hubspot_id for w in refused],
                                                     self.mapping.salesforce.external_id_field)
        contact_writes, skipped = engine.plan_converted(refused, leads, self.mapping)
        log.info("salesforce.converted_leads", refused=len(refused), contact_updates=len(contact_writes),
                 skipped=len(skipped))
        total.skipped_converted += len(skipped)
        if contact_writes:
            results = self.salesforce.update([w.record(self.mapping) for w in contact_writes])
            _merge(total, engine.reconcile(contact_writes, results, {}))
        return skipped

    def _flush(self, buffer: list[Write], run_id: str, counts: Counter, rejections: list[Rejection]) -> None:
        if not buffer:
            return
        outcome = self._send(buffer)
        # The remote write has returned: only now does state record it.
        self.store.commit_batch(self.pipeline, links=outcome.links, rejections=outcome.rejections,
                                resolved=outcome.resolved, run_id=run_id)
        for rejection in outcome.rejections:
            log.warning("record.rejected", hubspot_id=rejection.hubspot_id, code=rejection.code,
                        message=rejection.message, retryable=rejection.retryable)
        rejections.extend(outcome.rejections)
        counts["created"] += outcome.created
        counts["updated"] += outcome.updated
        counts["contact_updates"] += outcome.contact_updates
        counts["linked_by_email"] += outcome.linked_by_email
        counts["rejected"] += len(outcome.rejections)
        counts["skipped_converted"] += outcome.skipped_converted
        self.progress.written(len(buffer))
        buffer.clear()

    def _resolve_emails(self, plan: Plan) -> Plan:
        lookup = plan.needs_email_lookup(self.mapping)
        if not lookup:
            return plan
        existing = self.salesforce.leads_by_email([w.email for w in lookup if w.email],
                                                  self.mapping.salesforce.external_id_field)
        return engine.resolve_email_matches(plan, existing, self.mapping)

    # -- the cycle ------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False, full: bool = False,
            should_stop: Callable[[], bool] | None = None) -> RunResult:
        """One cycle. ``should_stop`` is asked between batches (the service's SIGTERM): when it
        says yes, the batch in flight is finished and committed, the cursor stays where it was,
        and the run ends as "interrupted"; the next run re-reads the window and converges."""
        result = RunResult(str(uuid.uuid4()), "running")
        run_id, counts = result.run_id, result.counts
        cursor = self.store.get_cursor(self.pipeline, CONTACTS_CURSOR)
        # --full reads every qualifying contact again; unchanged payloads are still not written.
        window = read_window(None if full else cursor, self.clock(), self.lookback)
        result.window = window
        buffer: list[Write] = []
        with recorded_run(result, store=self.store, pipeline=self.pipeline, leg="forward", dry_run=dry_run,
                          hubspot=self.hubspot, salesforce=self.salesforce, counts=lambda: _count_dict(counts)):
            log.info("run.started", dry_run=dry_run, full=full,
                     window_start=format_cursor(window.start) if window.start else None,
                     window_end=format_cursor(window.end))
            stopped = False
            seen: set[str] = set()
            for contacts in self._batches(window):
                if should_stop is not None and should_stop():
                    stopped = True
                    break
                # A contact from the retry queue can show up again in the search window; writing
                # it twice in one call would make Salesforce refuse both (duplicate external id).
                contacts = [c for c in contacts if c.id not in seen]
                seen.update(c.id for c in contacts)
                counts["read"] += len(contacts)
                ids = [c.id for c in contacts]
                plan = engine.plan_forward(contacts, self.mapping,
                                           self.store.links_for(self.pipeline, ids),
                                           self.store.rejections_for(self.pipeline, ids))
                plan = self._resolve_emails(plan)
                for key in ("unchanged", "still_rejected", "not_qualified", "skipped_converted"):
                    counts[key] += len(getattr(plan, key))
                if plan.rejected:
                    counts["rejected"] += len(plan.rejected)
                    result.rejections.extend(plan.rejected)
                    for rejection in plan.rejected:
                        log.warning("record.rejected", hubspot_id=rejection.hubspot_id,
                                    code=rejection.code, message=rejection.message, retryable=False)
                    if not dry_run:
                        self.store.commit_batch(self.pipeline, rejections=plan.rejected, run_id=run_id)
                if dry_run:
                    result.planned.extend(plan.writes)
                    continue
                buffer.extend(plan.writes)
                while len(buffer) >= COLLECTION_LIMIT:
                    head = buffer[:COLLECTION_LIMIT]
                    del buffer[:COLLECTION_LIMIT]
                    self._flush(head, run_id, counts, result.rejections)
            if not dry_run:
                self._flush(buffer, run_id, counts, result.rejections)
            close_window(result, self.store, self.pipeline, dry_run=dry_run, stopped=stopped,
                         cursor=(CONTACTS_CURSOR, cursor), window=window,
                         fingerprint=(MAPPING_CURSOR, engine.mapping_fingerprint(self.mapping)))
        return result


def _count_dict(counts: Counter) -> dict[str, int]:
    return {key: int(counts.get(key, 0)) for key in COUNT_KEYS}


def _merge(total: Outcome, part: Outcome) -> None:
    total.links.extend(part.links)
    total.rejections.extend(part.rejections)
    total.resolved.extend(part.resolved)
    total.converted.extend(part.converted)
    total.created += part.created
    total.updated += part.updated
    total.contact_updates += part.contact_updates
    total.linked_by_email += part.linked_by_email
    total.skipped_converted += part.skipped_converted
