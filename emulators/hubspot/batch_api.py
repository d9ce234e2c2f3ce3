"""The contacts batch endpoints of the HubSpot emulator: read, create, update, upsert, archive.

As documented: at most 100 inputs (50 when ``propertiesWithHistory`` is asked for); a batch with
missing ids answers 207 with the found ones and one ``OBJECT_NOT_FOUND`` error listing the rest;
invalid property values fail the whole batch (create/update) or just that input (upsert);
upsert needs ``idProperty`` (``email`` or a unique property) and says which inputs were ``new``.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from emulators.hubspot.errors import ApiError, json_response
from emulators.hubspot.portal import Portal
from emulators.hubspot.properties import PropertyIssue, validation_errors, validation_message
from emulators.hubspot.property_definitions import DEFAULT_CONTACT_PROPERTIES
from emulators.hubspot.wire import (
    batch_envelope,
    batch_inputs,
    check_id_property,
    ensure_email_free,
    flag,
    property_names,
    raise_invalid,
    read_body,
)

NOT_FOUND_BATCH = "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."
HISTORY_BATCH_MESSAGE = ("The maximum number of inputs supported in a batch request for property histories is 50. "
                         "Please reduce the number of items and try again")
HISTORY_BATCH_LIMIT = 50


class ContactBatchApi:
    """``POST /crm/v3/objects/contacts/batch/{read,create,update,upsert,archive}``."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    def _validate_inputs(self, inputs: list[dict[str, Any]]) -> list[tuple[dict[str, str], list[PropertyIssue]]]:
        out = []
        for item in inputs:
            props = item.get("properties")
            if not isinstance(props, dict):
                raise ApiError(400, "Invalid input JSON: each input needs a 'properties' object",
                               "VALIDATION_ERROR", errors=[{"message": "Required property 'properties' is missing",
                                                             "in": "properties", "code": "REQUIRED_FIELD"}])
            out.append(self.portal.registry.validate(props, enforce_read_only=True))
        return out

    def _all_valid(self, inputs: list[dict[str, Any]]) -> list[dict[str, str]]:
        """Every input's properties, normalised; one 400 listing every issue of every input."""
        checked = self._validate_inputs(inputs)
        issues = [i for _, input_issues in checked for i in input_issues]
        if issues:
            raise_invalid(issues, self.portal.portal_id)
        return [values for values, _ in checked]

    def _invalid_input(self, input_id: Any, issues: list[PropertyIssue]) -> dict[str, Any]:
        """The error item for one upsert input whose values are invalid (the others go on)."""
        return {"status": "error", "category": "VALIDATION_ERROR",
                "message": validation_message(issues, self.portal.portal_id),
                "context": {"ids": [str(input_id)]}, "errors": validation_errors(issues)}

    def _answer_with_missing(self, started: str, results: list[dict[str, Any]], missing: list[str]) -> Response:
        """200 with the results, or 207 with them and one OBJECT_NOT_FOUND error naming the ids not found."""
        errors = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": NOT_FOUND_BATCH,
                   "context": {"ids": missing}}] if missing else []
        return json_response(207 if errors else 200, batch_envelope(started, self.portal.now_iso(), results, errors))

    def read(self, request: Request) -> Response:
        started = self.portal.now_iso()
        body = read_body(request)
        inputs = batch_inputs(body)
        history = property_names(body.get("propertiesWithHistory"), "propertiesWithHistory")
        if history and len(inputs) > HISTORY_BATCH_LIMIT:
            raise ApiError(400, HISTORY_BATCH_MESSAGE, "VALIDATION_ERROR")
        properties = property_names(body.get("properties"), "properties") or list(DEFAULT_CONTACT_PROPERTIES)
        id_property = body.get("idProperty")
        if id_property not in (None, "", "hs_object_id", "email"):
            prop = self.portal.registry.get(id_property)
            if prop is None or not prop.get("hasUniqueValue"):
                raise ApiError(400, f"Unable to read by non-unique 0-1 property {id_property}", "VALIDATION_ERROR")
        archived = flag(request, "archived")
        store = self.portal.store
        results, missing, seen = [], [], set()
        for item in inputs:
            raw_id = item.get("id")
            c = store.resolve(raw_id, id_property, archived=archived)
            if c is None:
                missing.append(str(raw_id))
            elif c.id not in seen:
                seen.add(c.id)
                results.append(store.render(c, properties, history))
        return self._answer_with_missing(started, results, missing)

    def create(self, request: Request) -> Response:
        started = self.portal.now_iso()
        validated = self._all_valid(batch_inputs(read_body(request)))
        store = self.portal.store
        seen: set[str] = set()
        for values in validated:
            email = values.get("email", "").lower()
            ensure_email_free(store, email)
            if email and email in seen:
                raise ApiError(400, f"Duplicate emails found in batch input: [{email}]", "VALIDATION_ERROR")
            if email:
                seen.add(email)
        at_ms, at_iso, source = self.portal.write_stamp(by_api=True)
        created = [store.new_contact(values, at_ms, at_iso, source) for values in validated]
        store.add_many(created)
        results = [store.render(c, list(values)) for c, values in zip(created, validated)]
        return json_response(201, batch_envelope(started, self.portal.now_iso(), results, []))

    def update(self, request: Request) -> Response:
        started = self.portal.now_iso()
        inputs = batch_inputs(read_body(request))
        keys = [(str(i.get("id")), i.get("idProperty")) for i in inputs]
        if any(i.get("id") in (None, "") for i in inputs):
            raise ApiError(400, "Invalid input JSON: each input needs an 'id'", "VALIDATION_ERROR")
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ApiError(400, f"Duplicate IDs found in batch input: [{', '.join(k for k, _ in dupes)}]. IDs must "
                                 "be unique", "VALIDATION_ERROR")
        for _, id_property in keys:
            check_id_property(self.portal.registry, self.portal.portal_id, id_property)
        validated = self._all_valid(inputs)
        at_ms, at_iso, source = self.portal.write_stamp(by_api=True)
        store = self.portal.store
        results, missing = [], []
        for item, values in zip(inputs, validated):
            c = store.resolve(item.get("id"), item.get("idProperty"))
            if c is None:
                missing.append(str(item.get("id")))
                continue
            ensure_email_free(store, values.get("email"), c.id)
            store.update(c, values, at_ms, at_iso, source)
            results.append(store.render(c, list(values)))
        return self._answer_with_missing(started, results, missing)

    def upsert(self, request: Request) -> Response:
        started = self.portal.now_iso()
        inputs = batch_inputs(read_body(request))
        for item in inputs:
            if item.get("id") in (None, ""):
                raise ApiError(400, "Invalid input JSON: each input needs an 'id'", "VALIDATION_ERROR")
            if item.get("idProperty") in (None, "", "hs_object_id"):
                raise ApiError(400, f"Unable to perform update/upsert by non-unique 0-1 property "
                                     f"{item.get('idProperty') or 'hs_object_id'} in portal ID {self.portal.portal_id}",
                                "VALIDATION_ERROR")
            check_id_property(self.portal.registry, self.portal.portal_id, item["idProperty"])
        checked = self._validate_inputs(inputs)
        at_ms, at_iso, source = self.portal.write_stamp(by_api=True)
        store = self.portal.store
        results, errors = [], []
        for item, (values, issues) in zip(inputs, checked):
            if issues:
                errors.append(self._invalid_input(item["id"], issues))
                continue
            c = store.resolve(item["id"], item["idProperty"])
            is_new = c is None
            if is_new and item["idProperty"] == "email":
                _, issue = self.portal.registry.normalise("email", str(item["id"]), enforce_read_only=True)
                if issue is not None:
                    errors.append(self._invalid_input(item["id"], [issue]))
                    continue
            if c is None:
                # A new contact carries the value it was looked up by (email or the unique property).
                values.setdefault(item["idProperty"], str(item["id"]))
                c = store.new_contact(values, at_ms, at_iso, source)
                store.add(c)
            else:
                store.update(c, values, at_ms, at_iso, source)
            rendered = store.render(c, list(values))
            rendered["new"] = is_new
            results.append(rendered)
        return json_response(207 if errors else 200, batch_envelope(started, self.portal.now_iso(), results, errors))

    def archive(self, request: Request) -> Response:
        inputs = batch_inputs(read_body(request))
        at_ms = self.portal.now_ms()
        store = self.portal.store
        for item in inputs:
            c = store.resolve(item.get("id"), None)
            if c is not None:
                store.archive(c, at_ms)
        return Response(status=204)
