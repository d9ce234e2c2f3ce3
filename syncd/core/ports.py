"""The four roles an external system plays for syncd, in syncd's own words.

The leg runner talks only to these; ``syncd.app`` plugs concrete connectors in. A second
marketing source (a webhook receiver, another marketing platform) is one module implementing
``ContactSource`` (and ``ContactSink`` to close the loop), plus its tests: nothing above it
changes. Every method takes plain data (filters, field lists, ids), never a mapping object, and
raises only ``syncd.core.errors`` types.

Forward: ContactSource (marketing) -> LeadSink (sales).  Back: OutcomeSource (sales) -> ContactSink
(marketing).  The agreement: ActivitySource (sales) says what Sales did to the Leads handed over.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from syncd.core.agreement import Activity
from syncd.core.records import (
    Contact,
    ContactWriteResult,
    ExistingLead,
    Filter,
    GoneContact,
    LeadWrite,
    SalesforceLead,
    WriteResult,
)
from syncd.core.window import Window


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of records from a source, and how many the whole read holds (when it says)."""

    items: list[T] = field(default_factory=list)
    total: int | None = None


@dataclass(frozen=True)
class ContactQuery:
    """Contacts meeting ``filters`` and modified inside ``window``, with these properties and the
    history of ``history``. A source may push the filters down or apply them itself."""

    filters: tuple[Filter, ...]
    window: Window
    properties: tuple[str, ...]
    history: tuple[str, ...] = ()


class ContactSource(Protocol):
    """Where leads come from (HubSpot)."""

    system: str

    def changed_contacts(self, query: ContactQuery) -> Iterator[Page[Contact]]:
        """Pages of contacts, in a stable order, each contact once. A contact may come back
        incomplete (``complete=False``: id and ``lastmodifieddate`` at least); ``read_contacts``
        completes it."""
        ...

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str],
                      history: Sequence[str] = ()) -> list[Contact]:
        """These contacts, complete, in the order asked; ids the source no longer has are left out."""
        ...

    def read_contacts_by_email(self, emails: Sequence[str], properties: Sequence[str],
                               history: Sequence[str] = ()) -> list[Contact]:
        """The contacts with these emails, complete; unknown emails are left out."""
        ...

    def server_skew(self) -> float | None:
        """The source's clock minus this host's, in seconds, from its latest answer (None before any)."""
        ...

    def archived_contacts(self) -> Iterator[Page[GoneContact]]:
        """Every contact in the source's recycle bin (deleted, still restorable), a page at a time."""
        ...

    def trace_contacts(self, ids: Sequence[str]) -> list[GoneContact]:
        """Where these contacts went, for ids the source no longer answers for: archived, deleted
        for good, or merged into another contact. Ids still live are left out."""
        ...


class LeadSink(Protocol):
    """Where leads go (Salesforce)."""

    system: str

    def find_leads(self, *, external_id_field: str, emails: Sequence[str] = (),
                   external_ids: Sequence[str] = (), ids: Sequence[str] = ()) -> list[ExistingLead]:
        """Leads whose email (case-insensitive), external id or Id is one of these."""
        ...

    def current_values(self, *, sobject: str, fields: Sequence[str], ids: Sequence[str] = (),
                       key_field: str = "Id") -> dict[str, dict[str, Any]]:
        """What these records (by Id, or by ``key_field``) hold now in ``fields``: reads only."""
        ...

    def trace_leads(self, *, external_id_field: str, lead_ids: Sequence[str]) -> list[ExistingLead]:
        """These Leads, deleted or merged away ones too, and the Leads they were merged into (a few
        hops up a merge chain)."""
        ...

    def write_leads(self, writes: Sequence[LeadWrite], *, sobject: str,
                    external_id_field: str) -> list[WriteResult]:
        """Send the writes (batched as the API allows); one answer per write, in order. A record
        the sink refuses is an answer, not an exception."""
        ...

    def server_skew(self) -> float | None:
        """The sink's clock minus this host's, in seconds, from its latest answer (None before any):
        a hand-over is dated in the sink's time, as what Sales does to the Lead is."""
        ...


@dataclass(frozen=True)
class OutcomeQuery:
    """Which Leads' outcomes to read, and which of their fields."""

    external_id_field: str                      # Leads syncd handed over carry it
    open_statuses: tuple[str, ...]              # a Lead still in one of these has no outcome yet
    reason_field: str | None = None             # Lead field: why it was disqualified
    loss_reason_field: str | None = None        # Opportunity field: why it was lost
    lead_fields: tuple[str, ...] = ()           # more Lead fields to read (beyond the standard ones)
    opportunity_fields: tuple[str, ...] = ()


