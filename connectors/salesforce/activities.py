"""What Sales did to Leads: the agreement's activity source (``syncd.core.ports.ActivitySource``).

One SOQL query per kind of activity per window, read 2,000 rows a page (``nextRecordsUrl``), never
one call per Lead:

- Tasks on Leads (``Who.Type = 'Lead'``: ``WhoId`` is polymorphic, a Lead or a Contact) whose
  ``TaskSubtype`` is one the agreement counts (Call, Email by default: a plain to-do is not an
  attempt), changed in the window (``SystemModstamp``: a Task logged late, or edited, is read);
- Events on Leads, the same way;
- the Leads' Status changes, from field history (``LeadHistory WHERE Field = 'Status'``, by
  ``CreatedDate``: history rows never change). Field history tracking must be on for Lead Status.

Tasks and Events are read through ``queryAll`` (simple_salesforce: ``include_deleted=True``), in the
same one query per kind: a Task or Event a rep deletes (logged by mistake) goes to the recycle bin
with ``IsDeleted = true`` and a new ``SystemModstamp``, so the window that follows the delete reads
it once more, marked ``deleted``, and the step removes it from state; one restored from the recycle
bin (``undelete``, SOAP or Apex) is read again with ``IsDeleted = false`` and counts again.
``queryAll`` also returns archived activities (``IsArchived``): still real work, counted as before.
Field history rows are never deleted: ``LeadHistory`` keeps ``query``.

Every activity is dated by its ``CreatedDate`` (when Sales logged it). As in the back leg, the
window has no upper bound: what is created while the step reads is read again by the next one,
and the store keeps each activity once (by its Salesforce Id). A Task or Event whose Lead was
converted meanwhile points at the Contact now (``Who.Type = 'Contact'``) and is not read again:
the row stored while it was on the Lead stays.

Every literal goes through ``simple_salesforce.format_soql``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from simple_salesforce import format_soql

from connectors.errors import SALESFORCE
from connectors.salesforce.client import SalesforceClient
from syncd.core.agreement import Activity, ActivityKind
from syncd.core.ports import ActivityQuery, Page
from syncd.core.records import parse_datetime
from syncd.core.window import Window

TASKS = "SELECT Id, WhoId, OwnerId, TaskSubtype, CreatedDate, IsDeleted FROM Task WHERE Who.Type = 'Lead'"
EVENTS = "SELECT Id, WhoId, OwnerId, CreatedDate, IsDeleted FROM Event WHERE Who.Type = 'Lead'"
STATUS_CHANGES = ("SELECT Id, LeadId, OldValue, NewValue, CreatedDate, CreatedById FROM LeadHistory "
                  "WHERE Field = 'Status'")


def _since(column: str, window: Window) -> tuple[str, dict[str, dt.datetime]]:
    if window.start is None:
        return "", {}
    return f" AND {column} >= {{start}}", {"start": window.start}


def task_soql(query: ActivityQuery, window: Window) -> str | None:
    if not query.task_subtypes:
        return None
    clause, values = _since("SystemModstamp", window)
    return format_soql(f"{TASKS} AND TaskSubtype IN {{subtypes}}{clause} ORDER BY SystemModstamp, Id",
                       subtypes=list(query.task_subtypes), **values)


def event_soql(query: ActivityQuery, window: Window) -> str | None:
    if not query.events:
        return None
    clause, values = _since("SystemModstamp", window)
    return format_soql(f"{EVENTS}{clause} ORDER BY SystemModstamp, Id", **values)


def status_soql(query: ActivityQuery, window: Window) -> str | None:
    if not query.status_changes:
        return None
    clause, values = _since("CreatedDate", window)
    return format_soql(f"{STATUS_CHANGES}{clause} ORDER BY CreatedDate, Id", **values)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _at(row: dict[str, Any]) -> dt.datetime | None:
    return parse_datetime(row.get("CreatedDate"))


def _on_lead(kind: ActivityKind) -> Callable[[dict[str, Any]], Activity | None]:
    """A Task or an Event row (``WhoId`` the Lead; an Event has no subtype), deleted ones marked."""
    def parse(row: dict[str, Any]) -> Activity | None:
        at, lead = _at(row), row.get("WhoId")
        if at is None or not lead:
            return None
        return Activity(row["Id"], lead, kind, at, _text(row.get("TaskSubtype")), owner_id=row.get("OwnerId"),
                        deleted=bool(row.get("IsDeleted")))
    return parse


def _status(row: dict[str, Any]) -> Activity | None:
    at, lead = _at(row), row.get("LeadId")
    if at is None or not lead:
        return None
    return Activity(row["Id"], lead, ActivityKind.STATUS, at, _text(row.get("NewValue")),
                    _text(row.get("OldValue")), row.get("CreatedById"))


class SalesforceActivities:
    system = SALESFORCE

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client

    def server_skew(self) -> float | None:
        return self.client.clock.skew

    def lead_activities(self, query: ActivityQuery, window: Window) -> Iterator[Page[Activity]]:
        """Tasks, then Events (deleted ones too, marked), then status changes: each kind oldest
        first, each activity once."""
        for soql, what, parse, everything in (
                (task_soql(query, window), "read tasks on leads", _on_lead(ActivityKind.TASK), True),
                (event_soql(query, window), "read events on leads", _on_lead(ActivityKind.EVENT), True),
                (status_soql(query, window), "read lead status history", _status, False)):
            if soql is None:
                continue
            for rows, total in self.client.query_pages(soql, what, include_deleted=everything):
                yield Page([a for a in map(parse, rows) if a is not None], total)
