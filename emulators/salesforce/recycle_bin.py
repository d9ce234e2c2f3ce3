"""The recycle bin, as Salesforce keeps it: a deleted record (REST ``DELETE /sobjects/{type}/{id}``,
a merge) stays with ``IsDeleted = true`` and a new ``SystemModstamp``, seen by ``queryAll`` only
(``RecordStore.delete``), until it is restored. Restoring (``undelete``) is SOAP ``undelete()``,
Apex ``undelete`` or the UI's Recycle Bin; the REST API has none, so tests reach it through here.

A restored record is live again (``IsDeleted = false``, indexed again) and its ``SystemModstamp``
moves, so a reader of a ``SystemModstamp`` window sees it come back.
"""

from __future__ import annotations

from typing import Any

from emulators.salesforce.errors import SalesforceEmulatorError, err
from emulators.salesforce.ids import normalize_id
from emulators.salesforce.store import RecordStore


def undelete(store: RecordStore, sobject: str, record_id: Any) -> None:
    """Restore one record from the recycle bin (the caller holds the emulator's lock).
    ``UNDELETE_FAILED`` for a record that is not in the recycle bin, as SOAP ``undelete()`` answers."""
    obj = store.obj(sobject)
    rid = normalize_id(record_id) if isinstance(record_id, str) else None
    rec = store.records[obj.name].get(rid) if rid else None
    if rec is None:
        raise SalesforceEmulatorError([err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")])
    if not rec.get("IsDeleted"):
        raise SalesforceEmulatorError([err("UNDELETE_FAILED", "Entity is not in the recycle bin")])
    now = store.now()
    new = {**rec, "IsDeleted": False, "SystemModstamp": now, "LastModifiedDate": now}
    store.records[obj.name][rec["Id"]] = new
    store.reindex(obj, rec, new)
