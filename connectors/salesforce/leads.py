"""Leads in Salesforce: the lead sink of the forward leg (``syncd.core.ports.LeadSink``).

Writes go 200 records per call (sObject Collections, the maximum) with ``allOrNone: false``, so
one bad record never fails its batch: upserts by the external id for contacts with no Lead yet
(create or update, idempotent, so a replay never duplicates), updates by Id for the rest (a Lead
syncd already knows, so one deleted in Salesforce is refused rather than re-created; a Lead
matched by email; a converted Lead's Contact).
Records refused with a lock error are sent again inside the run, paced by the retry policy; if
they are still locked they come back refused, and the runner's retry queue takes them next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from simple_salesforce import format_soql

from connectors.errors import SALESFORCE, UNEXPECTED, record_retryable, remote_error
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.moves import trace_leads
from connectors.salesforce.soql import select, soql_chunks
from syncd.core.errors import TransientError
from syncd.core.records import ExistingLead, LeadWrite, RecordError, WriteResult

COLLECTION_LIMIT = 200          # sObject Collections: at most 200 records per call
LOCKED = "UNABLE_TO_LOCK_ROW"   # the record is busy (another transaction): try again shortly
UPSERT_PATH = "composite/sobjects/{sobject}/{external_id_field}"   # create or update by external id
UPDATE_PATH = "composite/sobjects"                                  # update by Id, any object type

log = structlog.get_logger("syncd.salesforce")


class _StillLocked(TransientError):
    def __init__(self, results: list[WriteResult]) -> None:
        super().__init__(SALESFORCE, "records still locked", code=LOCKED, retry_after=1.0)
        self.results = results


def _results(raw: Any, expected: int, what: str) -> list[WriteResult]:
    if not isinstance(raw, list) or len(raw) != expected or not all(isinstance(i, dict) for i in raw):
        raise remote_error(SALESFORCE, what, code=UNEXPECTED,
                           message=f"Collections answered {type(raw).__name__} for {expected} records")
    return [WriteResult(bool(item.get("success")), item.get("id"), bool(item.get("created")), tuple(
        RecordError(code, e.get("message", ""), tuple(e.get("fields") or ()), record_retryable(SALESFORCE, code))
        for e in item.get("errors") or () if isinstance(e, dict)
        for code in [str(e.get("statusCode") or "UNKNOWN_ERROR")])) for item in raw]


def _record(write: LeadWrite, sobject: str) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": {"type": "Contact" if write.kind == "contact_update" else sobject}}
    if write.target_id:
        record["Id"] = write.target_id
    record.update(write.fields)
    return record


class SalesforceLeads:
    system = SALESFORCE

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client

    def server_skew(self) -> float | None:
        return self.client.clock.skew

    # -- reads ----------------------------------------------------------------------------
    def find_leads(self, *, external_id_field: str, emails: Sequence[str] = (),
                   external_ids: Sequence[str] = (), ids: Sequence[str] = ()) -> list[ExistingLead]:
        found: list[ExistingLead] = []
        fields = select(("Id", "Email", "IsConverted", "ConvertedContactId", "CreatedDate", external_id_field))
        for where, values in (("Email", emails), (external_id_field, external_ids), ("Id", ids)):
            def render(chunk: list[str], where: str = where) -> str:
                return format_soql(f"SELECT {fields} FROM Lead WHERE {where} IN {{values}} ORDER BY CreatedDate, Id",
                                   values=chunk)

            for soql in soql_chunks(sorted({v for v in values if v}), render):
                for rows, _ in self.client.query_pages(soql, "find leads"):
                    found += [ExistingLead(row["Id"], row.get("Email"), row.get(external_id_field),
                                           bool(row.get("IsConverted")), row.get("ConvertedContactId"),
                                           row.get("CreatedDate") or "") for row in rows]
        return found

    def current_values(self, *, sobject: str, fields: Sequence[str], ids: Sequence[str] = (),
                       key_field: str = "Id") -> dict[str, dict[str, Any]]:
        """What these records hold now in ``fields``, keyed by ``key_field`` (Id, or the external id):
        one query per 200 keys, never one per record (what a dry run or a preview compares with)."""
        columns = select(("Id", key_field, *fields))
        found: dict[str, dict[str, Any]] = {}

        def render(chunk: list[str]) -> str:
            return format_soql(f"SELECT {columns} FROM {sobject} WHERE {key_field} IN {{values}}", values=chunk)

        for soql in soql_chunks(sorted({v for v in ids if v}), render):
            for rows, _ in self.client.query_pages(soql, "read current values"):
                found.update((str(row[key_field]), {k: v for k, v in row.items() if k != "attributes"})
                             for row in rows)
        return found

    def trace_leads(self, *, external_id_field: str, lead_ids: Sequence[str]) -> list[ExistingLead]:
        """These Leads, deleted ones too (queryAll), and the masters they were merged into, a few
        hops up a merge chain: one query per hop (and per 200 ids), only for Leads that moved."""
        return trace_leads(self.client, external_id_field, lead_ids)

    # -- writes ---------------------------------------------------------------------------
    def write_leads(self, writes: Sequence[LeadWrite], *, sobject: str, external_id_field: str) -> list[WriteResult]:
        """One answer per write, in order: upserts by external id in one call per 200, updates by Id
        (a known Lead, a Lead matched by email, a converted Lead's Contact) in another."""
        answers: list[WriteResult | None] = [None] * len(writes)
        for path in (UPSERT_PATH, UPDATE_PATH):
            positions = [i for i, w in enumerate(writes) if (w.kind == "upsert") == (path == UPSERT_PATH)]
            url = path.format(sobject=sobject, external_id_field=external_id_field)
            for start in range(0, len(positions), COLLECTION_LIMIT):
                chunk = positions[start:start + COLLECTION_LIMIT]
                results = self._send(url, [_record(writes[i], sobject) for i in chunk])
                for i, result in zip(chunk, results):
                    answers[i] = result
        return [a for a in answers if a is not None]

    def _send(self, path: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        """One Collections call; records refused as locked are sent again as the policy paces."""
        results: list[WriteResult] = [WriteResult(False)] * len(records)
        pending = list(range(len(records)))

        def attempt() -> list[WriteResult]:
            body = {"allOrNone": False, "records": [records[i] for i in pending]}
            what = f"write {len(pending)} records"
            raw = self.client.call(what, lambda sf: sf.restful(path, method="PATCH", json=body))
            for i, result in zip(list(pending), _results(raw, len(pending), what)):
                results[i] = result
            pending[:] = [i for i in pending if not results[i].ok and results[i].first_error is not None
                          and results[i].first_error.code == LOCKED]
            if pending:
                log.info("salesforce.record_retry", records=len(pending))
                raise _StillLocked(results)
            return results

        return self.client.policy.call("write records", attempt, on_exhausted=lambda last: (
            last.results if isinstance(last, _StillLocked) else None))
