"""Both legs' rejected records, for the admin (`syncd rejected list|retry|clear`).

The forward leg's ``rejections`` (Salesforce or the mapping refused a contact) and the back leg's
``feedback_rejections`` (HubSpot refused an outcome) have the same columns; here they are read and
cleared together, each row tagged with its leg. The legs themselves write them (``StateStore.
write_rejections``) and clear one when its record lands or is unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from state.db import aware, chunks
from state.models import FeedbackRejectionRow, RejectionRow

LEGS = {"forward": RejectionRow, "back": FeedbackRejectionRow}
_NAMED = re.compile(r"\((?:fields|property): ([^)]*)\)\s*$")          # Salesforce's fields, HubSpot's property
_PREFIXED = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?: \(from [^)]*\))?: ")   # the mapping's "Field: why"


@dataclass(frozen=True)
class RejectedRecord:
    leg: str                    # forward | back
    hubspot_id: str
    code: str
    message: str
    retryable: bool
    attempts: int
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


def rejected_records(engine: Engine, pipeline: str, *, legs: Sequence[str] = tuple(LEGS),
                     ids: Iterable[str] | None = None, code: str | None = None,
                     limit: int | None = None) -> list[RejectedRecord]:
    """The rejected records of these legs (newest first), optionally only these contacts or this code."""
    found: list[RejectedRecord] = []
    wanted = None if ids is None else list(dict.fromkeys(ids))
    with engine.connect() as connection:
        for leg in legs:
            table = LEGS[leg].__table__
            query = select(table).where(table.c.pipeline == pipeline)
            if code is not None:
                query = query.where(table.c.code == code)
            parts = [query] if wanted is None else [query.where(table.c.hubspot_id.in_(chunk))
                                                    for chunk in chunks(wanted)]
            for part in parts:
                for row in connection.execute(part).mappings():
                    first, last = aware(row["first_seen_at"]), aware(row["last_seen_at"])
                    assert first is not None and last is not None      # NOT NULL columns
                    found.append(RejectedRecord(leg, row["hubspot_id"], row["code"], row["message"],
                                                bool(row["retryable"]), int(row["attempts"]), first, last))
    found.sort(key=lambda r: (r.last_seen_at, r.leg, r.hubspot_id), reverse=True)
    return found[:limit] if limit is not None else found


def clear_rejections(engine: Engine, pipeline: str, records: Iterable[RejectedRecord]) -> int:
    """Forget these rejections (an admin decided); returns how many rows went."""
    gone = 0
    by_leg: dict[str, list[str]] = {}
    for record in records:
        by_leg.setdefault(record.leg, []).append(record.hubspot_id)
    with engine.begin() as connection:
        for leg, ids in by_leg.items():
            table = LEGS[leg].__table__
            for chunk in chunks(list(dict.fromkeys(ids))):
                gone += connection.execute(table.delete().where(table.c.pipeline == pipeline,
                                                                table.c.hubspot_id.in_(chunk))).rowcount
    return gone


def field_of(record: RejectedRecord) -> str | None:
    """The field (or property) the remote error or the mapping named, when it named one."""
    named = _NAMED.search(record.message)
    if named:
        return named.group(1).strip()
    if record.code.startswith("SYNCD_") or record.code == "INVALID_VALUE":
        prefixed = _PREFIXED.match(record.message)
        return prefixed.group(1) if prefixed else None
    return None
