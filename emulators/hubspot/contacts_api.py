"""Single-contact endpoints of the HubSpot emulator: create, read, update, archive, the paged
listing (paged by id, 100 at most), search (``emulators.hubspot.search`` does the work), merge and
GDPR delete (``emulators.hubspot.merges``)."""

from __future__ import annotations

import bisect
from typing import Any

from werkzeug.wrappers import Request, Response

from emulators.hubspot.errors import ApiError, error_response, json_response
from emulators.hubspot.merges import MergeError, merge, purge
from emulators.hubspot.portal import Portal
from emulators.hubspot.property_definitions import DEFAULT_CONTACT_PROPERTIES
from emulators.hubspot.search import ContactSearch, SearchError
from emulators.hubspot.wire import check_id_property, ensure_email_free, flag, list_arg, raise_invalid, read_body

LIST_LIMIT = 100


class ContactsApi:
    """``/crm/v3/objects/contacts`` and ``/crm/v3/objects/contacts/{id}``, and ``.../search``."""

    def __init__(self, portal: Portal, contact_search: ContactSearch) -> None:
        self.portal = portal
        self.contact_search = contact_search

    def search(self, request: Request) -> Response:
        raw = request.get_data(as_text=True)
        body = read_body(request)
        base = request.host_url.rstrip("/")
        portal, store = self.portal, self.portal.store
        try:
            result = self.contact_search.run(
                body, raw_length=len(raw), registry=portal.registry, store=store, now_ms=portal.now_ms(),
                lag_ms=int(portal.search_lag_seconds * 1000), render=lambda c, props: store.render(c, props),
                next_link=lambda after: f"{base}/crm/v3/objects/contacts/search?after={after}")
        except SearchError as exc:
            return error_response(400, exc.message, "VALIDATION_ERROR", errors=exc.errors or None)
        return json_response(200, result)

    def _valid_properties(self, request: Request) -> dict[str, str]:
        """The body's ``properties``, normalised; 400 if any is invalid or read-only."""
        body = read_body(request)
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise ApiError(400, "Invalid input JSON: 'properties' is required", "VALIDATION_ERROR")
        values, issues = self.portal.registry.validate(props, enforce_read_only=True)
        if issues:
            raise_invalid(issues, self.portal.portal_id)
        return values

    def create(self, request: Request) -> Response:
        values = self._valid_properties(request)
        store = self.portal.store
        ensure_email_free(store, values.get("email"))
        c = store.new_contact(values, *self.portal.write_stamp(by_api=True))
        store.add(c)
        return json_response(201, store.render(c, list(values)))

    def get(self, request: Request, cid: str) -> Response:
        id_property = request.args.get("idProperty")
        store = self.portal.store
        c = store.resolve(cid, id_property, archived=flag(request, "archived"), follow_merges=True)
        if c is None:
            raise ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
        properties = list_arg(request, "properties") or list(DEFAULT_CONTACT_PROPERTIES)
        history = list_arg(request, "propertiesWithHistory")
        return json_response(200, store.render(c, properties, history))

    def update(self, request: Request, cid: str) -> Response:
        id_property = request.args.get("idProperty")
        check_id_property(self.portal.registry, self.portal.portal_id, id_property)
        values = self._valid_properties(request)
        store = self.portal.store
        c = store.resolve(cid, id_property, follow_merges=True)   # a merged-away id works here
        if c is None:
            raise ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
        ensure_email_free(store, values.get("email"), c.id)
        store.update(c, values, *self.portal.write_stamp(by_api=True))
        return json_response(200, store.render(c, list(values)))

    def delete(self, request: Request, cid: str) -> Response:
        c = self.portal.store.resolve(cid, None)
        if c is not None:
            self.portal.store.archive(c, self.portal.now_ms())
        return Response(status=204)

    def list(self, request: Request) -> Response:
        try:
            limit = int(request.args.get("limit", "10"))
        except ValueError:
            raise ApiError(400, "limit must be an integer", "VALIDATION_ERROR") from None
        if limit < 1 or limit > LIST_LIMIT:
            raise ApiError(400, f"limit must be between 1 and {LIST_LIMIT}", "VALIDATION_ERROR")
        after_raw = request.args.get("after")
        after = 0
        if after_raw:
            if not after_raw.isdigit():
                raise ApiError(400, f"Invalid after cursor '{after_raw}'", "VALIDATION_ERROR")
            after = int(after_raw)
        archived = flag(request, "archived")
        properties = list_arg(request, "properties") or list(DEFAULT_CONTACT_PROPERTIES)
        history = list_arg(request, "propertiesWithHistory")
        store = self.portal.store
        if archived:
            pool = sorted(c.id for c in store.by_id.values() if c.archived)
        else:
            pool = store.ids
        start = bisect.bisect_left(pool, after)
        page = pool[start:start + limit]
        body: dict[str, Any] = {"results": [store.render(store.by_id[i], properties, history) for i in page]}
        if start + limit < len(pool):
            nxt = str(pool[start + limit])
            base = request.host_url.rstrip("/")
            body["paging"] = {"next": {"after": nxt, "link": f"{base}/crm/v3/objects/contacts?after={nxt}"}}
        return json_response(200, body)


    def merge(self, request: Request) -> Response:
        body = read_body(request)
        if not isinstance(body, dict) or not body.get("primaryObjectId") or not body.get("objectIdToMerge"):
            raise ApiError(400, "Invalid input JSON: 'primaryObjectId' and 'objectIdToMerge' are required",
                           "VALIDATION_ERROR")
        store = self.portal.store
        primary = store.resolve(body["primaryObjectId"], None, follow_merges=True)
        other = store.resolve(body["objectIdToMerge"], None, follow_merges=True)
        if primary is None or other is None:
            raise ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
        at_ms, at_iso, _ = self.portal.write_stamp(by_api=True)
        try:
            survivor = merge(store, primary, other, at_ms, at_iso, mints_new_id=self.portal.merge_mints_new_id)
        except MergeError as exc:
            raise ApiError(400, str(exc), "VALIDATION_ERROR") from None
        return json_response(200, store.render(survivor, DEFAULT_CONTACT_PROPERTIES))

    def gdpr_delete(self, request: Request) -> Response:
        body = read_body(request)
        if not isinstance(body, dict) or not body.get("objectId"):
            raise ApiError(400, "Invalid input JSON: 'objectId' is required", "VALIDATION_ERROR")
        id_property = body.get("idProperty")
        store = self.portal.store
        c = store.resolve(body["objectId"], id_property) or store.resolve(body["objectId"], id_property, archived=True)
        if c is None:
            if id_property == "email":      # HubSpot blocklists an unknown email instead (not modelled)
                return Response(status=204)
            raise ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
        purge(store, c)
        return Response(status=204)
