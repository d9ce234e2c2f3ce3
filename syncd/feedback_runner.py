"""One back-leg run: read what Sales did in Salesforce, plan, write to HubSpot, commit state.

The planner (``syncd.feedback``) decides; this module moves data between the connectors, the
planner and the state store, in this order for every batch of 100 contacts:
write to HubSpot -> commit what it answered. Its cursor (``salesforce.outcomes.systemmodstamp``,
separate from the forward leg's) moves once, at the end, after every write of the window was
confirmed; it is read with ``>=`` minus a look-back and never moves backwards (``syncd.core.window``).

Reads, per run:
1. Leads syncd created or linked (external id set) changed in the window, 2,000 per page; for
   each page, the Opportunities those Leads were converted into (whatever their age);
2. every other Opportunity syncd knows of, only if it changed in the window (moved, reopened).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import structlog

from connectors.hubspot import BATCH_UPDATE_LIMIT, HubSpotConnector
from connectors.hubspot_schema import ContactProperties
from connectors.salesforce import SalesforceConnector
from connectors.salesforce_outcomes import OutcomeReader
from state.outcomes import OutcomeStore
from state.store import StateStore
from syncd import feedback as planner
from syncd import property_setup
from syncd.core.window import Window, format_cursor, read_window
from syncd.core.errors import ConfigError, Problem
from syncd.feedback import ContactUpdate, FeedbackPlan
from syncd.core.records import Rejection, SalesforceLead, SalesforceOpportunity
from syncd.mapping.model import Mapping
from syncd.runner import RunResult, close_window, recorded_run, utcnow
from syncd.core.digest import digest as payload_hash

OUTCOMES_CURSOR = "salesforce.outcomes.systemmodstamp"
FEEDBACK_MAPPING_CURSOR = "feedback.fingerprint"   # the feedback mapping the last complete run used
COUNT_KEYS = ("read", "leads_read", "opportunities_read", "ignored", "updated", "would_update", "unchanged",
              "no_outcome", "rejected", "still_rejected", "lifecycle_moved", "lifecycle_kept")

log = structlog.get_logger("syncd.feedback")


@dataclass
class BackRunResult(RunResult):
    """A RunResult whose dry-run plan is HubSpot contact updates (``planned`` stays empty)."""

    leg: ClassVar[str] = "back"
    planned_updates: list[ContactUpdate] = field(default_factory=list)


def _whole_seconds(window: Window) -> Window:
    """SOQL datetime literals carry whole seconds (format_soql drops the fraction): query and
    advance the cursor to exactly what was asked, so nothing falls into the dropped fraction."""
    return Window(window.start, window.end.replace(microsecond=0))


class BackSync:
    """Salesforce outcomes -> HubSpot contacts, once."""

    def __init__(self, *, mapping: Mapping, store: StateStore, hubspot: HubSpotConnector,
                 salesforce: SalesforceConnector, pipeline: str, lookback: dt.timedelta,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        if mapping.feedback is None:
            raise ConfigError(Problem(mapping.source or "mapping", "feedback", "no `feedback` section, so there "
                                      "is nothing to carry back to HubSpot"))
        self.mapping = mapping
        self.feedback = mapping.feedback
        self.store = store
        self.outcomes = OutcomeStore(store)
        self.hubspot = hubspot
        self.salesforce = salesforce
        self.reader = OutcomeReader(salesforce, external_id_field=mapping.salesforce.external_id_field,
                                    feedback=mapping.feedback)
        self.pipeline = pipeline
        self.lookback = lookback
        self.clock = clock
        self._properties_checked = False

    # -- before the first write ----------------------------------------------------------
    def _check_properties(self) -> None:
        """One GET of the contact properties per run that has something to write."""
        if self._properties_checked:
            return
        problems = property_setup.check(self.feedback, ContactProperties(self.hubspot).properties())
        if problems:
            raise ConfigError(Problem(self.mapping.source or "mapping", "feedback.properties", (
                f"{'; '.join(problems)}. Run `syncd setup hubspot` to create what the feedback mapping writes "
                "(nothing was written to HubSpot)")))
        self._properties_checked = True

    def _resolve_lifecycle(self, updates: list[ContactUpdate], counts: Counter) -> tuple[list[ContactUpdate],
                                                                                         list[Rejection]]:
        lifecycle = self.feedback.lifecycle
        wanted = [u.hubspot_id for u in updates if u.lifecycle_target]
        if lifecycle is None or not wanted:
            return updates, []
        contacts = self.hubspot.read_contacts(wanted, [lifecycle.property])
        stages = {c.id: c.properties.get(lifecycle.property) for c in contacts}
        updates, gone, moved, kept = planner.resolve_lifecycle(updates, stages, set(wanted) - set(stages),
                                                               self.feedback)
        counts["lifecycle_moved"] += moved
        counts["lifecycle_kept"] += kept
        return updates, gone

    # -- one slice of records: plan, write, commit ---------------------------------------
    def _process(self, leads: Sequence[SalesforceLead], opportunities: Sequence[SalesforceOpportunity],
                 result: BackRunResult, dry_run: bool) -> None:
        counts = result.counts
        links = self.store.links_for(self.pipeline, [lead.hubspot_id for lead in leads if lead.hubspot_id])
        previous = self.outcomes.states_for(self.pipeline, links)
        previous.update(self.outcomes.states_for_opportunities(
            self.pipeline, [o.id for o in opportunities]))
        rejections = self.outcomes.rejections_for(self.pipeline, list(links) + list(previous))
        plan = planner.plan_feedback(leads, opportunities, links, previous, self.feedback, rejections)
        for key in ("ignored", "unchanged", "no_outcome", "still_rejected"):
            counts[key] += len(getattr(plan, key))
        writing = {u.hubspot_id for u in plan.updates}
        quiet = [s for h, s in plan.states.items() if h not in writing]
        self._report(plan.rejected, result)
        if not dry_run and (quiet or plan.rejected):
            # Nothing to write for these: their observation is recorded now (for the report).
            # A contact whose outcome is back to what HubSpot accepted (or has none) is no longer refused.
            self.outcomes.commit(self.pipeline, states=quiet, rejections=plan.rejected,
                                 resolved=plan.unchanged + plan.no_outcome, run_id=result.run_id)
        if not plan.updates:
            return
        self._check_properties()
        updates, gone = self._resolve_lifecycle(plan.updates, counts)
        self._report(gone, result)
        if dry_run:
            result.planned_updates.extend(updates)
            counts["would_update"] += len(updates)
            for update in updates:
                log.info("plan.contact_update", hubspot_id=update.hubspot_id, outcome=update.outcome,
                         properties=update.properties)
            return
        if gone:
            self.outcomes.commit(self.pipeline, states=[plan.states[r.hubspot_id] for r in gone], rejections=gone,
                                 run_id=result.run_id)
        for start in range(0, len(updates), BATCH_UPDATE_LIMIT):
            self._write(updates[start:start + BATCH_UPDATE_LIMIT], plan, result)

    def _write(self, batch: list[ContactUpdate], plan: FeedbackPlan, result: BackRunResult) -> None:
        started = time.monotonic()
        answers = self.hubspot.update_contacts([(u.hubspot_id, u.properties) for u in batch])
        confirmed = planner.reconcile(batch, answers, plan.states)
        # HubSpot has answered: only now does state record the hashes it accepted.
        self.outcomes.commit(self.pipeline, states=confirmed.states, rejections=confirmed.rejections,
                             resolved=confirmed.resolved, run_id=result.run_id)
        result.counts["updated"] += len(confirmed.resolved)
        self._report(confirmed.rejections, result)
        log.info("hubspot.batch_updated", records=len(batch), updated=len(confirmed.resolved),
                 rejected=len(confirmed.rejections), duration_ms=round((time.monotonic() - started) * 1000))

    def _report(self, rejections: list[Rejection], result: BackRunResult) -> None:
        for rejection in rejections:
            log.warning("record.rejected", hubspot_id=rejection.hubspot_id, code=rejection.code,
                        message=rejection.message, retryable=rejection.retryable)
        result.counts["rejected"] += len(rejections)
        result.rejections.extend(rejections)

    # -- the retry queue ---------------------------------------------------------------------
    def _fingerprint(self) -> str:
        return payload_hash(self.feedback.model_dump(mode="json", by_alias=True))

    def _retry_queue(self) -> list[SalesforceLead]:
        """Leads to re-read although they did not change in Salesforce: contacts HubSpot refused
        for a passing reason, and after the feedback mapping changed, every refused one (an admin
        who adds the missing option expects the refused outcomes to go)."""
        changed = self.store.get_cursor(self.pipeline, FEEDBACK_MAPPING_CURSOR) != self._fingerprint()
        ids = self.outcomes.rejected_ids(self.pipeline, retryable_only=not changed)
        if not ids:
            return []
        lead_ids = [s.lead_id for s in self.outcomes.states_for(self.pipeline, ids).values() if s.lead_id]
        leads = self.reader.leads_by_id(lead_ids) if lead_ids else []
        log.info("salesforce.retry_queue_read", refused=len(ids), leads=len(leads), mapping_changed=changed)
        return leads

    # -- the run ---------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False, full: bool = False,
            should_stop: Callable[[], bool] | None = None) -> BackRunResult:
        """One run. ``full`` re-reads every linked Lead (unchanged outcomes are still not
        written). ``should_stop`` is asked between pages, as in the forward leg."""
        result = BackRunResult(str(uuid.uuid4()), "running")
        counts = result.counts
        cursor = self.store.get_cursor(self.pipeline, OUTCOMES_CURSOR)
        window = _whole_seconds(read_window(None if full else cursor, self.clock(), self.lookback))
        result.window = window
        stopped = False
        with recorded_run(result, store=self.store, pipeline=self.pipeline, leg="back", dry_run=dry_run,
                          hubspot=self.hubspot, salesforce=self.salesforce, counts=lambda: _count_dict(counts)):
            log.info("feedback.started", dry_run=dry_run, full=full,
                     window_start=format_cursor(window.start) if window.start else None,
                     window_end=format_cursor(window.end))
            fetched: set[str] = set()
            queued = self._retry_queue()
            if queued:
                converted = {lead.opportunity_id for lead in queued if lead.opportunity_id}
                fetched |= converted
                self._process(queued, self.reader.opportunities(converted, None) if converted else [],
                              result, dry_run)
            for leads in self.reader.lead_pages(window):
                if should_stop is not None and should_stop():
                    stopped = True
                    break
                page_started = time.monotonic()
                converted = {lead.opportunity_id for lead in leads if lead.opportunity_id}
                opportunities = self.reader.opportunities(converted, None) if converted else []
                fetched |= converted
                self._count_read(counts, len(leads), len(opportunities), page_started, "leads")
                self._process(leads, opportunities, result, dry_run)
            if not stopped:
                page_started = time.monotonic()
                followed = [o for o in self.outcomes.opportunity_ids(self.pipeline) if o not in fetched]
                moved = self.reader.opportunities(followed, window) if followed else []
                self._count_read(counts, 0, len(moved), page_started, "opportunities", followed=len(followed))
                if moved:
                    self._process([], moved, result, dry_run)
            close_window(result, self.store, self.pipeline, dry_run=dry_run, stopped=stopped,
                         cursor=(OUTCOMES_CURSOR, cursor), window=window,
                         fingerprint=(FEEDBACK_MAPPING_CURSOR, self._fingerprint()))
        return result

    @staticmethod
    def _count_read(counts: Counter, leads: int, opportunities: int, started: float, what: str, **extra: int) -> None:
        counts["leads_read"] += leads
        counts["opportunities_read"] += opportunities
        counts["read"] += leads + opportunities
        log.info("salesforce.outcomes_read", what=what, leads=leads, opportunities=opportunities,
                 duration_ms=round((time.monotonic() - started) * 1000), **extra)


def _count_dict(counts: Counter) -> dict[str, int]:
    return {key: int(counts.get(key, 0)) for key in COUNT_KEYS}


def back_sync(loaded, store: StateStore, *, hubspot: HubSpotConnector | None = None,  # noqa: ANN001 - app.Loaded
              salesforce: SalesforceConnector | None = None) -> BackSync:
    from syncd import app

    settings = loaded.settings
    return BackSync(mapping=loaded.mapping, store=store,
                    hubspot=hubspot or app.hubspot_connector(settings),
                    salesforce=salesforce or app.salesforce_connector(settings),
                    pipeline=settings.sync.pipeline,
                    lookback=dt.timedelta(minutes=settings.sync.lookback_minutes))
