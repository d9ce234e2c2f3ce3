"""HubSpot contacts that moved: the recycle bin (archived contacts) and where a missing id went.

HubSpot search never returns archived contacts, and a merge or a GDPR delete leaves nothing to
search for, so syncd looks the other way round:

- ``archived_contacts`` pages the recycle bin (``GET /crm/v3/objects/contacts?archived=true``,
  100 a page, ids only): deleted contacts HubSpot still keeps (90 days), with ``archivedAt``.
- ``trace_contacts`` asks, one id at a time, about ids a batch call no longer knows (HubSpot
  answers OBJECT_NOT_FOUND for merged-away and deleted ids alike): a single GET of a merged-away id
  answers with the contact it was merged into (another id); a 404 there and a 200 with
  ``archived=true`` is an archived contact; a 404 on both is a contact deleted for good (a GDPR
  delete, or purged from the recycle bin). Only the few ids the back leg could not write come here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

from connectors.errors import HUBSPOT, UNEXPECTED, remote_error
from connectors.hubspot.client import HubSpotClient
from syncd.core.ports import Page
from syncd.core.records import GoneContact

LIST_LIMIT = 100          # the paged listing: at most 100 a page
MERGED_IDS = "hs_merged_object_ids"   # semicolon-separated ids merged into a contact


def merged_ids(properties: dict[str, Any]) -> tuple[str, ...]:
    return tuple(i.strip() for i in str(properties.get(MERGED_IDS) or "").split(";") if i.strip().isdigit())


class ContactMoves:
    def __init__(self, client: HubSpotClient) -> None:
        self.client = client

    @functools.cached_property
    def basic_api(self) -> Any:
        """Taken once, on first use (the SDK builds a new API client on every attribute access)."""
        return self.client.sdk.crm.contacts.basic_api

    def archived_contacts(self) -> Iterator[Page[GoneContact]]:
        after: str | None = None
        while True:
            cursor = after
            body = self.client.call("list archived contacts", lambda: self.basic_api.get_page(
                limit=LIST_LIMIT, after=cursor, properties=["hs_object_id"], archived=True,
                _request_timeout=self.client.timeout, _preload_content=False), lists=("results",))
            gone = [GoneContact(str(o["id"]), "archived", at=o.get("archivedAt"))
                    for o in body["results"] if isinstance(o, dict) and o.get("id") is not None]
            yield Page(gone)
            following = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not following or not gone:
                return
            if after is not None and following == after:
                raise remote_error(HUBSPOT, "list archived contacts", code=UNEXPECTED,
                                   message=f"paging repeated the cursor {after}")
            after = str(following)

    def _get(self, contact_id: str, archived: bool) -> dict[str, Any]:
        return self.client.call("read contact", lambda: self.basic_api.get_by_id(
            contact_id, properties=["hs_object_id"], archived=archived, _request_timeout=self.client.timeout,
            _preload_content=False), accept=(404,))

    def trace_contacts(self, ids: Sequence[str]) -> list[GoneContact]:
        found = []
        for contact_id in dict.fromkeys(ids):
            live = self._get(contact_id, archived=False)
            if live.get("_status") != 404:
                now = str(live.get("id") or contact_id)
                if now != contact_id:
                    found.append(GoneContact(contact_id, "merged", into=now))
                continue
            archived = self._get(contact_id, archived=True)
            if archived.get("_status") == 404:
                found.append(GoneContact(contact_id, "deleted"))
            else:
                found.append(GoneContact(contact_id, "archived", at=archived.get("archivedAt")))
        return found
