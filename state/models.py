"""The state tables. Natural keys everywhere, so every write is an idempotent upsert.

Forward leg: ``links`` (contact <-> Lead, the last accepted payload), ``rejections``,
``contact_moves`` (contacts merged, archived or deleted since). The agreement:
``lead_activities`` (what Sales did to handed-over Leads), ``lead_owners``, ``owner_names``, ``agreement_alerts``. Back leg:
``outcomes`` (what Sales did, as last observed), ``feedback_rejections``. Both: ``cursors``,
``runs``. One syncer per pipeline: ``leases``. ``schema_version`` records migrations.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class LinkRow(SQLModel, table=True):
    """HubSpot contact <-> Salesforce record, and the hash of the last payload Salesforce accepted."""

    __tablename__ = "links"
    pipeline: str = Field(primary_key=True, max_length=64)
    hubspot_id: str = Field(primary_key=True, max_length=32)
    lead_id: str | None = Field(default=None, max_length=18, index=True)
    contact_id: str | None = Field(default=None, max_length=18)
    converted: bool = False
    payload_hash: str | None = Field(default=None, max_length=64)
    # Marketing attribution at hand-over: what the closed-loop report groups by.
    source: str | None = Field(default=None, max_length=255)
    campaign: str | None = Field(default=None, max_length=255)
    content: str | None = Field(default=None, max_length=255)
    first_synced_at: dt.datetime = Field(default_factory=utcnow)   # handed over to Sales
    last_synced_at: dt.datetime = Field(default_factory=utcnow)
    # What the accepted payload was rendered from (schema v3): a contact whose lastmodifieddate and
    # mapping are the same again cannot render differently, so it need not be read in full.
    source_modified: str | None = Field(default=None, max_length=32)
    mapping_fp: str | None = Field(default=None, max_length=16)
    # Records that move (schema v4). ``lead_moved``: "deleted" (the Lead was deleted in Salesforce
    # without a master: unlinked, ``lead_id`` is NULL) or "held" (merged into a Lead that carries
    # another contact's id: linked to it, writes held); ``former_lead_id``: the Lead before it moved.
    # ``lead_unmarked``: the Lead does not carry our external id (found by email already converted,
    # or a merge master), so the back leg reads it by Id; NULL: not known (links older than v4).
    lead_moved: str | None = Field(default=None, max_length=16)
    former_lead_id: str | None = Field(default=None, max_length=18)
    lead_unmarked: bool | None = None
    # The agreement (schema v5): which parts of the lead definition the contact met when it was
    # handed over ({"persona": true, "need": false, …}); NULL when no agreement was configured.
    agreement_parts: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ContactMoveRow(SQLModel, table=True):
    """A HubSpot contact that moved (schema v4): merged into another (its link moved there, or its
    Lead got the archived action), archived, or deleted for good, and what syncd did about it. A
    merged-away id is never written again; an archived one that comes back is noticed as restored."""

    __tablename__ = "contact_moves"
    pipeline: str = Field(primary_key=True, max_length=64)
    hubspot_id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=16)                 # archived | deleted | merged
    action: str = Field(max_length=16)               # moved | leave | mark | unlink
    lead_id: str | None = Field(default=None, max_length=18)
    into: str | None = Field(default=None, max_length=32)   # merged: the surviving contact
    noticed_at: dt.datetime = Field(default_factory=utcnow)
    run_id: str | None = Field(default=None, max_length=36)


class LeadActivityRow(SQLModel, table=True):
    """One thing Sales did to a handed-over Lead (schema v5): a Task, an Event, a status change, as
    Salesforce recorded it. Keyed by the Salesforce record's Id, so reading it twice stores it once;
    the agreement's first contact and attempts are counted from these rows."""

    __tablename__ = "lead_activities"
    pipeline: str = Field(primary_key=True, max_length=64)
    activity_id: str = Field(primary_key=True, max_length=18)
    lead_id: str = Field(max_length=18, index=True)
    kind: str = Field(max_length=8)                  # task | event | status (syncd.core.agreement.ActivityKind)
    subtype: str | None = Field(default=None, max_length=255)   # TaskSubtype, or the new Status
    old_status: str | None = Field(default=None, max_length=255)
    owner_id: str | None = Field(default=None, max_length=18)
    at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LeadOwnerRow(SQLModel, table=True):
    """Who owns a handed-over Lead, and its status, as read by the tracking step (schema v5) for
    Leads the back leg does not read (nobody worked them yet): the agreement's report groups by
    owner and its alerts go to the owner. ``owner_id`` NULL: Salesforce no longer has the Lead."""

    __tablename__ = "lead_owners"
    pipeline: str = Field(primary_key=True, max_length=64)
    lead_id: str = Field(primary_key=True, max_length=18)
    owner_id: str | None = Field(default=None, max_length=18)
    status: str | None = Field(default=None, max_length=255)
    read_at: dt.datetime = Field(default_factory=utcnow)


