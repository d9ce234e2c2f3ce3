"""Reading what Sales did: syncd-linked Leads and their Opportunities, incrementally, by SOQL.

- **Leads**: one query for every Lead carrying the external id syncd fills, modified inside the
  closed window ``SystemModstamp >= start AND <= end``, ordered by ``SystemModstamp, Id``, read a
  page of 2,000 at a time (``nextRecordsUrl``). ``SystemModstamp`` moves on every change,
  including system ones, so nothing a person or an automation does is missed.
- **Opportunities**: by the converted-opportunity ids syncd knows, ``Id IN (...)`` 1,000 ids per
  query (about 21,000 characters, far below SOQL's 100,000), with the same window so a moved or
  reopened Opportunity is followed. An Opportunity the Lead points to for the first time is read
  whatever its ``SystemModstamp`` (a Lead can be converted into an older Opportunity).

Every literal goes through ``simple_salesforce.format_soql``; field names come from the
validated mapping. No semi-joins, so the same queries work on every org (and the emulator).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from simple_salesforce import format_soql

from connectors.salesforce import SalesforceConnector, soql_chunks
from syncd.core.window import Window
from syncd.core.records import SalesforceLead, SalesforceOpportunity, parse_datetime
from syncd.mapping.feedback import Feedback

OPPORTUNITY_ID_CHUNK = 1000   # at most; soql_chunks also keeps each query's URI short enough
LEAD_FIELDS = ("Id", "Status", "IsConverted", "ConvertedOpportunityId", "ConvertedDate", "LastModifiedDate",
               "SystemModstamp")
OPPORTUNITY_FIELDS = ("Id", "StageName", "IsClosed", "IsWon", "Amount", "CloseDate", "LastModifiedDate",
                      "SystemModstamp")


def _select(base: Iterable[str], extra: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*base, *extra]))


def _window(window: Window) -> tuple[str, dict[str, dt.datetime]]:
    clause, values = "SystemModstamp <= {end}", {"end": window.end}
    if window.start is not None:
        clause, values = "SystemModstamp >= {start} AND " + clause, {**values, "start": window.start}
    return clause, values


def _modified(row: dict[str, Any]) -> dt.datetime:
    moment = parse_datetime(row.get("LastModifiedDate")) or parse_datetime(row.get("SystemModstamp"))
    return moment or dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "attributes"}


def lead_soql(external_id_field: str, feedback: Feedback, window: Window) -> str:
    fields = _select((*LEAD_FIELDS, external_id_field), feedback.lead_fields())
    clause, values = _window(window)
    return format_soql(f"SELECT {', '.join(fields)} FROM Lead WHERE {external_id_field} != null AND {clause} "
                       "ORDER BY SystemModstamp, Id", **values)


def opportunity_soql(feedback: Feedback, ids: Sequence[str], window: Window | None) -> str:
    fields = _select(OPPORTUNITY_FIELDS, feedback.opportunity_fields())
    clause, values = _window(window) if window is not None else ("", {})
    return format_soql(f"SELECT {', '.join(fields)} FROM Opportunity WHERE Id IN {{ids}}"
                       + (f" AND {clause}" if clause else ""), ids=list(ids), **values)


class OutcomeReader:
    def __init__(self, salesforce: SalesforceConnector, *, external_id_field: str, feedback: Feedback) -> None:
        self.salesforce = salesforce
        self.external_id_field = external_id_field
        self.feedback = feedback

    def _lead(self, row: dict[str, Any]) -> SalesforceLead:
        reason_field = self.feedback.lead.reason_field
        return SalesforceLead(
            id=row["Id"], hubspot_id=str(row.get(self.external_id_field) or ""), status=row.get("Status"),
            reason=row.get(reason_field) if reason_field else None, converted=bool(row.get("IsConverted")),
            opportunity_id=row.get("ConvertedOpportunityId") or None, modified_at=_modified(row),
            fields=_plain(row))

    def lead_pages(self, window: Window) -> Iterator[list[SalesforceLead]]:
        """syncd-linked Leads changed inside the window, a page at a time."""
        for rows in self.salesforce.query_pages(lead_soql(self.external_id_field, self.feedback, window)):
            yield [self._lead(row) for row in rows]

    def leads_by_id(self, ids: Iterable[str]) -> list[SalesforceLead]:
        """These Leads, changed or not (the retry queue), in as few queries as fit a URI."""
        fields = _select((*LEAD_FIELDS, self.external_id_field), self.feedback.lead_fields())
        render = lambda chunk: format_soql(  # noqa: E731
            f"SELECT {', '.join(fields)} FROM Lead WHERE {self.external_id_field} != null AND Id IN {{ids}}",
            ids=chunk)
        return [self._lead(row) for soql in soql_chunks(sorted(set(ids)), render)
                for rows in self.salesforce.query_pages(soql) for row in rows]

    def opportunities(self, ids: Iterable[str], window: Window | None) -> list[SalesforceOpportunity]:
        """These Opportunities (only those changed inside ``window`` when one is given)."""
        wanted = sorted(set(ids))
        loss_field = self.feedback.opportunity.loss_reason_field
        found: list[SalesforceOpportunity] = []
        for soql in soql_chunks(wanted, lambda chunk: opportunity_soql(self.feedback, chunk, window),
                                most=OPPORTUNITY_ID_CHUNK):
            for rows in self.salesforce.query_pages(soql):
                for row in rows:
                    amount = row.get("Amount")
                    found.append(SalesforceOpportunity(
                        id=row["Id"], stage=row.get("StageName"), closed=bool(row.get("IsClosed")),
                        won=bool(row.get("IsWon")), amount=float(amount) if amount is not None else None,
                        close_date=row.get("CloseDate"), loss_reason=row.get(loss_field) if loss_field else None,
                        modified_at=_modified(row), fields=_plain(row)))
        return found
