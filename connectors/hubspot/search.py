"""HubSpot CRM search requests for "contacts changed in a window", as plain dicts.

Paging: one query per page of 200, filtered by the qualify conditions and ``lastmodifieddate >=``
the window's start, sorted by ``hs_object_id`` and continued with ``hs_object_id > last id seen``
instead of the ``after`` offset. Why: search stops at 10,000 results per query, and thousands of
contacts can share one ``lastmodifieddate`` (HubSpot's own bulk updates), so paging by time or by
offset either skips contacts or loops forever (airbytehq/airbyte#43317). Paging by id visits each
contact once.

There is no upper bound on ``lastmodifieddate``: the window's end is where the cursor goes
(HubSpot's own time when the window opened, ``syncd.run.leg``), so a host clock behind HubSpot's
misses nothing, and a contact dated in the future is read (and reported), never silently dropped.
A contact edited while the run pages is read now or by the next run, whose window starts before it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from syncd.core.records import Filter
from syncd.core.window import Window, to_epoch_ms

PAGE_SIZE = 200          # search: at most 200 results per page
BODY_LIMIT = 3000        # search: request body at most 3,000 characters (the properties list counts)
# What a contact listed without its properties carries: enough to tell whether it changed since
# syncd last wrote it, and its email for the Lead look-up that runs beside the batch read.
STUB_PROPERTIES = ("hs_object_id", "lastmodifieddate", "email")

_OPERATORS = {"equals": "EQ", "not_equals": "NEQ", "in": "IN", "not_in": "NOT_IN", "gt": "GT",
              "gte": "GTE", "lt": "LT", "lte": "LTE", "contains_token": "CONTAINS_TOKEN"}


def condition_filter(condition: Filter) -> dict[str, Any]:
    operator, operand = condition.operator, condition.operand
    if operator == "exists":
        return {"propertyName": condition.property,
                "operator": "HAS_PROPERTY" if operand else "NOT_HAS_PROPERTY"}
    if operator in ("in", "not_in"):
        return {"propertyName": condition.property, "operator": _OPERATORS[operator],
                "values": [str(v) for v in operand]}
    value = str(operand).lower() if isinstance(operand, bool) else str(operand)
    return {"propertyName": condition.property, "operator": _OPERATORS[operator], "value": value}


def search_body(conditions: Sequence[Filter], window: Window, after_id: str | None,
                properties: Sequence[str]) -> dict[str, Any]:
    filters = [condition_filter(c) for c in conditions]
    if window.start is not None:
        filters.append({"propertyName": "lastmodifieddate", "operator": "GTE",
                        "value": str(to_epoch_ms(window.start))})
    if after_id is not None:
        filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after_id})
    return {"filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": list(properties), "limit": PAGE_SIZE}


def fits_inline(conditions: Sequence[Filter], window: Window, properties: Sequence[str]) -> bool:
    """Whether every property can come back in the search itself (the body stays under the limit
    even with the longest id to page from)."""
    return len(json.dumps(search_body(conditions, window, "9" * 20, properties))) <= BODY_LIMIT
