"""The Sales–Marketing agreement's words (issue #10), shared by the layers that measure it.

The agreement file (``syncd.agreement``) says what a sales-qualified lead is and what Sales owes
each one: a first contact within Y hours of the hand-over, at least Z attempts before closing it
as not converted. The forward leg records, per lead handed over, which parts of the definition it
met; the tracking step reads what Sales did in Salesforce (``ActivitySource``: Tasks, Events,
status changes) into a ``TrackedLead``; the classifier gives it an ``SlaState``; the report and the
status page summarise a month as an ``AgreementMonth``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class ActivityKind(StrEnum):
    """Where an attempt to reach a lead was seen in Salesforce."""

    TASK = "task"                  # a Task on the Lead (WhoId); ``subtype`` is its TaskSubtype (Call, Email, …)
    EVENT = "event"                # an Event on the Lead (WhoId)
    STATUS = "status"              # the Lead's Status changed (LeadHistory); ``subtype`` is the new status


@dataclass(frozen=True)
class Activity:
    """One thing Sales did to one Lead, as Salesforce recorded it. ``id`` is the Salesforce record's
    Id (the Task, the Event, the LeadHistory row): reading the same activity twice counts it once."""

    id: str
    lead_id: str
    kind: ActivityKind
    at: dt.datetime                # when it happened (CreatedDate), timezone-aware
    subtype: str | None = None     # TaskSubtype, or the new Status for a status change
    old_status: str | None = None  # for a status change: the status before
    owner_id: str | None = None    # who did it (OwnerId / CreatedById), when known
    deleted: bool = False          # in Salesforce's recycle bin (IsDeleted): it no longer counts


class SlaState(StrEnum):
    """Where one handed-over lead stands against the agreement, at a given moment."""

    ON_TIME = "on_time"            # contacted within the deadline, or not yet and not yet due soon
    DUE_SOON = "due_soon"          # not contacted; the deadline is within the warning window
    BREACHED = "breached"          # not contacted by the deadline, or first contacted after it
    CLOSED_TOO_FEW_ATTEMPTS = "closed_too_few_attempts"   # closed as not converted before Z attempts


@dataclass(frozen=True)
class TrackedLead:
    """One handed-over lead and what Sales did with it so far: the classifier's input."""

    hubspot_id: str
    lead_id: str | None
    handed_over_at: dt.datetime
    owner_id: str | None = None
    first_contact_at: dt.datetime | None = None
    attempts: int = 0
    status: str | None = None
    closed_at: dt.datetime | None = None        # closed as not converted (disqualified / unqualified)
    converted: bool = False
    parts: dict[str, bool] = field(default_factory=dict)   # definition part -> met at hand-over
    source: str | None = None
    campaign: str | None = None
    owner_name: str | None = None              # the owner's User (or queue's) Name, as last read


@dataclass(frozen=True)
class ShareRow:
    """One group's line in a report: how many leads, and the share meeting the measure."""

    key: str                       # the source, the campaign or the owner
    leads: int
    share: float | None            # 0..1, None when nothing to measure yet
    extra: dict[str, float | int | None] = field(default_factory=dict)
    label: str | None = None       # what people read for the key (an owner's name; the key stays the Id)


@dataclass(frozen=True)
class AgreementMonth:
    """One month of the agreement, both sides, as the report and the status page show it."""

    month: str                                    # "2026-11", in the agreement's time zone
    time_zone: str
    target: int                                   # X: SQLs Marketing owes per month
    delivered: int                                # SQLs handed over in the month
    part_shares: dict[str, float | None]          # definition part -> share of delivered meeting it
    by_source: list[ShareRow]
    by_campaign: list[ShareRow]
    contacted_within_share: float | None          # share first contacted within Y hours
    hours_to_first_contact: list[float]           # one per contacted lead (the distribution)
    median_hours: float | None
    p90_hours: float | None
    attempts_met_share: float | None              # of leads closed not converted: share with >= Z attempts
    by_owner: list[ShareRow]
    states: dict[str, int]                        # SlaState value -> leads in that state now
