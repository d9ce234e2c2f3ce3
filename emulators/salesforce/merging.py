"""Merging Leads, as Salesforce does it (Apex ``merge``, SOAP ``merge()``, the UI; the REST API
has none, so the control API offers it to tests and the demo).

Up to three records of one type become one: the master keeps its own field values (a caller who
wants a loser's value sets it on the master first), the losers are deleted with
``MasterRecordId`` set to the master, and every record's ``SystemModstamp`` moves. A converted
Lead is read-only, so it cannot be the master (``CANNOT_UPDATE_CONVERTED_LEAD``); Salesforce
lets a converted loser merge into an unconverted master (Knowledge Article 005123891).
"""

from __future__ import annotations

from emulators.salesforce.errors import SalesforceEmulatorError, err
from emulators.salesforce.ids import normalize_id
from emulators.salesforce.store import RecordStore

MAX_LOSERS = 2      # "You can merge up to three records of the same sObject type"


def merge_leads(store: RecordStore, master_id: str, loser_ids: list[str], *, user_id: str | None) -> dict[str, object]:
    lead_obj = store.obj("Lead")
    if not loser_ids or len(loser_ids) > MAX_LOSERS:
        raise SalesforceEmulatorError([err("INVALID_OPERATION", f"A single merge request must contain at least one "
                                           f"and at most {MAX_LOSERS} records to merge, got {len(loser_ids)}")])
    master, error = store.lookup_for_write(lead_obj, master_id)
    if error:
        raise SalesforceEmulatorError([error])
    assert master is not None
    if master.get("IsConverted"):
        raise SalesforceEmulatorError([err("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")])
    losers = []
    for raw in loser_ids:
        loser, error = store.lookup_for_write(lead_obj, raw)
        if error:
            raise SalesforceEmulatorError([error])
        assert loser is not None
        if loser["Id"] == master["Id"] or any(loser["Id"] == seen["Id"] for seen in losers):
            raise SalesforceEmulatorError([err("INVALID_ID_FIELD", f"duplicate id in merge: {normalize_id(raw)}")])
        losers.append(loser)
    journal: list[tuple] = []
    # The master is saved (its values unchanged): its LastModifiedDate and SystemModstamp move.
    store.write(lead_obj, {}, existing=master, user_id=user_id, journal=journal, validate=False)
    for loser in losers:
        store.write(lead_obj, {"MasterRecordId": master["Id"]}, existing=loser, user_id=user_id, journal=journal,
                    validate=False)
        store.delete(lead_obj, loser["Id"], journal)
    return {"master": master["Id"], "merged": [loser["Id"] for loser in losers]}