class OutcomeSource(Protocol):
    """What Sales did (Salesforce)."""

    system: str

    def changed_outcomes(self, query: OutcomeQuery, window: Window) -> Iterator[Page[SalesforceLead]]:
        """Pages of handed-over Leads whose outcome may have changed inside the window (the Lead or
        its Opportunity changed), each with its Opportunity."""
        ...

    def leads_by_id(self, query: OutcomeQuery, lead_ids: Sequence[str], window: Window | None) -> list[SalesforceLead]:
        """These Leads, whether they carry the external id or not, deleted ones too, if they or their
        Opportunity changed inside the window (None: changed or not, as the retry queue reads them)."""
        ...

    def deleted_opportunities(self, window: Window) -> list[str]:
        """Ids of Opportunities deleted inside the window (a Lead's link to one does not change)."""
        ...

    def trace_leads(self, *, external_id_field: str, lead_ids: Sequence[str]) -> list[ExistingLead]:
        """As ``LeadSink.trace_leads``: where deleted or merged-away Leads went."""
        ...

    def server_skew(self) -> float | None:
        """The source's clock minus this host's, in seconds, from its latest answer (None before any)."""
        ...


class ContactSink(Protocol):
    """Where outcomes go back to (HubSpot)."""

    system: str

    def update_contacts(self, updates: Sequence[tuple[str, dict[str, str]]]) -> list[ContactWriteResult]:
        """Update properties by contact id; one answer per update, in order."""
        ...

    def current_values(self, ids: Sequence[str], name: str) -> dict[str, str | None]:
        """The property's current value per contact; ids the sink no longer has are left out."""
        ...

    def property_definitions(self) -> dict[str, dict[str, Any]]:
        """Every contact property definition by internal name (to check the targets exist)."""
        ...


@dataclass(frozen=True)
class ActivityQuery:
    """Which of Sales' activities on Leads to read (the agreement's ``attempts.count``)."""

    task_subtypes: tuple[str, ...] = ("Call", "Email")   # Tasks with these TaskSubtype values
    events: bool = True                                  # Events on Leads
    status_changes: bool = True                          # Lead Status changes (LeadHistory)
    working_statuses: tuple[str, ...] = ()               # a change to one of these counts as an attempt


class ActivitySource(Protocol):
    """What Sales did to Leads (Salesforce): the agreement's first contacts and attempts."""

    system: str

    def lead_activities(self, query: ActivityQuery, window: Window) -> Iterator[Page[Activity]]:
        """Pages of activities on Leads recorded inside the window (Tasks and Events by WhoId,
        status changes from the Lead's field history), oldest first; each activity once. A Task or
        Event deleted in the window comes too, ``deleted`` (the store removes it)."""
        ...

    def server_skew(self) -> float | None:
        """The source's clock minus this host's, in seconds, from its latest answer (None before any)."""
        ...


@dataclass(frozen=True)
class TaskWrite:
    """A Task to create in Salesforce for a Lead's owner (the agreement's alerts)."""

    who_id: str                                          # the Lead
    subject: str                                         # with the Lead, what finds it again after a crash
    owner_id: str | None = None                          # None: Salesforce's default (the integration user)
    description: str | None = None
    activity_date: str | None = None                     # YYYY-MM-DD: due


class TaskSink(Protocol):
    """Where the agreement's alert Tasks go (Salesforce)."""

    system: str

    def find_tasks(self, who_ids: Sequence[str], subjects: Sequence[str]) -> dict[tuple[str, str], str]:
        """Tasks on these Leads with one of these subjects: (WhoId, Subject) -> Task Id."""
        ...

    def create_tasks(self, tasks: Sequence[TaskWrite]) -> list[WriteResult]:
        """Create the Tasks (200 a call); one answer per Task, in order; a refusal is an answer."""
        ...


class Progress(Protocol):
    """What a person watching a run sees move (the CLI's progress bar)."""

    def started(self, total: int | None) -> None: ...
    def read(self, records: int, total: int | None) -> None: ...
    def written(self, records: int) -> None: ...
    def working(self) -> None:
        """The cycle works between a read and a write (templates render): not stuck, just busy."""


class NoProgress:
    def started(self, total: int | None) -> None:
        pass

    def working(self) -> None:
        pass

    def read(self, records: int, total: int | None) -> None:
        pass

    def written(self, records: int) -> None:
        pass
