"""Contact property values in the HubSpot emulator: validation and normalisation, as HubSpot does it.

``PropertyRegistry`` holds one portal's mutable copy of the definitions (data in
``property_definitions``; the properties API can create, update and archive them) and validates
and normalises a written value the way HubSpot does:

* every value travels as a string; ``""`` (or JSON ``null``) clears the property;
* ``number`` values must parse as numbers (``INVALID_INTEGER`` otherwise);
* ``datetime`` values may be epoch milliseconds or ISO 8601 and are returned as
  ``2024-01-31T10:00:00.000Z``; ``date`` values must be midnight UTC (``INVALID_DATE``,
  message ``"... is at 10:0:0.0 UTC, not midnight!"`` as HubSpot words it) and are returned
  as ``YYYY-MM-DD``;
* ``enumeration`` and ``bool`` values must be one of the options' values (``INVALID_OPTION``);
  multiple-checkbox enumerations take ``;``-separated values;
* the ``email`` property must look like an e-mail address (``INVALID_EMAIL``);
* unknown properties are ``PROPERTY_DOESNT_EXIST``; calculated ones are ``READ_ONLY_VALUE``.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from emulators.hubspot.property_definitions import (
    CONTACT_PROPERTIES,
    PROPERTY_GROUPS,
    VALID_FIELD_TYPES,
    definition,
    option_list,
)
from emulators.hubspot.timefmt import iso_ms, parse_time_ms

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _ms_clock_text(ms: int) -> str:
    rem = ms % 86_400_000
    h, rem = divmod(rem, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, milli = divmod(rem, 1000)
    return f"{h}:{m}:{s}.{milli}"


def _number_text(value: float) -> str:
    if value.is_integer() and abs(value) < 1e18:
        return str(int(value))
    return repr(value)


# ----------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class PropertyIssue:
    """One invalid property value, as HubSpot reports it inside a VALIDATION_ERROR."""

    name: str
    code: str
    message: str


def validation_message(issues: list[PropertyIssue], portal_id: int) -> str:
    """HubSpot's ``Property values were not valid: [...]`` message text."""
    details = [
        {"isValid": False, "message": i.message, "error": i.code, "name": i.name,
         "localizedErrorMessage": i.message, "portalId": portal_id}
        for i in issues
    ]
    return "Property values were not valid: " + json.dumps(details, separators=(",", ":"))


def validation_errors(issues: list[PropertyIssue]) -> list[dict[str, Any]]:
    return [{"message": i.message, "code": i.code, "context": {"propertyName": [i.name]}} for i in issues]


def typed_value(ptype: str, text: str) -> Any:
    """A normalised stored string → the value search compares and sorts by."""
    if ptype == "number":
        try:
            return float(text)
        except ValueError:
            return None
    if ptype in ("datetime", "date"):
        return parse_time_ms(text)
    return text.lower()


