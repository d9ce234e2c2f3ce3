"""One emulated HubSpot portal as its REST handlers see it: the property definitions, the
contacts, the clock, how far search lags behind writes, and how a write is recorded.

The emulator (``app``) keeps one ``Portal`` for its lifetime and gives it to each handler. A
reset puts fresh definitions and an empty store in it rather than a new portal, so a handler
always reads the current ones through it. Nothing here locks: the emulator holds its lock
around every request and every control-API call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from emulators.hubspot.properties import PropertyRegistry
from emulators.hubspot.store import ContactStore
from emulators.hubspot.timefmt import iso_ms, to_ms


class Portal:
    def __init__(self, *, portal_id: int, app_id: int, first_id: int, clock: Callable[[], dt.datetime],
                 search_lag_seconds: float, merge_mints_new_id: bool = True) -> None:
        self.portal_id = portal_id
        self.app_id = app_id
        self.clock = clock
        self.search_lag_seconds = search_lag_seconds  # a write shows in search this much later
        self.merge_mints_new_id = merge_mints_new_id  # a merge creates a new record (HubSpot since 2024)
        self._first_id = first_id
        self.reset()

    def reset(self) -> None:
        """The standard property definitions again, and no contacts (ids start over)."""
        self.registry = PropertyRegistry()
        self.store = ContactStore(self.registry, self._first_id)

    # -- time and source of writes

    def now_ms(self) -> int:
        return to_ms(self.clock())

    def now_iso(self) -> str:
        return iso_ms(self.now_ms())

    def at(self, at: dt.datetime | None) -> tuple[int, str]:
        """``at`` (default now) as epoch ms and HubSpot's ISO text."""
        ms = to_ms(at) if at is not None else self.now_ms()
        return ms, iso_ms(ms)

    def source(self, source: dict[str, Any] | None, default_api: bool) -> dict[str, Any]:
        """Where a write came from, as property history shows it: this app (API) or a person (UI)."""
        if source is not None:
            return dict(source)
        if default_api:
            return {"sourceType": "INTEGRATION", "sourceId": str(self.app_id)}
        return {"sourceType": "CRM_UI", "sourceId": "userId:1", "updatedByUserId": 1}

    def write_stamp(self, at: dt.datetime | None = None, source: dict[str, Any] | None = None, *,
                    by_api: bool) -> tuple[int, str, dict[str, Any]]:
        """What one write (or one batch: every contact in it shares the time) is recorded with:
        its time as epoch ms and ISO text, and its source (``source``, else this app when
        ``by_api``, else a person in HubSpot's UI)."""
        at_ms, at_iso = self.at(at)
        return at_ms, at_iso, self.source(source, default_api=by_api)
