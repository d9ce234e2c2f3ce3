"""The contact properties API of the HubSpot emulator: property definitions and property groups.

``/crm/v3/properties/contacts[/{name}]``, its ``batch/{create,read,archive}`` and
``/groups[/{name}]``. HubSpot-defined properties cannot be archived or change type; a name
already taken is 409 ``OBJECT_ALREADY_EXISTS``. The definitions live in the emulator's
``PropertyRegistry`` (the portal's ``registry``); a change there can change what search
matches, so the app tells the contact store after every write here.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from werkzeug.wrappers import Request, Response

from emulators.hubspot.errors import ApiError, json_response
from emulators.hubspot.portal import Portal
from emulators.hubspot.wire import batch_envelope, batch_inputs, flag, read_body


class PropertiesApi:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    def _prop_or_404(self, name: str) -> dict[str, Any]:
        prop = self.portal.registry.get(name)
        if prop is None:
            raise ApiError(404, f"Unable to find property {name} for object type 0-1", "OBJECT_NOT_FOUND",
                            context={"propertyName": [name]})
        return prop

    def list(self, request: Request) -> Response:
        archived = flag(request, "archived")
        results = [copy.deepcopy(p) for p in self.portal.registry.props.values() if bool(p.get("archived")) == archived]
        return json_response(200, {"results": results})

    def get(self, request: Request, name: str) -> Response:
        return json_response(200, copy.deepcopy(self._prop_or_404(name)))

    def _make_property(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input JSON: expected a property definition object", "VALIDATION_ERROR")
        errors = self.portal.registry.check_definition(body, creating=True)
        if errors:
            raise ApiError(400, "Invalid property definition: " + "; ".join(e["message"] for e in errors),
                            "VALIDATION_ERROR", errors=errors)
        name = body["name"]
        existing = self.portal.registry.props.get(name)
        if existing is not None and not existing.get("archived"):
            raise ApiError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS",
                            context={"name": [name]})
        prop = self.portal.registry.build_definition(body, self.portal.now_iso())
        self.portal.registry.props[name] = prop
        return prop

    def create(self, request: Request) -> Response:
        return json_response(201, copy.deepcopy(self._make_property(read_body(request))))

    def update(self, request: Request, name: str) -> Response:
        prop = self._prop_or_404(name)
        body = read_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input JSON", "VALIDATION_ERROR")
        if "type" in body and body["type"] != prop["type"] and prop.get("hubspotDefined"):
            raise ApiError(400, f"Cannot change the type of HubSpot-defined property {name}", "VALIDATION_ERROR")
        errors = self.portal.registry.check_definition({**body, "name": name}, creating=False)
        if errors:
            raise ApiError(400, "Invalid property definition: " + "; ".join(e["message"] for e in errors),
                            "VALIDATION_ERROR", errors=errors)
        for key in ("label", "description", "groupName", "type", "fieldType", "displayOrder", "hidden",
                    "formField"):
            if key in body:
                prop[key] = body[key]
        if "options" in body:
            prop["options"] = [{"label": o["label"], "value": o["value"], "displayOrder": o.get("displayOrder", i),
                                "hidden": bool(o.get("hidden", False))} for i, o in enumerate(body["options"])]
        prop["updatedAt"] = self.portal.now_iso()
        return json_response(200, copy.deepcopy(prop))

    def delete(self, request: Request, name: str) -> Response:
        prop = self._prop_or_404(name)
        if prop.get("hubspotDefined"):
            raise ApiError(400, f"Cannot archive HubSpot-defined property {name}", "VALIDATION_ERROR")
        prop["archived"] = True
        prop["archivedAt"] = self.portal.now_iso()
        return Response(status=204)

    def batch_create(self, request: Request) -> Response:
        started = self.portal.now_iso()
        inputs = batch_inputs(read_body(request))
        results, errors = [], []
        for item in inputs:
            try:
                results.append(copy.deepcopy(self._make_property(item)))
            except ApiError as exc:
                errors.append({"status": "error", "category": exc.category, "message": exc.message,
                               "context": {"name": [str(item.get("name"))]}})
        return json_response(207 if errors else 201, batch_envelope(started, self.portal.now_iso(), results, errors))

    def batch_read(self, request: Request) -> Response:
        started = self.portal.now_iso()
        body = read_body(request)
        inputs = batch_inputs(body)
        archived = bool(body.get("archived", False))
        results, missing = [], []
        for item in inputs:
            prop = self.portal.registry.props.get(str(item.get("name")))
            if prop is None or bool(prop.get("archived")) != archived:
                missing.append(str(item.get("name")))
            else:
                results.append(copy.deepcopy(prop))
        errors = []
        if missing:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                           "message": f"Unable to find some properties for object type 0-1: {missing}",
                           "context": {"names": missing}})
        return json_response(207 if errors else 200, batch_envelope(started, self.portal.now_iso(), results, errors))

    def batch_archive(self, request: Request) -> Response:
        for item in batch_inputs(read_body(request)):
            prop = self.portal.registry.get(str(item.get("name")))
            if prop is not None and not prop.get("hubspotDefined"):
                prop["archived"] = True
                prop["archivedAt"] = self.portal.now_iso()
        return Response(status=204)

    def groups_list(self, request: Request) -> Response:
        archived = flag(request, "archived")
        return json_response(200, {"results": [dict(g) for g in self.portal.registry.groups.values()
                                                     if bool(g.get("archived")) == archived]})

    def _group_or_404(self, name: str) -> dict[str, Any]:
        group = self.portal.registry.groups.get(name)
        if group is None or group.get("archived"):
            raise ApiError(404, f"Unable to find property group {name} for object type 0-1", "OBJECT_NOT_FOUND")
        return group

    def group_get(self, request: Request, name: str) -> Response:
        return json_response(200, dict(self._group_or_404(name)))

    def group_create(self, request: Request) -> Response:
        body = read_body(request)
        if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
            raise ApiError(400, "Invalid property group: 'name' and 'label' are required", "VALIDATION_ERROR",
                            errors=[{"message": "Required properties 'name' and 'label'", "code": "REQUIRED_FIELD"}])
        name = str(body["name"])
        if not re.match(r"^[a-z][a-z0-9_]*$", name):
            raise ApiError(400, f"Invalid property group name '{name}'", "VALIDATION_ERROR")
        if name in self.portal.registry.groups and not self.portal.registry.groups[name].get("archived"):
            raise ApiError(409, f"A property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS",
                            context={"name": [name]})
        group = {"name": name, "label": str(body["label"]), "displayOrder": int(body.get("displayOrder", -1)),
                 "archived": False}
        self.portal.registry.groups[name] = group
        return json_response(201, dict(group))

    def group_update(self, request: Request, name: str) -> Response:
        group = self._group_or_404(name)
        body = read_body(request)
        for key in ("label", "displayOrder"):
            if isinstance(body, dict) and key in body:
                group[key] = body[key]
        return json_response(200, dict(group))

    def group_delete(self, request: Request, name: str) -> Response:
        group = self._group_or_404(name)
        group["archived"] = True
        return Response(status=204)

