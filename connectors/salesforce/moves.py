"""Leads that moved: read deleted and merged-away Leads (queryAll) and the masters they went to.

Salesforce keeps a deleted record in the recycle bin (15 days) with ``IsDeleted``; a merge
deletes the losers and sets their ``MasterRecordId``. Neither shows to ``query``; both show to
``queryAll`` (simple_salesforce: ``include_deleted=True``). Shared by the forward leg (a write
refused with ``ENTITY_IS_DELETED``) and the back leg (its outcome query saw the deletion).
"""

from __future__ import annotations

from collections.abc import Sequence

from simple_salesforce import format_soql

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.soql import select, soql_chunks
from syncd.core.records import ExistingLead

MAX_HOPS = 5          # the planner follows at most this many merges (syncd.plan.lead_moves.MAX_HOPS)
FIELDS = ("Id", "Email", "IsConverted", "ConvertedContactId", "CreatedDate", "IsDeleted", "MasterRecordId")


def trace_leads(client: SalesforceClient, external_id_field: str, lead_ids: Sequence[str]) -> list[ExistingLead]:
    """The Leads with these Ids, live or deleted, then their masters' masters..., up to MAX_HOPS."""
    fields = select((*FIELDS, external_id_field))
    found: dict[str, ExistingLead] = {}
    pending = sorted({i for i in lead_ids if i})
    for _ in range(MAX_HOPS + 1):
        if not pending:
            break

        def render(chunk: list[str]) -> str:
            return format_soql(f"SELECT {fields} FROM Lead WHERE Id IN {{ids}}", ids=chunk)

        for soql in soql_chunks(pending, render):
            for rows, _ in client.query_pages(soql, "trace leads", include_deleted=True):
                for row in rows:
                    found[row["Id"]] = ExistingLead(
                        row["Id"], row.get("Email"), row.get(external_id_field), bool(row.get("IsConverted")),
                        row.get("ConvertedContactId"), row.get("CreatedDate") or "", bool(row.get("IsDeleted")),
                        row.get("MasterRecordId") or None)
        pending = sorted({lead.master_id for lead in found.values()
                          if lead.deleted and lead.master_id and lead.master_id not in found})
    return list(found.values())
