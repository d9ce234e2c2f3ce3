"""The state tables. Natural keys everywhere, so every write is an idempotent upsert."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column
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
