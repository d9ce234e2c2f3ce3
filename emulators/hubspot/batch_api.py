"""The contacts batch endpoints of the HubSpot emulator: read, create, update, upsert, archive.

As documented: at most 100 inputs (50 when ``propertiesWithHistory`` is asked for); a batch with
missing ids answers 207 with the found ones and one ``OBJECT_NOT_FOUND`` error listing the rest;
invalid property values fail the whole batch (create/update) or just that input (upsert);
upsert needs ``idProperty`` (``email`` or a unique property) and says which inputs were ``new``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from emulators.hubspot.errors import ApiError, json_response
from emulators.hubspot.properties import PropertyIssue, validation_errors, validation_message
from emulators.hubspot.property_definitions import DEFAULT_CONTACT_PROPERTIES
from emulators.hubspot.store import ContactStore
from emulators.hubspot.wire import (
    batch_envelope,
    batch_inputs,
    check_id_property,
    flag,
    property_names,
    raise_invalid,
    read_body,
)

if TYPE_CHECKING:
    from emulators.hubspot.app import HubSpotEmulator

NOT_FOUND_BATCH = "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."
HISTORY_BATCH_MESSAGE = ("The maximum number of inputs supported in a batch request for property histories is 50. "
                         "Please reduce the number of items and try again")
HISTORY_BATCH_LIMIT = 50


class ContactBatchApi:
    """``POST /crm/v3/objects/contacts/batch/{read,create,update,upsert,archive}``."""

    def __init__(self, app: "HubSpotEmulator") -> None:
        self.app = app

    @property
    def store(self) -> ContactStore:
        return self.app.store

    def _validate_inputs(self, inputs: list[dict[str, Any]]) -> list[tuple[dict[str, str], list[PropertyIssue]]]:
        out = []
        for item in inputs:
            props = item.get("properties")
            if not isinstance(props, dict):
                raise ApiError(400, "Invalid input JSON: each input needs a 'properties' object",
                               "VALIDATION_ERROR", errors=[{"message": "Required property 'properties' is missing",
                                                             "in": "properties", "code": "REQUIRED_FIELD"}])
            out.append(self.app.registry.validate(props, enforce_read_only=True))
        return out

    def read(self, request: Request) -> Response:
        started = self.app.now_iso()
        body = read_body(request)
        inputs = batch_inputs(body)
        history = property_names(body.get("propertiesWithHistory"), "propertiesWithHistory")
        if history and len(inputs) > HISTORY_BATCH_LIMIT:
            raise ApiError(400, HISTORY_BATCH_MESSAGE, "VALIDATION_ERROR")
        properties = property_names(body.get("properties"), "properties") or list(DEFAULT_CONTACT_PROPERTIES)
        id_property = body.get("idProperty")
        if id_property not in (None, "", "hs_object_id", "email"):
            prop = self.app.registry.get(id_property)
            if prop is None or not prop.get("hasUniqueValue"):
                raise ApiError(400, f"Unable to read by non-unique 0-1 property {id_property}", "VALIDATION_ERROR")
        archived = flag(request, "archived")
        results, missing, seen = [], [], set()
        for item in inputs:
            raw_id = item.get("id")
            c = self.store.resolve(raw_id, id_property, archived=archived)
            if c is None:
                missing.append(str(raw_id))
            elif c.id not in seen:
                seen.add(c.id)
                results.append(self.store.render(c, properties, history))
        errors = []
        if missing:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "message": NOT_FOUND_BATCH,
                           "context": {"ids": missing}})
        return json_response(207 if errors else 200, batch_envelope(started, self.app.now_iso(), results, errors))

    def create(self, request: Request) -> Response:
        started = self.app.now_iso()
        inputs = batch_inputs(read_body(request))
        checked = self._validate_inputs(inputs)
        issues = [i for _, iss in checked for i in iss]
        if issues:
            raise_invalid(issues, self.app.portal_id)
        seen: set[str] = set()
        for values, _ in checked:
            email = values.get("email", "").lower()
            owner = self.store.email_owner(email)
            if owner is not None:
                raise ApiError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
            if email and email in seen:
                raise ApiError(400, f"Duplicate emails found in batch input: [{email}]", "VALIDATION_ERROR")
            if email:
                seen.add(email)
        at_ms, at_iso = self.app.at(None)
        src = self.app.source(None, default_api=True)
        created = [self.store.new_contact(values, at_ms, at_iso, src) for values, _ in checked]
        self.store.add_many(created)
        results = [self.store.render(c, list(values)) for c, (values, _) in zip(created, checked)]
        return json_response(201, batch_envelope(started, self.app.now_iso(), results, []))

    def update(self, request: Request) -> Response:
        started = self.app.now_iso()
        inputs = batch_inputs(read_body(request))
        keys = [(str(i.get("id")), i.get("idProperty")) for i in inputs]
        if any(i.get("id") in (None, "") for i in inputs):
            raise ApiError(400, "Invalid input JSON: each input needs an 'id'", "VALIDATION_ERROR")
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ApiError(400, f"Duplicate IDs found in batch input: [{', '.join(k for k, _ in dupes)}]. IDs must "
                                 "be unique", "VALIDATION_ERROR")
        for _, id_property in keys:
            check_id_property(self.app.registry, self.app.portal_id, id_property)
        checked = self._validate_inputs(inputs)
        issues = [i for _, iss in checked for i in iss]
        if issues:
            raise_invalid(issues, self.app.portal_id)
        at_ms, at_iso = self.app.at(None)
        src = self.app.source(None, default_api=True)
        results, missing = [], []
        for item, (values, _) in zip(inputs, checked):
            c = self.store.resolve(item.get("id"), item.get("idProperty"))
            if c is None:
                missing.append(str(item.get("id")))
                continue
            if "email" in values and values["email"]:
                owner = self.store.email_owner(values["email"])
                if owner is not None and owner != c.id:
                    raise ApiError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
            for name, text in values.items():
                self.store.set_text(c, name, text, at_iso, src)
            self.store.touch(c, at_ms, at_iso)
            results.append(self.store.render(c, list(values)))
        errors = []
        if missing:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "message": NOT_FOUND_BATCH,
                           "context": {"ids": missing}})
        return json_response(207 if errors else 200, batch_envelope(started, self.app.now_iso(), results, errors))

    def upsert(self, request: Request) -> Response:
        started = self.app.now_iso()
        inputs = batch_inputs(read_body(request))
        for item in inputs:
            if item.get("id") in (None, ""):
                raise ApiError(400, "Invalid input JSON: each input needs an 'id'", "VALIDATION_ERROR")
            if item.get("idProperty") in (None, "", "hs_object_id"):
                raise ApiError(400, f"Unable to perform update/upsert by non-unique 0-1 property "
                                     f"{item.get('idProperty') or 'hs_object_id'} in portal ID {self.app.portal_id}",
                                "VALIDATION_ERROR")
            check_id_property(self.app.registry, self.app.portal_id, item["idProperty"])
        checked = self._validate_inputs(inputs)
        at_ms, at_iso = self.app.at(None)
        src = self.app.source(None, default_api=True)
        results, errors = [], []
        for item, (values, issues) in zip(inputs, checked):
            if issues:
                errors.append({"status": "error", "category": "VALIDATION_ERROR",
                               "message": validation_message(issues, self.app.portal_id),
                               "context": {"ids": [str(item["id"])]}, "errors": validation_errors(issues)})
                continue
            c = self.store.resolve(item["id"], item["idProperty"])
            is_new = c is None
            if is_new and item["idProperty"] == "email":
                _, issue = self.app.registry.normalise("email", str(item["id"]), enforce_read_only=True)
                if issue is not None:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": validation_message([issue], self.app.portal_id),
                                   "context": {"ids": [str(item["id"])]}, "errors": validation_errors([issue])})
                    continue
            if is_new:
                if item["idProperty"] == "email":
                    values.setdefault("email", str(item["id"]))
                else:
                    values.setdefault(item["idProperty"], str(item["id"]))
                c = self.store.new_contact(values, at_ms, at_iso, src)
                self.store.add(c)
            else:
                for name, text in values.items():
                    self.store.set_text(c, name, text, at_iso, src)
                self.store.touch(c, at_ms, at_iso)
            rendered = self.store.render(c, list(values))
            rendered["new"] = is_new
            results.append(rendered)
        return json_response(207 if errors else 200, batch_envelope(started, self.app.now_iso(), results, errors))

    def archive(self, request: Request) -> Response:
        inputs = batch_inputs(read_body(request))
        at_ms = self.app.now_ms()
        for item in inputs:
            c = self.store.resolve(item.get("id"), None)
            if c is not None:
                self.store.archive(c, at_ms)
        return Response(status=204)

