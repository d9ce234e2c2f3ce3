"""The tracking step (issue #10): what Sales did to the Leads syncd handed over, from Salesforce into
state, after the back leg. Talks only to ports (``ActivitySource``, ``LeadSink``) and the store.

1. The window is ``[cursor - look-back, Salesforce's now]`` in whole seconds (``syncd.run.clock``, as
   the legs open theirs); the first run starts at the pipeline's first hand-over (nothing before it
   counts), and a pipeline that handed nothing over reads nothing.
2. The ``ActivitySource`` reads Tasks, Events and status changes in the window (one query per kind,
   2,000 rows a page; Tasks and Events through ``queryAll``, deleted ones too); only those on Leads
   a link points at are kept. A deleted Task or Event (the recycle bin) removes its stored row: the
   Lead's attempts and first contact are counted again without it (an alert already raised stays
   raised: alerts are once per state).
3. The owners of Leads whose owner was never read (open hand-overs the back leg does not read,
   nobody worked them yet) are read by Id through the ``LeadSink``, 200 a query, at most
   ``OWNER_READS`` Leads a run, newest hand-overs first.
4. The names of owners never named, or named more than a day ago (a renamed User catches up), are
   read by Id through the ``LeadSink``: ``SELECT Id, Name FROM User WHERE Id IN (…200…)``, and the
   same ``FROM Group`` for queues (Ids ``00G…``): no call when every owner has a fresh name.
5. Each page's activities are stored as it comes (upserts by Salesforce Id, deletes of the deleted
   ones, in one transaction a page); the last page, the
   owners, their names and the cursor go in one transaction, after every row before them: a crash or a failed
   call leaves the cursor where it was and the next run reads the window again, storing each
   activity once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from state.store import StateStore
from syncd.core.agreement import Activity, ActivityKind
from syncd.core.errors import SyncdError
from syncd.core.ports import ActivityQuery, ActivitySource, LeadSink
from syncd.core.window import format_cursor
from syncd.run.clock import SourceTime, skew_cursor, whole_seconds
from syncd.run.leg import utcnow
from syncd.run.result import ActivitiesResult

log = structlog.get_logger("syncd.activities")

ACTIVITIES_CURSOR = "salesforce.activities"   # the tracking step's window, in Salesforce's time
OWNER_READS = 2_000                            # Lead owners read a run at most: 10 queries of 200
NAME_MAX_AGE = dt.timedelta(days=1)            # an owner's name is re-read at most once a day
QUEUE_PREFIX = "00G"                           # a Lead owned by a queue: a Group, not a User
_KIND_COUNTS = {ActivityKind.TASK: "tasks", ActivityKind.EVENT: "events", ActivityKind.STATUS: "status_changes"}


@dataclass
class TrackingStep:
    source: ActivitySource
    leads: LeadSink
    store: StateStore
    pipeline: str
    lookback: dt.timedelta
    calls: Callable[[], dict[str, int]] = dict          # API calls so far, per system
    query: ActivityQuery = field(default_factory=ActivityQuery)
    clock: Callable[[], dt.datetime] = utcnow
    owner_reads: int = OWNER_READS

    def run(self) -> ActivitiesResult:
        """One pass; a SyncdError (a refused call, the quota reserve, the store) fails the step,
        logged and returned, with the cursor where it was."""
        result = ActivitiesResult("running")
        started, calls_before = time.monotonic(), self.calls()
        try:
            self._run(result)
            result.status = "ok"
        except SyncdError as exc:
            result.status, result.error = "failed", exc
        finally:
            result.duration_seconds = round(time.monotonic() - started, 3)
            calls = self.calls()
            result.api_calls = {system: calls[system] - calls_before.get(system, 0) for system in calls}
        window = result.window
        log.info("activities.read", pipeline=self.pipeline, status=result.status,
                 window_start=format_cursor(window.start) if window and window.start else None,
                 window_end=format_cursor(window.end) if window else None,
                 duration_seconds=result.duration_seconds, api_calls=result.api_calls,
                 **({"error": str(result.error), "code": getattr(result.error, "code", None),
                     "who_acts": result.error.who_acts} if result.error else {}),
                 **result.count_dict())
        return result

    def _run(self, result: ActivitiesResult) -> None:
        cursor = self.store.get_cursor(self.pipeline, ACTIVITIES_CURSOR)
        if cursor is None:
            first = self.store.first_hand_over(self.pipeline)
            if first is None:          # nothing handed over yet: nothing to track, no call
                return
            cursor = format_cursor(first)
        source_time = SourceTime("salesforce", self.source.server_skew,
                                 self.store.get_cursor(self.pipeline, skew_cursor("salesforce")), self.clock())
        window = whole_seconds(source_time.window(cursor, self.lookback))
        result.window = window
        pending: list[Activity] = []
        for page in self.source.lead_activities(self.query, window):
            if pending:
                self.store.commit_activities(self.pipeline, activities=pending)
            pending = self._handed_over(page.items, result.counts)
        owners = self._owners(result.counts)
        names = self._names([owner for owner, _ in owners.values() if owner], result.counts)
        self.store.commit_activities(self.pipeline, activities=pending, owners=owners, owner_names=names, cursors={
            ACTIVITIES_CURSOR: source_time.cursor(cursor, window, whole_seconds), **source_time.kept()})

    def _handed_over(self, activities: list[Activity], counts: Counter) -> list[Activity]:
        """The activities on Leads a link points at (Sales' work on other Leads is not ours to measure),
        deleted ones included: the store removes those."""
        counts["read"] += len(activities)
        linked = self.store.links_by_lead(self.pipeline, {a.lead_id for a in activities})
        kept = [a for a in activities if a.lead_id in linked]
        live = [a for a in kept if not a.deleted]
        counts["kept"] += len(live)
        counts["deleted"] += len(kept) - len(live)
        counts["not_handed_over"] += len(activities) - len(kept)
        counts.update(_KIND_COUNTS[a.kind] for a in live)
        return kept

    def _owners(self, counts: Counter) -> dict[str, tuple[str | None, str | None]]:
        lead_ids = self.store.owners_unknown(self.pipeline, self.owner_reads)
        if not lead_ids:
            return {}
        found = self.leads.current_values(sobject="Lead", fields=("OwnerId", "Status"), ids=lead_ids)
        counts["owners_read"] += len(found)
        # A Lead Salesforce no longer has is recorded without an owner, so it is not asked for again.
        return {lead_id: (found[lead_id].get("OwnerId"), found[lead_id].get("Status")) if lead_id in found
                else (None, None) for lead_id in lead_ids}

    def _names(self, new_owners: list[str], counts: Counter) -> dict[str, str | None]:
        """The names of owners not named yet (or named over a day ago): Users, and queues (Groups)."""
        owner_ids = self.store.owners_to_name(self.pipeline, also=new_owners, max_age=NAME_MAX_AGE,
                                              limit=self.owner_reads)
        names: dict[str, str | None] = dict.fromkeys(owner_ids)   # an Id Salesforce has no row for: None
        for sobject, ids in (("User", [i for i in owner_ids if not i.startswith(QUEUE_PREFIX)]),
                             ("Group", [i for i in owner_ids if i.startswith(QUEUE_PREFIX)])):
            if ids:
                found = self.leads.current_values(sobject=sobject, fields=("Name",), ids=ids)
                names.update({owner_id: row.get("Name") for owner_id, row in found.items() if owner_id in names})
        counts["owner_names_read"] += len(owner_ids)
        return names
