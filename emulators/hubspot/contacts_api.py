"""Single-contact endpoints of the HubSpot emulator: create, read, update, archive, the paged
listing (paged by id, 100 at most), and search (``emulators.hubspot.search`` does the work)."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from emulators.hubspot.errors import ApiError, error_response, json_response
from emulators.hubspot.property_definitions import DEFAULT_CONTACT_PROPERTIES
from emulators.hubspot.search import SearchError
from emulators.hubspot.store import ContactStore
from emulators.hubspot.wire import check_id_property, flag, list_arg, raise_invalid, read_body

if TYPE_CHECKING:
    from emulators.hubspot.app import HubSpotEmulator

LIST_LIMIT = 100


class ContactsApi:
    """``/crm/v3/objects/contacts`` and ``/crm/v3/objects/contacts/{id}``, and ``.../search``."""

    def __init__(self, app: "HubSpotEmulator") -> None:
        self.app = app

    @property
    def store(self) -> ContactStore:
        return self.app.store

    def search(self, request: Request) -> Response:
        raw = request.get_data(as_text=True)
        body = read_body(request)
        base = request.host_url.rstrip("/")
        try:
            result = self.app.search.run(
                body, raw_length=len(raw), registry=self.app.registry, store=self.store, now_ms=self.app.now_ms(),
                lag_ms=int(self.app.search_lag_seconds * 1000), render=lambda c, props: self.store.render(c, props),
                next_link=lambda after: f"{base}/crm/v3/objects/contacts/search?after={after}")
        except SearchError as exc:
            return error_response(400, exc.message, "VALIDATION_ERROR", errors=exc.errors or None)
        return json_response(200, result)

    def create(self, request: Request) -> Response:
        body = read_body(request)
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise ApiError(400, "Invalid input JSON: 'properties' is required", "VALIDATION_ERROR")
        values, issues = self.app.registry.validate(props, enforce_read_only=True)
        if issues:
            raise_invalid(issues, self.app.portal_id)
        owner = self.store.email_owner(values.get("email"))
        if owner is not None:
            raise ApiError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
        at_ms, at_iso = self.app.at(None)
        c = self.store.new_contact(values, at_ms, at_iso, self.app.source(None, default_api=True))
        self.store.add(c)
        return json_response(201, self.store.render(c, list(values)))

    def get(self, request: Request, cid: str) -> Response:
        id_property = request.args.get("idProperty")
        c = self.store.resolve(cid, id_property, archived=flag(request, "archived"))
        if c is None:
            raise ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
        properties = list_arg(request, "properties") or list(DEFAULT_CONTACT_PROPERTIES)
        history = list_arg(request, "propertiesWithHistory")
        return json_response(200, self.store.render(c, properties, history))

    def update(self, request: Request, cid: str) -> Response:
        id_property = request.args.get("idProperty")
        check_id_property(self.app.registry, self.app.portal_id, id_property)
        body = read_body(request)
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise ApiError(400, "Invalid input JSON: 'properties' is required", "VALIDATION_ERROR")
        values, issues = self.app.registry.validate(props, enforce_read_only=True)
        if issues:
            raise_invalid(issues, self.app.portal_id)
        c = self.store.resolve(cid, id_property)
        if c is None:
            raise ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
        owner = self.store.email_owner(values.get("email"))
        if owner is not None and owner != c.id:
            raise ApiError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
        at_ms, at_iso = self.app.at(None)
        src = self.app.source(None, default_api=True)
        for name, text in values.items():
            self.store.set_text(c, name, text, at_iso, src)
        self.store.touch(c, at_ms, at_iso)
        return json_response(200, self.store.render(c, list(values)))

    def delete(self, request: Request, cid: str) -> Response:
        c = self.store.resolve(cid, None)
        if c is not None:
            self.store.archive(c, self.app.now_ms())
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
        if archived:
            pool = sorted(c.id for c in self.store.by_id.values() if c.archived)
        else:
            pool = self.store.ids
        start = bisect.bisect_left(pool, after)
        page = pool[start:start + limit]
        body: dict[str, Any] = {"results": [self.store.render(self.store.by_id[i], properties, history) for i in page]}
        if start + limit < len(pool):
            nxt = str(pool[start + limit])
            base = request.host_url.rstrip("/")
            body["paging"] = {"next": {"after": nxt, "link": f"{base}/crm/v3/objects/contacts?after={nxt}"}}
        return json_response(200, body)

