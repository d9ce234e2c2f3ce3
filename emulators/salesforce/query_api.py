"""SOQL over REST: ``query`` and ``queryAll`` (which also sees deleted records), paged by query
locators (``nextRecordsUrl``).

Pages hold up to 2,000 records (the ``Sforce-Query-Options: batchSize=`` header may ask for
200–2,000); every page read is an API call. At most 10 cursors stay open (oldest dropped first,
as Salesforce does per user); a cursor is dropped as soon as its last page has been read, and
after 15 minutes idle (``INVALID_QUERY_LOCATOR`` then).

Candidate rows come from the store's value index when the WHERE clause pins an indexed field
(``Email IN (...)``, ``HubSpot_Contact_Id__c = ...``); otherwise every row of the object is
checked.
"""

from __future__ import annotations

import collections
import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from emulators.salesforce import soql
from emulators.salesforce.errors import RequestError, json_response
from emulators.salesforce.ids import make_id
from emulators.salesforce.store import RecordStore
from emulators.salesforce.wire import batch_size, url_maker

QUERY_LOCATOR_TTL = dt.timedelta(minutes=15)
MAX_OPEN_CURSORS = 10  # per org here; Salesforce allows 10 open query cursors per user


@dataclass
class Cursor:
    records: list[dict[str, Any]]
    batch_size: int
    last_used: dt.datetime
    endpoint: str


class QueryApi:
    def __init__(self, store: RecordStore, now: Callable[[], dt.datetime]) -> None:
        self.store = store
        self.now = now  # the emulator clock, by which an idle cursor expires
        self.cursors: collections.OrderedDict[str, Cursor] = collections.OrderedDict()

    def query(self, request: Request, version: str, endpoint: str) -> Response:
        text = request.args.get("q")
        if text is None:
            raise RequestError(400, "MALFORMED_QUERY", "'q' parameter required")
        try:
            bound = soql.compile_query(text, self.store.schema)
        except soql.SoqlError as e:
            raise RequestError(400, e.error_code, e.message) from None
        include_deleted = endpoint == "queryAll"
        rows = self._rows(bound, include_deleted)
        resolve = self.store.resolve
        url_for = url_maker(version)
        result = bound.run(rows, resolve, url_for)
        if bound.count_only:
            return json_response(200, {"totalSize": result.total_size, "done": True, "records": []})
        batch = batch_size(request)
        if len(result.records) <= batch:
            return json_response(200, {"totalSize": result.total_size, "done": True,
                               "records": result.records})
        locator = make_id("01g", next(self.store.counter))
        self.cursors[locator] = Cursor(result.records, batch, self.now(), endpoint)
        while len(self.cursors) > MAX_OPEN_CURSORS:
            self.cursors.popitem(last=False)
        return json_response(200, {
            "totalSize": result.total_size, "done": False,
            "nextRecordsUrl": f"/services/data/v{version}/{endpoint}/{locator}-{batch}",
            "records": result.records[:batch],
        })

    def query_more(self, request: Request, version: str, endpoint: str,
                    segment: str) -> Response:
        locator, _, offset_text = segment.partition("-")
        cursor = self.cursors.get(locator)
        if cursor is not None and self.now() - cursor.last_used > QUERY_LOCATOR_TTL:
            del self.cursors[locator]
            cursor = None
        if cursor is None or not offset_text.isdigit():
            raise RequestError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor.last_used = self.now()
        self.cursors.move_to_end(locator)
        offset = int(offset_text)
        batch = cursor.batch_size
        page = cursor.records[offset:offset + batch]
        done = offset + batch >= len(cursor.records)
        body: dict[str, Any] = {"totalSize": len(cursor.records), "done": done}
        if done:
            del self.cursors[locator]
        else:
            body["nextRecordsUrl"] = (f"/services/data/v{version}/{endpoint}/"
                                      f"{locator}-{offset + batch}")
        body["records"] = page
        return json_response(200, body)

    def _rows(self, bound: soql.BoundQuery, include_deleted: bool
                    ) -> list[dict[str, Any]]:
        obj = bound.sobject
        store = self.store.records.setdefault(obj.name, {})
        hint = bound.index_hint
        if hint is not None and not include_deleted:
            fd, values = hint
            ids: set[str] = set()
            for value in values:
                if fd.type == "id":
                    if value in store:
                        ids.add(value)
                else:
                    ids.update(self.store.index.get((obj.name, fd.name), {})
                               .get(self.store.index_key(fd, value), set()))
            rows = [store[i] for i in sorted(ids, key=lambda i: self.store.seq.get(i, 0))]
        else:
            rows = list(store.values())
        if not include_deleted:
            rows = [r for r in rows if not r.get("IsDeleted")]
        return rows