class OwnerNameRow(SQLModel, table=True):
    """The name of a Lead owner (a User, or a queue: a Group), as read by the tracking step, so the
    agreement's report says who, not which Id. Created by create_all (schema v5 still); re-read at
    most once a day. ``name`` NULL: Salesforce had no User or queue with that Id when read."""

    __tablename__ = "owner_names"
    pipeline: str = Field(primary_key=True, max_length=64)
    owner_id: str = Field(primary_key=True, max_length=18)
    name: str | None = Field(default=None, max_length=255)
    read_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AgreementAlertRow(SQLModel, table=True):
    """An agreement alert raised for one handed-over contact (schema v5): at most one per contact and
    state (due_soon, breached, closed_too_few_attempts), so a lead is alerted once, not every cycle.
    ``task_id``: the Salesforce Task created for the owner, when that is switched on."""

    __tablename__ = "agreement_alerts"
    pipeline: str = Field(primary_key=True, max_length=64)
    hubspot_id: str = Field(primary_key=True, max_length=32)
    state: str = Field(primary_key=True, max_length=32)
    lead_id: str | None = Field(default=None, max_length=18)
    raised_at: dt.datetime = Field(default_factory=utcnow)
    task_id: str | None = Field(default=None, max_length=18)


class CursorRow(SQLModel, table=True):
    """How far a stream has been read and written. Advanced only after the writes it covers."""

    __tablename__ = "cursors"
    pipeline: str = Field(primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=64)
    value: str
    updated_at: dt.datetime = Field(default_factory=utcnow)


class RejectionColumns(SQLModel):
    """A record the remote system refused, with its error code. Cleared when a later write
    succeeds. Both legs keep one table of these (same columns, see StateStore.write_rejections)."""

    pipeline: str = Field(primary_key=True, max_length=64)
    hubspot_id: str = Field(primary_key=True, max_length=32)
    code: str = Field(max_length=80)
    message: str
    payload_hash: str | None = Field(default=None, max_length=64)
    retryable: bool = False
    attempts: int = 1
    first_seen_at: dt.datetime = Field(default_factory=utcnow)
    last_seen_at: dt.datetime = Field(default_factory=utcnow)
    run_id: str | None = Field(default=None, max_length=36)


class RejectionRow(RejectionColumns, table=True):
    __tablename__ = "rejections"


class OutcomeRow(SQLModel, table=True):
    """What Sales did with one handed-over contact, as last observed in Salesforce."""

    __tablename__ = "outcomes"
    pipeline: str = Field(primary_key=True, max_length=64)
    hubspot_id: str = Field(primary_key=True, max_length=32)
    lead_id: str | None = Field(default=None, max_length=18)
    lead_status: str | None = Field(default=None, max_length=255)
    disqualified_reason: str | None = Field(default=None, max_length=255)
    converted: bool = False
    opportunity_id: str | None = Field(default=None, max_length=18, index=True)
    stage: str | None = Field(default=None, max_length=255)
    closed: bool = False
    won: bool = False
    amount: float | None = None
    close_date: str | None = Field(default=None, max_length=10)
    loss_reason: str | None = Field(default=None, max_length=255)
    outcome: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=255)
    first_contacted_at: dt.datetime | None = None     # first seen out of the open statuses
    outcome_at: dt.datetime | None = None             # first seen with the current outcome
    closed_at: dt.datetime | None = None              # first seen closed (won or lost)
    lead_fields: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    opportunity_fields: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    feedback_hash: str | None = Field(default=None, max_length=64)   # last payload HubSpot accepted
    updated_at: dt.datetime = Field(default_factory=utcnow)


class FeedbackRejectionRow(RejectionColumns, table=True):
    """A contact HubSpot refused an outcome for. Cleared when a later write succeeds."""

    __tablename__ = "feedback_rejections"


class RunRow(SQLModel, table=True):
    __tablename__ = "runs"
    id: str = Field(primary_key=True, max_length=36)
    pipeline: str = Field(index=True, max_length=64)
    started_at: dt.datetime = Field(default_factory=utcnow, index=True)
    finished_at: dt.datetime | None = None
    status: str = Field(default="running", max_length=32)   # running, ok, partial, failed, interrupted
    dry_run: bool = False
    leg: str = Field(default="forward", max_length=8)      # forward (leads to Salesforce) or back (outcomes)
    counts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = None


class SchemaVersionRow(SQLModel, table=True):
    __tablename__ = "schema_version"
    version: int = Field(primary_key=True)
    applied_at: dt.datetime = Field(default_factory=utcnow)


class LeaseRow(SQLModel, table=True):
    """Who may sync a pipeline right now (``state.lease``)."""

    __tablename__ = "leases"
    pipeline: str = Field(primary_key=True, max_length=64)
    token: str = Field(max_length=36)                # identifies one holder; never shown
    holder: str = Field(max_length=255)              # hostname:pid
    host_key: str | None = Field(default=None, max_length=255)  # hostname + PID namespace
    kind: str = Field(max_length=16)                 # daemon | once
    acquired_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    heartbeat_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    next_run_at: dt.datetime | None = Field(default=None,
                                            sa_column=Column(DateTime(timezone=True), nullable=True))
