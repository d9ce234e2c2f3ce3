"""HubSpot contact property definitions and groups (CRM v3 properties API), through the SDK.

I/O only: list what exists, create a group or a property, add options to an enumeration. Used by
`syncd setup hubspot` and by the back leg's check that its target properties exist. The
properties API raises its own ``ApiException`` class (``hubspot.crm.properties.exceptions``); it is
turned into the contacts one here so the connector's single error policy (429 waits, typed
errors) applies to it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyGroupCreate, PropertyUpdate
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException

from connectors.hubspot import HubSpotConnector, _json

OBJECT_TYPE = "contacts"


def _option_inputs(options: list[dict[str, Any]]) -> list[OptionInput]:
    return [OptionInput(label=o["label"], value=o["value"], display_order=o.get("displayOrder", i),
                        hidden=bool(o.get("hidden", False))) for i, o in enumerate(options)]


class ContactProperties:
    def __init__(self, hubspot: HubSpotConnector) -> None:
        self.hubspot = hubspot
        self.api = hubspot.client.crm.properties

    def _call(self, what: str, fn: Callable[[], Any]) -> dict[str, Any]:
        def translated() -> dict[str, Any]:
            try:
                return _json(fn())
            except PropertiesApiException as exc:
                same = ApiException(status=exc.status, reason=exc.reason)
                same.body, same.headers = exc.body, exc.headers
                raise same from None

        return self.hubspot._call(what, translated)

    def properties(self) -> dict[str, dict[str, Any]]:
        """Every (unarchived) contact property definition by internal name: one GET."""
        body = self._call("read properties", lambda: self.api.core_api.get_all(
            OBJECT_TYPE, archived=False, _request_timeout=self.hubspot.timeout, _preload_content=False))
        return {p["name"]: p for p in body.get("results") or []}

    def groups(self) -> dict[str, dict[str, Any]]:
        body = self._call("read property groups", lambda: self.api.groups_api.get_all(
            OBJECT_TYPE, _request_timeout=self.hubspot.timeout, _preload_content=False))
        return {g["name"]: g for g in body.get("results") or []}

    def create_group(self, name: str, label: str) -> None:
        self._call("create property group", lambda: self.api.groups_api.create(
            OBJECT_TYPE, PropertyGroupCreate(name=name, label=label, display_order=-1),
            _request_timeout=self.hubspot.timeout, _preload_content=False))

    def create_property(self, definition: dict[str, Any]) -> None:
        request = PropertyCreate(
            name=definition["name"], label=definition["label"], type=definition["type"],
            field_type=definition["fieldType"], group_name=definition["groupName"],
            description=definition.get("description", ""), form_field=False,
            options=_option_inputs(definition.get("options") or []))
        self._call("create property", lambda: self.api.core_api.create(
            OBJECT_TYPE, request, _request_timeout=self.hubspot.timeout, _preload_content=False))

    def set_options(self, name: str, options: list[dict[str, Any]]) -> None:
        """Replace an enumeration's options (callers pass the existing ones plus the new)."""
        self._call("update property", lambda: self.api.core_api.update(
            OBJECT_TYPE, name, PropertyUpdate(options=_option_inputs(options)),
            _request_timeout=self.hubspot.timeout, _preload_content=False))
