"""The back leg: what Sales did -> the marketing contacts, as ``syncd.run.leg`` runs it.

Per page of up to 2,000 Leads (each with its Opportunity, read in one query): gather state's
links, outcome states and rejections, and the current lifecycle stage of contacts whose outcome
would move it; plan (``syncd.plan.feedback``); write contact updates 100 a call; commit what
HubSpot answered. Its cursor (``salesforce.outcomes.systemmodstamp``) is separate from the
forward leg's and works in whole seconds (SOQL datetime literals carry no fraction).

Records that move: a Lead the outcome query finds deleted or merged away is relinked to its
master or unlinked (``syncd.plan.lead_moves``) before anything is planned, so no forward write runs
into it; Leads that do not carry the contact's external id (linked by email already converted, or
a merge master) and the Leads of Opportunities deleted in the window are read by Id and mapped
to their contacts through the links.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace

import structlog

from state.outcomes import OutcomeStore
from state.store import StateStore
from syncd.core.digest import digest
from syncd.core.errors import ConfigError, Problem
from syncd.core.ports import ContactSink, OutcomeQuery, OutcomeSource, Page
from syncd.core.records import ExistingLead, OutcomeState, SalesforceLead
from syncd.core.window import Window
from syncd.mapping.feedback import Feedback
from syncd.mapping.model import Mapping
from syncd.plan import feedback as planner
from syncd.plan.feedback import ContactUpdate, FeedbackCommit, FeedbackFacts
from syncd.plan import lead_moves
from syncd.plan.hubspot_properties import check
from syncd.run.clock import whole_seconds
from syncd.run.leg import Prepared, Written

log = structlog.get_logger("syncd.feedback")

OUTCOMES_CURSOR = "salesforce.outcomes.systemmodstamp"
FEEDBACK_MAPPING_CURSOR = "feedback.fingerprint"   # the feedback mapping the last complete run used
WRITE_SIZE = 100                                   # HubSpot batch update: 100 contacts a call


def outcome_query(mapping: Mapping, feedback: Feedback) -> OutcomeQuery:
    return OutcomeQuery(mapping.salesforce.external_id_field, tuple(feedback.lead.open_statuses),
                        feedback.lead.reason_field, feedback.opportunity.loss_reason_field,
                        tuple(feedback.lead_fields()), tuple(feedback.opportunity_fields()))


class BackLeg:
    name = "back"
    started_event = "feedback.started"
    cursor_name = OUTCOMES_CURSOR
    fingerprint_name = FEEDBACK_MAPPING_CURSOR
    write_size = WRITE_SIZE
    planned_key = "planned_updates"
    source_system = "salesforce"

    def __init__(self, *, mapping: Mapping, source: OutcomeSource, sink: ContactSink, store: StateStore,
                 pipeline: str, dry_run: bool = False, resend: Iterable[str] = ()) -> None:
        if mapping.feedback is None:
            raise ConfigError(Problem(mapping.source or "mapping", "feedback", "no `feedback` section, so there "
                                      "is nothing to carry back to HubSpot"))
        self.mapping = mapping
        self.feedback = mapping.feedback
        self.source = source
        self.sink = sink
        self.store = store
        self.outcomes = OutcomeStore(store)
        self.pipeline = pipeline
        self.dry_run = dry_run
        self.resend = frozenset(resend)      # refused contacts an admin re-sends (`syncd rejected retry`)
        self.query = outcome_query(mapping, mapping.feedback)
        self.fingerprint = digest(self.feedback.model_dump(mode="json", by_alias=True))
        self._checked = threading.Lock()
        self._properties_ok = False

    # -- reading ------------------------------------------------------------------------------
    def server_skew(self) -> float | None:
        return self.source.server_skew()

    def calls_needed(self, total: int) -> dict[str, int]:
        """At most: a query page per 2,000 Leads and the deleted-Opportunity query; a lifecycle-stage
        read and an update per 100. (Leads read by Id are few: the estimate leaves them out.)"""
        return {"salesforce": math.ceil(total / 2000) + 1, "hubspot": 2 * math.ceil(total / 100)}

    def window(self, window: Window) -> Window:
        return whole_seconds(window)

    def rejected_ids(self, retryable_only: bool) -> list[str]:
        return self.outcomes.rejected_ids(self.pipeline, retryable_only=retryable_only)

    def pages(self, window: Window, retry_ids: list[str]) -> Iterator[Page[SalesforceLead]]:
        """Leads of contacts HubSpot refused for a passing reason (all refused ones after the feedback
        mapping changed), re-read by Id; then the window's pages; each Lead once."""
        seen: set[tuple[str, str]] = set()      # (Lead, contact): an unmarked Lead may also carry another's id
        for page in self.retry_pages(retry_ids):
            seen.update((lead.id, lead.hubspot_id) for lead in page.items)
            yield page
        by_id = [lead for lead in self._read_by_id(window) if (lead.id, lead.hubspot_id) not in seen]
        if by_id:
            seen.update((lead.id, lead.hubspot_id) for lead in by_id)
            yield Page(by_id)
        started = time.monotonic()
        for page in self.source.changed_outcomes(self.query, window):
            leads = [lead for lead in page.items if (lead.id, lead.hubspot_id) not in seen]
            seen.update((lead.id, lead.hubspot_id) for lead in leads)
            log.info("salesforce.outcomes_read", what="leads", leads=len(leads),
                     opportunities=sum(1 for lead in leads if lead.opportunity is not None),
                     duration_ms=round((time.monotonic() - started) * 1000))
            yield Page(leads, page.total)
            started = time.monotonic()

    def retry_pages(self, retry_ids: list[str]) -> Iterator[Page[SalesforceLead]]:
        """The retry queue: the Leads of these contacts, read by Id (through the links: an unmarked
        Lead carries no contact id), each as its refused contact's."""
        if not retry_ids:
            return
        lead_ids = [s.lead_id for s in self.outcomes.states_for(self.pipeline, retry_ids).values() if s.lead_id]
        refused = set(retry_ids)
        queued = [lead for lead in self._to_contacts(self.source.leads_by_id(self.query, lead_ids, None),
                                                     unmarked_only=False) if lead.hubspot_id in refused] \
            if lead_ids else []
        changed = self.store.get_cursor(self.pipeline, FEEDBACK_MAPPING_CURSOR) != self.fingerprint
        log.info("salesforce.retry_queue_read", refused=len(retry_ids), leads=len(queued), mapping_changed=changed)
        yield Page(queued)

    def _read_by_id(self, window: Window) -> list[SalesforceLead]:
        """Leads the window query cannot find by the external id: those linked to a contact without
        carrying its id (in the window's terms), and those whose Opportunity was deleted in the
        window (changed or not). Each read only when state has such Leads."""
        self._learn_unmarked()
        unmarked = self.store.unmarked_lead_ids(self.pipeline)
        found = self.source.leads_by_id(self.query, unmarked, window) if unmarked else []
        gone = self.source.deleted_opportunities(window) if self.outcomes.has_opportunities(self.pipeline) else []
        orphaned = self.outcomes.lead_ids_for_opportunities(self.pipeline, gone) if gone else []
        if orphaned:
            found += self.source.leads_by_id(self.query, orphaned, None)
            log.info("salesforce.opportunities_deleted", opportunities=len(gone), leads=len(orphaned),
                     action="the outcome is what the Lead alone says")
        return self._to_contacts(found, unmarked_only=False)

    def _to_contacts(self, leads: list[SalesforceLead], *, unmarked_only: bool) -> list[SalesforceLead]:
        """Each Lead once per contact linked to it (not held), as that contact's Lead."""
        links = self.store.links_by_lead(self.pipeline, [lead.id for lead in leads])
        return [replace(lead, hubspot_id=link.hubspot_id) for lead in leads for link in links.get(lead.id, [])
                if link.moved is None and (link.unmarked or not unmarked_only)]

    def _learn_unmarked(self) -> None:
        """Links older than schema v4 to a converted Lead: whether it carries our id is read once."""
        unknown = self.store.unmarked_lead_ids(self.pipeline, unknown=True)
        if not unknown or self.dry_run:
            return
        leads = self.source.trace_leads(external_id_field=self.query.external_id_field, lead_ids=unknown)
        carried = {lead.id: lead.external_id for lead in leads}
        links = self.store.links_by_lead(self.pipeline, unknown)
        self.store.set_unmarked(self.pipeline, {link.hubspot_id: carried.get(lead_id) != link.hubspot_id
                                                for lead_id, linked in links.items() for link in linked})

    def _relink(self, deleted: list[SalesforceLead], counts: Counter) -> list[SalesforceLead]:
        """Leads deleted or merged away in the window: move their contacts' links (to the master, or
        unlinked) before any forward write runs into them; returns the masters' Leads to plan now."""
        links = self.store.links_for(self.pipeline, [lead.hubspot_id for lead in deleted])
        deleted = [lead for lead in deleted if (link := links.get(lead.hubspot_id)) is not None
                   and link.lead_id == lead.id and link.moved is None]
        if not deleted:
            return []
        traced = {lead.id: ExistingLead(lead.id, None, lead.hubspot_id, lead.converted, None, "", True, lead.master_id)
                  for lead in deleted}
        masters = sorted({lead.master_id for lead in deleted if lead.master_id})
        if masters:
            traced.update({lead.id: lead for lead in self.source.trace_leads(
                external_id_field=self.query.external_id_field, lead_ids=masters)})
        moved, events = lead_moves.relink(deleted, links, traced, self.mapping)
        for event in events:
            (log.info if event.name == lead_moves.MERGED else log.warning)(event.name, **event.fields, leg="back")
        counts.update(lead_moves.COUNTS[event.name] for event in events)
        if self.dry_run:
            return []
        self.store.commit_batch(self.pipeline, links=moved)
        relinked = {link.lead_id for link in moved if link.lead_id and link.moved is None}
        return self._to_contacts(self.source.leads_by_id(self.query, sorted(relinked), None), unmarked_only=True) \
            if relinked else []

    # -- gather and plan ------------------------------------------------------------------------
    def _facts(self, leads: list[SalesforceLead]) -> FeedbackFacts:
        links = self.store.links_for(self.pipeline, [lead.hubspot_id for lead in leads if lead.hubspot_id])
        # A contact archived, deleted or merged away gets no outcome (syncd.run.moves): HubSpot would refuse it.
        linked = frozenset(links) - frozenset(self.store.moves_for(self.pipeline, links))
        facts = FeedbackFacts(linked, self.outcomes.states_for(self.pipeline, linked),
                              self.outcomes.rejections_for(self.pipeline, linked), resend=self.resend)
        candidates = planner.lifecycle_candidates(leads, facts, self.feedback)
        if not candidates:
            return facts
        lifecycle = self.feedback.lifecycle
        assert lifecycle is not None
        stages = self.sink.current_values(candidates, lifecycle.property)
        return replace(facts, stages=stages, missing=frozenset(candidates) - set(stages))

    def _check_properties(self) -> None:
        """One read of the contact properties per run that has something to write."""
        with self._checked:
            if self._properties_ok:
                return
            problems = check(self.feedback, self.sink.property_definitions())
            if problems:
                raise ConfigError(Problem(self.mapping.source or "mapping", "feedback.properties", (
                    f"{'; '.join(problems)}. Run `syncd setup hubspot` to create what the feedback mapping "
                    "writes (nothing was written to HubSpot)")))
            self._properties_ok = True

    def prepare(self, page: Page[SalesforceLead]) -> Prepared[FeedbackCommit, tuple[ContactUpdate, OutcomeState]]:
        leads = page.items
        with_opportunity = sum(1 for lead in leads if lead.opportunity is not None)
        counts = Counter(leads_read=len(leads), opportunities_read=with_opportunity, read=len(leads) + with_opportunity)
        moved = [lead for lead in leads if lead.deleted]
        if moved:
            leads = [lead for lead in leads if not lead.deleted] + self._relink(moved, counts)
        if not leads:
            return Prepared(counts)
        plan = planner.plan(leads, self._facts(leads), self.feedback)
        if plan.updates:
            self._check_properties()
        quiet, resolved = plan.quiet(), plan.resolved()
        commit = FeedbackCommit(quiet, plan.rejections, resolved) if quiet or plan.rejections or resolved else None
        writes = {"update": [(u, plan.states[u.hubspot_id]) for u in plan.updates]} if plan.updates else {}
        if self.dry_run:
            counts["would_update"] += len(plan.updates)
            for update in plan.updates:
                log.info("plan.contact_update", hubspot_id=update.hubspot_id, outcome=update.outcome,
                         properties=update.properties)
        return Prepared(counts + plan.counts(), commit, writes, plan.rejections, plan.updates, read=len(leads),
                        total=page.total)

    # -- write and commit ------------------------------------------------------------------------
    def write(self, group: str, items: list[tuple[ContactUpdate, OutcomeState]]) -> Written[FeedbackCommit]:
        started = time.monotonic()
        updates = [update for update, _ in items]
        answers = self.sink.update_contacts([(u.hubspot_id, u.properties) for u in updates])
        commit = planner.confirm(updates, answers, {u.hubspot_id: state for u, state in items})
        log.info("hubspot.batch_updated", records=len(items), updated=len(commit.resolved),
                 rejected=len(commit.rejections), duration_ms=round((time.monotonic() - started) * 1000))
        return Written(commit, Counter(updated=len(commit.resolved), rejected=len(commit.rejections)),
                       commit.rejections, records=len(items))

    def commit(self, commit: FeedbackCommit, run_id: str, cursors: dict[str, str] | None) -> None:
        self.outcomes.commit(self.pipeline, states=commit.states, rejections=commit.rejections,
                             resolved=commit.resolved, run_id=run_id, cursors=cursors)
