"""Plain records passed between connectors, the planner and the state store.

Connectors turn remote payloads into these; the planner only ever sees these. No SDK types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HistoryEntry:
    value: str | None
    timestamp: str          # ISO 8601, as HubSpot returns it


@dataclass(frozen=True)
class Contact:
    """A HubSpot contact as syncd reads it."""

    id: str
    properties: dict[str, str | None]
    history: dict[str, tuple[HistoryEntry, ...]] = field(default_factory=dict)

    @property
    def email(self) -> str | None:
        return self.properties.get("email") or None

    @property
    def modified_at(self) -> dt.datetime | None:
        raw = self.properties.get("lastmodifieddate")
        if not raw:
            return None
        if raw.isdigit():
            return dt.datetime.fromtimestamp(int(raw) / 1000, tz=dt.timezone.utc)
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Link:
    """What state remembers about one HubSpot contact handed to Salesforce."""

    hubspot_id: str
    lead_id: str | None
    contact_id: str | None = None       # set once Sales converted the Lead
    converted: bool = False
    payload_hash: str | None = None     # hash of the last payload Salesforce accepted
    attribution: tuple[str | None, str | None, str | None] = (None, None, None)  # source, campaign, content


@dataclass(frozen=True)
class Rejection:
    hubspot_id: str
    code: str
    message: str
    payload_hash: str | None
    retryable: bool = False             # transient failure: re-read next run even if unchanged


@dataclass(frozen=True)
class RemoteError:
    code: str                           # e.g. STRING_TOO_LONG
    message: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteResult:
    """Salesforce's answer for one record of a collections call, in request order."""

    ok: bool
    id: str | None = None
    created: bool = False
    errors: tuple[RemoteError, ...] = ()

    @property
    def first_error(self) -> RemoteError | None:
        return self.errors[0] if self.errors else None


@dataclass(frozen=True)
class ExistingLead:
    """A Salesforce Lead found by email or external id."""

    id: str
    email: str | None
    external_id: str | None
    converted: bool
    converted_contact_id: str | None
    created_date: str = ""
