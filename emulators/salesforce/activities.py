"""What Sales did, in the emulated org: Task and Event (activities on a Lead or a Contact through
the polymorphic ``WhoId``), LeadHistory (field history, read-only), and ``Name``, the object a
polymorphic relationship points at.

- **Task** and **Event** are created through the REST API (``/sobjects/Task``, sObject
  Collections) like any record; ``TaskSubtype`` (Call, Email, Task, ListEmail, Cadence, LinkedIn)
  is set on create only, ``Task`` when not given.
- **LeadHistory** rows are written by the org, never through the API (a create or update is
  refused with ``INVALID_TYPE_FOR_OPERATION``): one row per tracked field a Lead write changes
  (field history tracking on ``Status``, as an admin sets it up), at the write's time
  (``LastModifiedDate`` when the control API gives one), by the acting user. Its ``OldValue`` and
  ``NewValue`` are anyType in Salesforce (not filterable); here they are strings, filterable.
- **Name**: ``Who.Type``, ``Who.Name`` and ``Who.Id`` resolve a polymorphic reference (``WhoId``) to
  the record it points at, whatever its type, so ``WHERE Who.Type = 'Lead'`` works as in SOQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from emulators.salesforce.errors import err
from emulators.salesforce.schema import NAME, FieldDef, Schema, SObjectDef

TASK_SUBTYPES = ("Call", "Email", "Task", "ListEmail", "Cadence", "LinkedIn")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_PRIORITIES = ("High", "Normal", "Low")
KEY_PREFIXES = {"Task": "00T", "Event": "00U", "LeadHistory": "017"}
HISTORY = {"Lead": ("LeadHistory", "LeadId")}   # object -> its history object and parent field
TRACKED = {"Lead": ("Status",)}                 # fields with history tracking on (Setup, per field)
READ_ONLY_OBJECTS = frozenset({"LeadHistory", NAME})
_RO = dict(createable=False, updateable=False)


def _common(sobject: str, *, modified: bool = True, owner: bool = True) -> list[FieldDef]:
    fields = [
        FieldDef("Id", "id", label=f"{sobject} ID", **_RO),
        FieldDef("IsDeleted", "boolean", label="Deleted", **_RO),
        FieldDef("CreatedDate", "datetime", nillable=False, **_RO),
        FieldDef("CreatedById", "reference", reference_to=("User",), nillable=False, **_RO),
    ]
    if modified:
        fields += [FieldDef("LastModifiedDate", "datetime", nillable=False, **_RO),
                   FieldDef("LastModifiedById", "reference", reference_to=("User",), nillable=False, **_RO),
                   FieldDef("SystemModstamp", "datetime", nillable=False, **_RO)]
    if owner:
        fields.append(FieldDef("OwnerId", "reference", reference_to=("User",), nillable=False,
                               label="Assigned To ID"))
    return fields


def _who() -> FieldDef:
    return FieldDef("WhoId", "reference", reference_to=("Contact", "Lead"), relationship_name="Who",
                    label="Name ID")


def activity_objects() -> list[SObjectDef]:
    """Task, Event, LeadHistory and Name, as a fresh org has them."""
    task = SObjectDef("Task", KEY_PREFIXES["Task"], "Task")
    for fd in _common("Task") + [
        _who(),
        FieldDef("Subject", "combobox", 255),
        FieldDef("Status", "picklist", 255, picklist_values=TASK_STATUSES, nillable=False, default="Not Started"),
        FieldDef("Priority", "picklist", 255, picklist_values=TASK_PRIORITIES, nillable=False, default="Normal"),
        FieldDef("TaskSubtype", "picklist", 255, picklist_values=TASK_SUBTYPES, restricted_picklist=True,
                 updateable=False, default="Task", label="Task Subtype"),
        FieldDef("ActivityDate", "date", label="Due Date Only"),
        FieldDef("Description", "textarea", 32000),
    ]:
        task.add(fd)
    event = SObjectDef("Event", KEY_PREFIXES["Event"], "Event")
    for fd in _common("Event") + [
        _who(),
        FieldDef("Subject", "combobox", 255),
        FieldDef("StartDateTime", "datetime", required=True),
        FieldDef("EndDateTime", "datetime", required=True),
        FieldDef("Description", "textarea", 32000),
    ]:
        event.add(fd)
    history = SObjectDef("LeadHistory", KEY_PREFIXES["LeadHistory"], "Lead History")
    for fd in _common("LeadHistory", modified=False, owner=False) + [
        FieldDef("LeadId", "reference", reference_to=("Lead",), nillable=False, **_RO),
        FieldDef("Field", "picklist", 255, label="Changed Field", **_RO),
        FieldDef("OldValue", "string", 255, **_RO),
        FieldDef("NewValue", "string", 255, **_RO),
    ]:
        history.add(fd)
    name = SObjectDef(NAME, "", "Name")
    for fd in [FieldDef("Id", "id", **_RO), FieldDef("Name", "string", 255, **_RO),
               FieldDef("Type", "string", 40, **_RO)]:
        name.add(fd)
    return [task, event, history, name]


class Records(Protocol):
    schema: Schema
    records: dict[str, dict[str, dict[str, Any]]]

    def write(self, obj: SObjectDef, values: dict[str, Any], *, existing: dict[str, Any] | None,
              user_id: str | None, journal: list[tuple], validate: bool = True
              ) -> tuple[str | None, list[dict[str, Any]]]: ...


def name_of(store: Records, rid: str) -> dict[str, Any] | None:
    """The ``Name`` row of whatever record ``rid`` is (live), for ``Who.Type`` and ``Who.Name``."""
    obj = store.schema.by_prefix(rid[:3]) if rid else None
    rec = store.records.get(obj.name, {}).get(rid) if obj is not None else None
    if obj is None or rec is None or rec.get("IsDeleted"):
        return None
    return {"Id": rid, "Type": obj.name, "Name": rec.get("Name")}


def refuse_read_only(obj: SObjectDef, creating: bool) -> dict[str, Any] | None:
    """Field history and Name are written by the org only."""
    if obj.name in READ_ONLY_OBJECTS:
        verb = "inserted" if creating else "updated"
        return err("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be {verb}: {obj.label}")
    return None


def record_history(store: Records, obj: SObjectDef, old: dict[str, Any] | None, new: dict[str, Any],
                   user_id: str | None, journal: list[tuple]) -> None:
    """A history row per tracked field this write changed (in the write's journal: an
    ``allOrNone`` rollback takes it back too)."""
    if old is None or obj.name not in HISTORY or obj.name not in TRACKED:
        return
    history_name, parent_field = HISTORY[obj.name]
    history = store.schema.get(history_name)
    if history is None:
        return
    at: dt.datetime = new["LastModifiedDate"]
    for field in TRACKED[obj.name]:
        before, after = old.get(field), new.get(field)
        if before == after:
            continue
        store.write(history, {parent_field: new["Id"], "Field": field, "OldValue": before, "NewValue": after,
                              "CreatedDate": at}, existing=None, user_id=user_id, journal=journal,
                    validate=False)
