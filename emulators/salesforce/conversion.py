"""Lead conversion, as a salesperson does it in Salesforce (there is no REST resource for it;
the control API offers it so tests and the benchmark can close Leads).

One conversion writes, all or nothing: an Account (from Company, unless an existing one is
named), a Contact copying the Lead's same-named, same-typed fields, an Opportunity when asked
for (its fields override the defaults), and the Lead marked converted (IsConverted,
ConvertedDate, Status, Converted*Id). Every write is made as ``user_id``, so ``LastModifiedById``
tells syncd's own writes from Sales' work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from emulators.salesforce.errors import SalesforceEmulatorError, err
from emulators.salesforce.store import RecordStore


def convert_lead(store: RecordStore, lead_id: str, *, user_id: str | None,
                 opportunity: dict[str, Any] | None = None,
                 account_id: str | None = None) -> dict[str, str | None]:
    lead_obj = store.obj("Lead")
    lead, error = store.lookup_for_write(lead_obj, lead_id)
    if error:
        raise SalesforceEmulatorError([error])
    assert lead is not None
    if lead.get("IsConverted"):
        raise SalesforceEmulatorError([err("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")])
    journal: list[tuple] = []
    now = store.now()
    try:
        if account_id is None:
            name = lead.get("Company") or lead.get("LastName")
            account_id = store.write_or_raise(store.obj("Account"), {"Name": name, "OwnerId": lead.get("OwnerId")},
                                              journal, user_id)
        contact_obj = store.obj("Contact")
        contact_values: dict[str, Any] = {"AccountId": account_id}
        for fd in contact_obj.fields.values():
            if not fd.createable or fd.name in ("AccountId",):
                continue
            src = lead_obj.field(fd.name)
            if src is not None and lead.get(src.name) is not None and src.type == fd.type:
                contact_values[fd.name] = lead.get(src.name)
        contact_id = store.write_or_raise(contact_obj, contact_values, journal, user_id)
        opportunity_id = None
        if opportunity is not None:
            opp_obj = store.obj("Opportunity")
            defaults: dict[str, Any] = {
                "Name": f"{lead.get('Company') or lead.get('LastName')}-",
                "StageName": "Qualification",
                "CloseDate": (now + dt.timedelta(days=30)).date(),
                "AccountId": account_id,
                "OwnerId": lead.get("OwnerId"),
                "LeadSource": lead.get("LeadSource"),
            }
            defaults.update(store.control_prepare(opp_obj, opportunity, allow_id=False))
            opportunity_id = store.write_or_raise(opp_obj, defaults, journal, user_id)
        store.write(lead_obj, {
            "IsConverted": True,
            "ConvertedDate": now.date(),
            "Status": "Closed - Converted",
            "ConvertedAccountId": account_id,
            "ConvertedContactId": contact_id,
            "ConvertedOpportunityId": opportunity_id,
        }, existing=lead, user_id=user_id, journal=journal, validate=False)
    except SalesforceEmulatorError:
        store.rollback(journal)
        raise
    return {"account_id": account_id, "contact_id": contact_id, "opportunity_id": opportunity_id}
