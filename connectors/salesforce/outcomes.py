"""What Sales did: the outcome source of the back leg (``syncd.core.ports.OutcomeSource``).

One SOQL query, read 2,000 rows a page, returns every handed-over Lead (the external id is set)
whose outcome may have changed in the window, *with* the Opportunity it was converted into,
through the Lead's ``ConvertedOpportunity`` relationship:

- the window is ``SystemModstamp >= start`` (it moves on every change, system ones too), of the
  Lead **or** of its Opportunity, with no upper bound (the cursor takes Salesforce's own time), so a moved or reopened Opportunity brings back every Lead
  converted into it, even when the Leads themselves did not change;
- a Lead still in an open status, not converted and last touched by syncd's own user has no
  outcome that could have changed (it is one syncd just created or updated), so the query leaves
  it out; a Lead a person moved back to an open status is still read (its outcome is cleared).

The query goes through ``queryAll``, so a Lead deleted or merged away in the window comes back
too (``IsDeleted``, ``MasterRecordId``; the delete moves its SystemModstamp) at no extra call.
Two reads only run when there is something for them: Leads linked to a contact that do not carry
its external id (found by email already converted, or a merge master) are read by Id in the same
window terms (``leads_by_id``), and Opportunities deleted in the window (a Lead's
``ConvertedOpportunityId`` stays, its relationship reads null, its SystemModstamp does not move)
are listed by one queryAll (``deleted_opportunities``) so their Leads can be read again.

So a cycle with nothing to report costs two queries, and a first sync of N Leads costs no extra
reads. Every literal goes through ``simple_salesforce.format_soql``; field names come from the
validated mapping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from simple_salesforce import format_soql

from connectors.errors import SALESFORCE
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.moves import trace_leads
from connectors.salesforce.soql import select, soql_chunks
from syncd.core.ports import OutcomeQuery, Page
from syncd.core.records import ExistingLead, SalesforceLead, SalesforceOpportunity, parse_datetime
from syncd.core.window import Window

# OwnerId: the agreement's report groups by owner and its alerts go to the owner (kept in the outcome's
# lead_fields, so a Lead reassigned and worked is seen with its new owner).
LEAD_FIELDS = ("Id", "Status", "IsConverted", "ConvertedOpportunityId", "ConvertedDate", "LastModifiedDate",
               "SystemModstamp", "IsDeleted", "MasterRecordId", "OwnerId")
OPPORTUNITY_FIELDS = ("Id", "StageName", "IsClosed", "IsWon", "Amount", "CloseDate", "LastModifiedDate",
                      "SystemModstamp")
RELATIONSHIP = "ConvertedOpportunity"


def _fields(query: OutcomeQuery) -> str:
    lead = [*LEAD_FIELDS, query.external_id_field, *filter(None, [query.reason_field]), *query.lead_fields]
    opportunity = [f"{RELATIONSHIP}.{name}" for name in dict.fromkeys(
        [*OPPORTUNITY_FIELDS, *filter(None, [query.loss_reason_field]), *query.opportunity_fields])]
    return select([*lead, *opportunity])


def _in_window(window: Window) -> tuple[str, dict[str, dt.datetime]]:
    """Changed since the window's start. No upper bound: the window's end is where the cursor
    goes (Salesforce's time when the window opened); what changes while the run reads is read
    now and again by the next run, never lost to a clock that disagrees."""
    if window.start is None:
        return "", {}
    return (f" AND (SystemModstamp >= {{start}} OR {RELATIONSHIP}.SystemModstamp >= {{start}})",
            {"start": window.start})


def outcome_soql(query: OutcomeQuery, window: Window, user_id: str | None) -> str:
    """The query for one window (see the module docstring)."""
    clause, values = _in_window(window)
    maybe = ""
    if query.open_statuses and user_id:
        maybe = " AND (Status NOT IN {open} OR IsConverted = true OR IsDeleted = true OR LastModifiedById != {me})"
        values = {**values, "open": list(query.open_statuses), "me": user_id}
    return format_soql(f"SELECT {_fields(query)} FROM Lead WHERE {query.external_id_field} != null{clause}"
                       f"{maybe} ORDER BY SystemModstamp, Id", **values)


def _modified(row: dict[str, Any]) -> dt.datetime:
    moment = parse_datetime(row.get("LastModifiedDate")) or parse_datetime(row.get("SystemModstamp"))
    return moment or dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "attributes" and not isinstance(v, dict)}


class SalesforceOutcomes:
    system = SALESFORCE

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client

    @staticmethod
    def _opportunity(row: Any, loss_field: str | None) -> SalesforceOpportunity | None:
        if not isinstance(row, dict) or not row.get("Id"):
            return None
        amount = row.get("Amount")
        return SalesforceOpportunity(
            id=row["Id"], stage=row.get("StageName"), closed=bool(row.get("IsClosed")), won=bool(row.get("IsWon")),
            amount=float(amount) if amount is not None else None, close_date=row.get("CloseDate"),
            loss_reason=row.get(loss_field) if loss_field else None, modified_at=_modified(row), fields=_plain(row))

    def _lead(self, row: dict[str, Any], query: OutcomeQuery) -> SalesforceLead:
        reason_field = query.reason_field
        opportunity = self._opportunity(row.get(RELATIONSHIP), query.loss_reason_field)
        return SalesforceLead(
            id=row["Id"], hubspot_id=str(row.get(query.external_id_field) or ""), status=row.get("Status"),
            reason=row.get(reason_field) if reason_field else None, converted=bool(row.get("IsConverted")),
            # A deleted Opportunity leaves ConvertedOpportunityId set and the relationship null: the
            # Lead then has no Opportunity (its outcome is what the Lead alone says, never a stale "won").
            opportunity_id=opportunity.id if opportunity is not None else None,
            modified_at=_modified(row), fields=_plain(row), opportunity=opportunity,
            deleted=bool(row.get("IsDeleted")), master_id=row.get("MasterRecordId") or None)

    def server_skew(self) -> float | None:
        return self.client.clock.skew

    def changed_outcomes(self, query: OutcomeQuery, window: Window) -> Iterator[Page[SalesforceLead]]:
        soql = outcome_soql(query, window, self.client.user_id)
        for rows, total in self.client.query_pages(soql, "read outcomes", include_deleted=True):
            yield Page([self._lead(row, query) for row in rows], total)

    def leads_by_id(self, query: OutcomeQuery, lead_ids: Sequence[str], window: Window | None) -> list[SalesforceLead]:
        """These Leads (deleted ones too), carrying the external id or not, changed in the window
        (None: changed or not)."""
        clause, values = _in_window(window) if window is not None else ("", {})

        def render(chunk: list[str]) -> str:
            return format_soql(f"SELECT {_fields(query)} FROM Lead WHERE Id IN {{ids}}{clause}", ids=chunk, **values)

        return [self._lead(row, query) for soql in soql_chunks(sorted(set(lead_ids)), render)
                for rows, _ in self.client.query_pages(soql, "read outcomes of leads by id", include_deleted=True)
                for row in rows]

    def deleted_opportunities(self, window: Window) -> list[str]:
        if window.start is None:      # a first run has no outcome to take back
            return []
        soql = format_soql("SELECT Id FROM Opportunity WHERE IsDeleted = true AND SystemModstamp >= {start}",
                           start=window.start)
        return [row["Id"] for rows, _ in self.client.query_pages(soql, "read deleted opportunities",
                                                                 include_deleted=True) for row in rows]

    def trace_leads(self, *, external_id_field: str, lead_ids: Sequence[str]) -> list[ExistingLead]:
        return trace_leads(self.client, external_id_field, lead_ids)
