"""HubSpot contact property definitions and groups (CRM v3 properties API), through the SDK.

I/O only: list what exists, create a group or a property, add options to an enumeration. Used by
`syncd setup hubspot` and by the back leg's check that its target properties exist. Its calls go
through the same client (limits, error table, retry policy) as every other HubSpot call.
"""

from __future__ import annotations

from typing import Any

from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyGroupCreate, PropertyUpdate

from connectors.hubspot.client import HubSpotClient

OBJECT_TYPE = "contacts"


def _option_inputs(options: list[dict[str, Any]]) -> list[OptionInput]:
    return [OptionInput(label=o["label"], value=o["value"], display_order=o.get("displayOrder", i),
                        hidden=bool(o.get("hidden", False))) for i, o in enumerate(options)]


class ContactProperties:
    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        properties = client.sdk.crm.properties       # each attribute is a new SDK client: take them once
        self.core_api, self.groups_api = properties.core_api, properties.groups_api

    def properties(self) -> dict[str, dict[str, Any]]:
        """Every (unarchived) contact property definition by internal name: one GET."""
        body = self.client.call("read properties", lambda: self.core_api.get_all(
            OBJECT_TYPE, archived=False, _request_timeout=self.client.timeout, _preload_content=False),
            lists=("results",))
        return {p["name"]: p for p in body["results"] if isinstance(p, dict) and "name" in p}

    def groups(self) -> dict[str, dict[str, Any]]:
        body = self.client.call("read property groups", lambda: self.groups_api.get_all(
            OBJECT_TYPE, _request_timeout=self.client.timeout, _preload_content=False), lists=("results",))
        return {g["name"]: g for g in body["results"] if isinstance(g, dict) and "name" in g}

    def create_group(self, name: str, label: str) -> None:
        self.client.call("create property group", lambda: self.groups_api.create(
            OBJECT_TYPE, PropertyGroupCreate(name=name, label=label, display_order=-1),
            _request_timeout=self.client.timeout, _preload_content=False))

    def create_property(self, definition: dict[str, Any]) -> None:
        request = PropertyCreate(
            name=definition["name"], label=definition["label"], type=definition["type"],
            field_type=definition["fieldType"], group_name=definition["groupName"],
            description=definition.get("description", ""), form_field=False,
            options=_option_inputs(definition.get("options") or []))
        self.client.call("create property", lambda: self.core_api.create(
            OBJECT_TYPE, request, _request_timeout=self.client.timeout, _preload_content=False))

    def set_options(self, name: str, options: list[dict[str, Any]]) -> None:
        """Replace an enumeration's options (callers pass the existing ones plus the new)."""
        self.client.call("update property", lambda: self.core_api.update(
            OBJECT_TYPE, name, PropertyUpdate(options=_option_inputs(options)),
            _request_timeout=self.client.timeout, _preload_content=False))