class PropertyRegistry:
    """The contact property definitions and groups of one emulated portal (mutable)."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {g["name"]: copy.deepcopy(g) for g in PROPERTY_GROUPS}
        self.props: dict[str, dict[str, Any]] = {p["name"]: copy.deepcopy(p) for p in CONTACT_PROPERTIES}

    # -- lookups

    def get(self, name: str) -> dict[str, Any] | None:
        prop = self.props.get(name)
        if prop is None or prop.get("archived"):
            return None
        return prop

    def type_of(self, name: str) -> str | None:
        prop = self.get(name)
        return prop["type"] if prop else None

    def active(self) -> list[dict[str, Any]]:
        return [p for p in self.props.values() if not p.get("archived")]

    # -- value validation

    def normalise(self, name: str, raw: Any, *, enforce_read_only: bool) -> tuple[str, PropertyIssue | None]:
        """Validate one written value; return the stored text ('' clears) or an issue."""
        prop = self.get(name)
        if prop is None:
            return "", PropertyIssue(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
        if enforce_read_only and prop["modificationMetadata"].get("readOnlyValue"):
            return "", PropertyIssue(name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.')
        if raw is None:
            return "", None
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        elif isinstance(raw, float):
            text = _number_text(raw)
        else:
            text = str(raw)
        if text == "":
            return "", None
        ptype = prop["type"]
        if ptype == "number":
            stripped = text.strip()
            if not _NUMBER_RE.match(stripped) or not math.isfinite(float(stripped)):
                return "", PropertyIssue(name, "INVALID_INTEGER", f"{text} is not a valid number.")
            return _number_text(float(stripped)), None
        if ptype == "datetime":
            ms = parse_time_ms(text)
            if ms is None:
                return "", PropertyIssue(name, "INVALID_DATE", f"{text} is not a valid datetime; use epoch "
                                         "milliseconds or ISO 8601.")
            return iso_ms(ms), None
        if ptype == "date":
            ms = parse_time_ms(text)
            if ms is None:
                return "", PropertyIssue(name, "INVALID_DATE", f"{text} is not a valid date; use epoch "
                                         "milliseconds at midnight UTC or YYYY-MM-DD.")
            if ms % 86_400_000:
                return "", PropertyIssue(name, "INVALID_DATE", f"{text} is at {_ms_clock_text(ms)} UTC, not midnight!")
            return iso_ms(ms)[:10], None
        if ptype == "bool":
            lowered = text.strip().lower()
            if lowered not in ("true", "false"):
                return "", PropertyIssue(name, "INVALID_OPTION", self._option_message(text, prop))
            return lowered, None
        if ptype == "enumeration":
            allowed = {o["value"] for o in prop.get("options", [])}
            parts = text.split(";") if prop.get("fieldType") == "checkbox" else [text]
            for part in parts:
                if part not in allowed:
                    return "", PropertyIssue(name, "INVALID_OPTION", self._option_message(part, prop))
            return text, None
        if name == "email" and not _EMAIL_RE.match(text.strip()):
            return "", PropertyIssue(name, "INVALID_EMAIL", f"Email address {text} is invalid")
        return text, None

    @staticmethod
    def _option_message(value: str, prop: dict[str, Any]) -> str:
        options = prop.get("options") or [{"label": "true", "value": "true"}, {"label": "false", "value": "false"}]
        listed = ", ".join(
            f'label: "{o["label"]}"\nvalue: "{o["value"]}"\ndisplay_order: {o.get("displayOrder", -1)}\n'
            f'hidden: {str(o.get("hidden", False)).lower()}\nread_only: false\n'
            for o in options
        )
        return f"{value} was not one of the allowed options: [{listed}]"

    def validate(self, values: dict[str, Any], *, enforce_read_only: bool) -> tuple[dict[str, str], list[PropertyIssue]]:
        out: dict[str, str] = {}
        issues: list[PropertyIssue] = []
        for name, raw in values.items():
            text, issue = self.normalise(name, raw, enforce_read_only=enforce_read_only)
            if issue:
                issues.append(issue)
            else:
                out[name] = text
        return out, issues

    # -- definition validation (properties API)

    def check_definition(self, body: dict[str, Any], *, creating: bool) -> list[dict[str, Any]]:
        """Errors (HubSpot ``errors[]`` items) for a property create / update body."""
        errors: list[dict[str, Any]] = []
        required = ("name", "label", "type", "fieldType", "groupName") if creating else ()
        for field in required:
            if not isinstance(body.get(field), str) or not body.get(field):
                errors.append({"message": f"Required property '{field}' is missing", "in": field,
                               "code": "REQUIRED_FIELD"})
        if errors:
            return errors
        name = body.get("name")
        if creating and not re.match(r"^[a-z][a-z0-9_]*$", name or ""):
            errors.append({"message": f"Property name '{name}' must start with a lowercase letter and contain only "
                           "lowercase letters, digits and underscores", "in": "name", "code": "INVALID_NAME"})
        ptype = body.get("type")
        if ptype is not None and ptype not in VALID_FIELD_TYPES:
            errors.append({"message": f"Invalid type '{ptype}'. Must be one of {sorted(VALID_FIELD_TYPES)}",
                           "in": "type", "code": "INVALID_ENUM"})
        field_type = body.get("fieldType")
        effective_type = ptype if ptype is not None else (self.props.get(name or "", {}).get("type"))
        if field_type is not None and effective_type in VALID_FIELD_TYPES \
                and field_type not in VALID_FIELD_TYPES[effective_type]:
            errors.append({"message": f"fieldType '{field_type}' is not valid for type '{effective_type}'. Valid "
                           f"field types: {sorted(VALID_FIELD_TYPES[effective_type])}", "in": "fieldType",
                           "code": "INVALID_FIELD_TYPE"})
        group = body.get("groupName")
        if group is not None and (group not in self.groups or self.groups[group].get("archived")):
            errors.append({"message": f"Property group '{group}' does not exist", "in": "groupName",
                           "code": "INVALID_GROUP"})
        options = body.get("options")
        if effective_type == "enumeration" and creating and not options:
            errors.append({"message": "Enumeration properties must have at least one option", "in": "options",
                           "code": "REQUIRED_FIELD"})
        if options is not None:
            if not isinstance(options, list) or not all(
                    isinstance(o, dict) and isinstance(o.get("value"), str) and isinstance(o.get("label"), str)
                    for o in options):
                errors.append({"message": "Each option needs a string 'label' and 'value'", "in": "options",
                               "code": "INVALID_OPTIONS"})
        return errors

    def build_definition(self, body: dict[str, Any], now_iso: str) -> dict[str, Any]:
        prop = definition(body["name"], body["label"], body["type"], body["fieldType"], body["groupName"],
                  body.get("description", ""), custom=True, unique=bool(body.get("hasUniqueValue", False)),
                  form_field=bool(body.get("formField", False)))
        prop["options"] = [
            {"label": o["label"], "value": o["value"], "displayOrder": o.get("displayOrder", i),
             "hidden": bool(o.get("hidden", False)), **({"description": o["description"]} if "description" in o else {})}
            for i, o in enumerate(body.get("options") or [])
        ]
        if prop["type"] == "bool" and not prop["options"]:
            prop["options"] = option_list([("true", "True"), ("false", "False")])
        prop["displayOrder"] = body.get("displayOrder", -1)
        prop["hidden"] = bool(body.get("hidden", False))
        prop["createdAt"] = prop["updatedAt"] = now_iso
        prop["createdUserId"] = "0"
        prop["updatedUserId"] = "0"
        return prop
