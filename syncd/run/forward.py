"""The forward leg: marketing contacts -> sales Leads, as ``syncd.run.leg`` runs it.

Per page of changed contacts: gather what the planner needs (state's links and rejections; the
full contacts that may have changed; the Leads already carrying the new contacts' emails, looked
up beside the batch read), plan (``syncd.plan.forward``), then write upserts and updates in full
calls of 200 and commit what Salesforce answered. A write refused because Sales converted the
Lead meanwhile is followed to the Lead's Contact in the same task; one refused because the Lead
was deleted or merged away in Salesforce is followed to its master, or unlinked
(``syncd.plan.lead_moves``). HubSpot contacts that merged, left or came back (``syncd.run.moves``)
are gathered with each page, and the archived scan, when due, is the window's last page.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import structlog

from state.store import StateStore
from syncd.core.ports import ContactQuery, ContactSource, LeadSink, Page
from syncd.core.records import Contact, ExistingLead
from syncd.core.window import CONTACTS_CURSOR, Window
from syncd.agreement.model import Agreement
from syncd.mapping.model import Mapping
from syncd.plan import forward as planner
from syncd.plan.forward import ForwardCommit, ForwardFacts, Write
from syncd.plan.lead_moves import COUNTS, Event
from syncd.plan.preview import skips
from syncd.run.leg import Prepared, Written
from syncd.run.moves import SCAN_CURSOR, ContactMoves, GonePage, Moving

FUTURE_MARGIN_SECONDS = 300       # HubSpot stamps edits itself: later than this is not clock jitter
SKEW_RESOLUTION_SECONDS = 2.0     # a Date header's whole seconds (cut) and a round trip: not a skew
log = structlog.get_logger("syncd.run")

MAPPING_CURSOR = "mapping.fingerprint"   # the mapping the last complete forward run used
WRITE_SIZE = 200                         # sObject Collections: 200 records a call


class ForwardLeg:
    name = "forward"
    started_event = "run.started"
    cursor_name = CONTACTS_CURSOR
    fingerprint_name = MAPPING_CURSOR
    write_size = WRITE_SIZE
    planned_key = "planned"
    source_system = "hubspot"

    def __init__(self, *, mapping: Mapping, source: ContactSource, sink: LeadSink, store: StateStore,
                 pipeline: str, should_stop: Callable[[], bool] | None = None,
                 archived_scan_every: dt.timedelta = dt.timedelta(hours=1), resend: Iterable[str] = (),
                 refresh: Iterable[str] = (), agreement: Agreement | None = None) -> None:
        self.mapping = mapping
        self.agreement = agreement           # records the definition parts each new lead meets
        self.resend = frozenset(resend)      # rejected contacts an admin re-sends (`syncd rejected retry`)
        self.refresh = frozenset(refresh)    # planned even when unchanged (`syncd backfill` compares)
        self.should_stop = should_stop       # also asked while templates render
        self.source = source
        self.sink = sink
        self.store = store
        self.pipeline = pipeline
        self.fingerprint = mapping.fingerprint
        self.properties = tuple(dict.fromkeys([*mapping.properties_to_read(),
                                               *(agreement.properties() if agreement else ())]))
        self.history = tuple(mapping.history_properties())
        self.external_id_field = mapping.salesforce.external_id_field
        self._lookups = ThreadPoolExecutor(2, thread_name_prefix="forward-lookup")
        self.moves = ContactMoves(mapping=mapping, source=source, sink=sink, store=store, pipeline=pipeline,
                                  scan_every=archived_scan_every, should_stop=should_stop)

    def close(self) -> None:
        self._lookups.shutdown(wait=False, cancel_futures=True)

    # -- reading ------------------------------------------------------------------------------
    def window(self, window: Window) -> Window:
        return window

    def server_skew(self) -> float | None:
        return self.source.server_skew()

    def calls_needed(self, total: int) -> dict[str, int]:
        """At most: searches (and history batch reads); an email look-up, an upsert (new contacts)
        and an update by Id (known Leads) per 200."""
        pages = math.ceil(total / 200)
        return {"hubspot": pages + (math.ceil(total / 50) if self.history else 0), "salesforce": 3 * pages}

    def rejected_ids(self, retryable_only: bool) -> list[str]:
        return self.store.rejected_ids(self.pipeline, retryable_only=retryable_only)

    def pages(self, window: Window, retry_ids: list[str]) -> Iterator[Page[Contact]]:
        """The retry queue first (contacts re-read by id), then the window's pages; each contact once
        (one in both would make Salesforce refuse both writes: a duplicate external id in one call)."""
        seen: set[str] = set()
        for page in self.retry_pages(retry_ids):
            seen.update(c.id for c in page.items)
            yield page
        query = ContactQuery(self.mapping.filters(), window, self.properties, self.history)
        for page in self.source.changed_contacts(query):
            log.info("hubspot.page_read", contacts=len(page.items), total=page.total)
            fresh = [c for c in page.items if c.id not in seen]
            seen.update(c.id for c in fresh)
            yield Page(fresh, page.total)
        if self.moves.due(window):      # after the window: merges seen in it are handled by then
            yield self.moves.scan()

    def retry_pages(self, retry_ids: list[str]) -> Iterator[Page[Contact]]:
        """The retry queue: these contacts, read in full by id in batches."""
        if retry_ids:
            queued = self.source.read_contacts(retry_ids, self.properties, self.history)
            log.info("hubspot.retry_queue_read", contacts=len(queued))
            yield Page(queued)

    # -- gather and plan ------------------------------------------------------------------------
    def prepare(self, page: Page[Contact]) -> Prepared[ForwardCommit, Write]:
        if isinstance(page, GonePage):
            return self.moves.prepare(page)     # type: ignore[return-value]
        contacts = page.items
        ids = [c.id for c in contacts]
        future = self._dated_in_the_future(contacts)
        moving = self.moves.gather(contacts, self.store.links_for(self.pipeline, ids))
        links = moving.links
        rejections = self.store.rejections_for(self.pipeline, ids)
        emails = planner.email_lookups(contacts, links, self.mapping)
        lookup = self._lookups.submit(self._leads_by_email, emails) if emails else None
        to_read = planner.needs_reading(contacts, links, rejections, self.fingerprint)
        if to_read:
            read = {c.id: c for c in self.source.read_contacts(to_read, self.properties, self.history)}
            # a contact listed by the search but gone by the time it was read is left for the next run
            contacts = [read.get(c.id, c) for c in contacts if c.complete or c.id in read or c.id not in to_read]
        existing = lookup.result() if lookup is not None else []
        plan = planner.plan(contacts, ForwardFacts(links, rejections, existing, self.resend, self.refresh), self.mapping,
                            stop=self.should_stop, agreement=self.agreement)
        if plan.stopped:
            moving = Moving()
        restored = moving.restored_now()
        commit = ForwardCommit(links=plan.links, rejections=plan.rejections, resolved=plan.resolved,
                               restored=restored) if plan.links or plan.rejections or plan.resolved or restored else None
        aimed = moving.aim(plan.writes)
        writes: dict[str, list] = {}
        for write in aimed:           # upserts go by external id, the rest by Id: one call each
            writes.setdefault("upsert" if write.kind == "upsert" else "update", []).append(write)
        if moving.gone.recorded:      # merged away beside a survivor with its own Lead, action leave
            commit = commit or ForwardCommit()
            commit.moves += moving.gone.recorded
        if moving.gone.writes:
            writes["gone"] = list(moving.gone.writes)
        for hubspot_id, (lead_id, others) in plan.ambiguous.items():
            log.warning("salesforce.email_match_ambiguous", hubspot_id=hubspot_id, lead_id=lead_id,
                        other_lead_ids=others, action="linked to the oldest; merge the duplicates in Salesforce")
        counts = plan.counts() + moving.counts() + Counter(read=len(page.items), future_dated=len(future))
        return Prepared(counts, commit, writes, plan.rejections, aimed, skips(plan, contacts, self.mapping),
                        read=len(page.items), total=page.total)

    def _dated_in_the_future(self, contacts: list[Contact]) -> list[str]:
        """Contacts whose lastmodifieddate is ahead of HubSpot's own clock (a bad import, a skewed
        integration). They are read and synced like any other, but no cursor can pass them, so
        each run reads them again: say so, with their ids."""
        skew = self.source.server_skew()
        horizon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=(skew or 0.0) + FUTURE_MARGIN_SECONDS)
        future = [c.id for c in contacts if (c.modified_at or horizon) > horizon]
        if future:
            log.warning("hubspot.future_timestamps", contacts=len(future), hubspot_ids=future[:10],
                        action="read and synced; each run reads them again until HubSpot's clock passes them")
        return future

    def _leads_by_email(self, emails: list[str]) -> list[ExistingLead]:
        return self.sink.find_leads(external_id_field=self.external_id_field, emails=emails)

    # -- write and commit ------------------------------------------------------------------------
    def _send(self, writes: list[Write]) -> ForwardCommit:
        started = time.monotonic()
        results = self.sink.write_leads([w.lead_write() for w in writes], sobject=self.mapping.salesforce.object,
                                        external_id_field=self.external_id_field)
        commit = planner.confirm(writes, results)
        _log_moves(commit.events)
        log.info("salesforce.batch_written", kind=writes[0].kind, records=len(writes),
                 created=commit.counts["created"], updated=commit.counts["updated"],
                 rejected=len(commit.rejections), converted=len(commit.converted),
                 duration_ms=round((time.monotonic() - started) * 1000))
        return commit

    def write(self, group: str, items: list) -> Written[ForwardCommit]:
        if group == "gone":
            return self.moves.write(items)
        commit = self._send(items)
        if commit.converted:
            self._follow_converted(commit)
        if commit.deleted:
            self._follow_deleted(commit)
        self.moves.confirmed(items, commit)
        return Written(commit, commit.counts, commit.rejections, records=len(items))

    def _follow_converted(self, commit: ForwardCommit) -> None:
        """Leads Sales converted since we last wrote: write to their Contact, or skip."""
        refused, commit.converted = commit.converted, []
        # An upsert's Lead is found by the contact's id; a write by Id names its Lead, which may not
        # carry the id (matched by email, or taken over from a merged-away contact).
        leads = self.sink.find_leads(external_id_field=self.external_id_field,
                                     external_ids=[w.hubspot_id for w in refused if w.kind == "upsert"],
                                     ids=[w.target_id for w in refused if w.kind != "upsert" and w.target_id])
        contact_writes, skipped = planner.follow_converted(refused, leads, self.mapping)
        log.info("salesforce.converted_leads", refused=len(refused), contact_updates=len(contact_writes),
                 skipped=len(skipped))
        commit.links.extend(skipped)
        commit.counts["skipped_converted"] += len(skipped)
        if contact_writes:
            followed = self._send(contact_writes)
            commit.links.extend(followed.links)
            commit.rejections.extend(followed.rejections)
            commit.resolved.extend(followed.resolved)
            commit.counts.update(followed.counts)

    def _follow_deleted(self, commit: ForwardCommit) -> None:
        """Leads deleted or merged away in Salesforce since we last wrote (one queryAll, a few hops):
        write to the master, or hold, unlink, re-create (the mapping's ``deleted_lead``)."""
        refused, commit.deleted = commit.deleted, []
        traced = self.sink.trace_leads(external_id_field=self.external_id_field,
                                       lead_ids=[w.target_id for w in refused if w.target_id])
        writes, links, events = planner.follow_deleted(refused, {lead.id: lead for lead in traced}, self.mapping)
        _log_moves(events)
        commit.links.extend(links)
        commit.counts.update(Counter(COUNTS[e.name] for e in events))
        for kind in ("upsert", "update"):      # a re-created Lead goes by external id, the rest by Id
            group = [w for w in writes if (w.kind == "upsert") == (kind == "upsert")]
            if group:
                followed = self._send(group)
                if followed.converted:
                    self._follow_converted(followed)
                commit.links.extend(followed.links)
                commit.rejections.extend(followed.rejections)
                commit.resolved.extend(followed.resolved)
                commit.counts.update(followed.counts)

    def commit(self, commit: ForwardCommit, run_id: str, cursors: dict[str, str] | None) -> None:
        if commit.scanned_at:
            cursors = {**(cursors or {}), SCAN_CURSOR: commit.scanned_at}
        self.store.commit_batch(self.pipeline, links=commit.links, rejections=commit.rejections,
                                resolved=commit.resolved, run_id=run_id, cursors=cursors, moves=commit.moves,
                                restored=commit.restored, handed_over_at=self._salesforce_now())

    def _salesforce_now(self) -> dt.datetime | None:
        """When Salesforce confirmed the batch, on Salesforce's clock (this host's plus the skew its
        answers showed): a new link's hand-over. The agreement measures it against Tasks and
        history dated by Salesforce, so a host clock off by minutes (or a day) neither drops a first
        call as "before the hand-over" nor moves a deadline. None before any answer: this host's.
        A skew within the ``Date`` header's resolution is no skew: this host's time then, so
        hand-overs keep the order they happened in rather than a second's jitter."""
        skew = self.sink.server_skew()
        if skew is None:
            return None
        if abs(skew) <= SKEW_RESOLUTION_SECONDS:
            skew = 0.0
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew)


def _log_moves(events: list[Event]) -> None:
    """One line per Lead that moved (docs/log-events.md): a merge followed, a contact held, a Lead
    unlinked or re-created."""
    for event in events:
        level = log.warning if event.name != "salesforce.lead_merged" else log.info
        level(event.name, **event.fields)
