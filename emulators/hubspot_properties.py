"""Contact property definitions, property groups and value validation for the HubSpot emulator.

The definitions are data: the standard contact properties syncd's default mapping reads,
the demo's custom properties, and the property groups they sit in, in the shape the CRM v3
properties API returns them.  ``PropertyRegistry`` holds a mutable copy per emulator (the
properties API can create, update and archive definitions) and knows how to validate and
normalise a written value the way HubSpot does:

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
import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# A fixed "definition creation" time so that property metadata is stable across runs.
_DEFINED_AT = "2019-08-06T02:41:52.082Z"

# Types and the field types HubSpot accepts for each (properties API validation).
VALID_FIELD_TYPES: dict[str, set[str]] = {
    "string": {"text", "textarea", "file", "html", "phonenumber"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"},
    "bool": {"booleancheckbox", "calculation_equation"},
    "phone_number": {"phonenumber"},
}

ANALYTICS_SOURCES = [
    ("ORGANIC_SEARCH", "Organic Search"),
    ("PAID_SEARCH", "Paid Search"),
    ("EMAIL_MARKETING", "Email Marketing"),
    ("SOCIAL_MEDIA", "Organic Social"),
    ("REFERRALS", "Referrals"),
    ("OTHER_CAMPAIGNS", "Other Campaigns"),
    ("DIRECT_TRAFFIC", "Direct Traffic"),
    ("OFFLINE", "Offline Sources"),
    ("PAID_SOCIAL", "Paid Social"),
    ("AI_REFERRALS", "AI Referrals"),
]

LIFECYCLE_STAGES = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
]

LEAD_STATUSES = [
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
]

EMPLOYEE_RANGES = [(v, v) for v in ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")]

PROPERTY_GROUPS: list[dict[str, Any]] = [
    {"name": "contactinformation", "label": "Contact information", "displayOrder": 0, "archived": False},
    {"name": "emailinformation", "label": "Email information", "displayOrder": 1, "archived": False},
    {"name": "analyticsinformation", "label": "Web analytics history", "displayOrder": 2, "archived": False},
    {"name": "conversioninformation", "label": "Conversion information", "displayOrder": 3, "archived": False},
    {"name": "sales_properties", "label": "Sales properties", "displayOrder": 4, "archived": False},
    {"name": "socialmediainformation", "label": "Social media information", "displayOrder": 5, "archived": False},
    {"name": "syncd_demo", "label": "Demo properties", "displayOrder": 6, "archived": False},
]


def _options(pairs: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False}
        for i, (value, label) in enumerate(pairs)
    ]


def _p(name: str, label: str, type_: str, field_type: str, group: str, description: str = "", *,
       options: Iterable[tuple[str, str]] | None = None, read_only: bool = False,
       calculated: bool = False, custom: bool = False, unique: bool = False,
       form_field: bool = False) -> dict[str, Any]:
    prop: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": description,
        "groupName": group,
        "options": _options(options) if options else [],
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": False,
        "hasUniqueValue": unique,
        "hidden": False,
        "modificationMetadata": {
            "archivable": custom,
            "readOnlyDefinition": not custom,
            "readOnlyValue": read_only,
        },
        "formField": form_field,
        "dataSensitivity": "non_sensitive",
        "createdAt": _DEFINED_AT,
        "updatedAt": _DEFINED_AT,
        "archived": False,
    }
    if not custom:
        prop["hubspotDefined"] = True
    return prop


_S, _N, _DT, _E = "string", "number", "datetime", "enumeration"
CI, AI, EI, CV = "contactinformation", "analyticsinformation", "emailinformation", "conversioninformation"

CONTACT_PROPERTIES: list[dict[str, Any]] = [
    _p("firstname", "First Name", _S, "text", CI, "A contact's first name", form_field=True),
    _p("lastname", "Last Name", _S, "text", CI, "A contact's last name", form_field=True),
    _p("email", "Email", _S, "text", CI, "A contact's email address", form_field=True),
    _p("company", "Company Name", _S, "text", CI, "Name of the contact's company", form_field=True),
    _p("jobtitle", "Job Title", _S, "text", CI, "A contact's job title", form_field=True),
    _p("phone", "Phone Number", _S, "phonenumber", CI, "A contact's primary phone number", form_field=True),
    _p("mobilephone", "Mobile Phone Number", _S, "phonenumber", CI, "A contact's mobile phone number", form_field=True),
    _p("website", "Website URL", _S, "text", CI, "Associated company website", form_field=True),
    _p("address", "Street Address", _S, "text", CI, "Contact's street address", form_field=True),
    _p("city", "City", _S, "text", CI, "A contact's city of residence", form_field=True),
    _p("state", "State/Region", _S, "text", CI, "The contact's state of residence", form_field=True),
    _p("zip", "Postal Code", _S, "text", CI, "Contact's zip code", form_field=True),
    _p("country", "Country/Region", _S, "text", CI, "The contact's country/region of residence", form_field=True),
    _p("industry", "Industry", _S, "text", CI, "The Industry a contact is in", form_field=True),
    _p("numemployees", "Number of Employees", _E, "select", CI,
       "The number of company employees", options=EMPLOYEE_RANGES, form_field=True),
    _p("lifecyclestage", "Lifecycle Stage", _E, "radio", CI,
       "The qualification of contacts to sales readiness", options=LIFECYCLE_STAGES, form_field=True),
    _p("hs_lead_status", "Lead Status", _E, "radio", "sales_properties",
       "The contact's sales, prospecting or outreach status", options=LEAD_STATUSES, form_field=True),
    _p("hubspotscore", "HubSpot Score", _N, "number", CI,
       "The number that shows qualification of contacts to sales readiness", read_only=True, calculated=True),
    # Web analytics history (calculated by HubSpot; read-only through the API)
    _p("hs_analytics_source", "Original Traffic Source", _E, "select", AI,
       "First known source the contact used to find your website", options=ANALYTICS_SOURCES, read_only=True),
    _p("hs_analytics_source_data_1", "Original Traffic Source Drill-Down 1", _S, "text", AI,
       "Additional information about the source through which the contact first found your website",
       read_only=True),
    _p("hs_analytics_source_data_2", "Original Traffic Source Drill-Down 2", _S, "text", AI,
       "Additional information about the source through which the contact first found your website",
       read_only=True),
    _p("hs_latest_source", "Latest Traffic Source", _E, "select", AI,
       "The source of the latest session for a contact", options=ANALYTICS_SOURCES, read_only=True),
    _p("hs_latest_source_data_1", "Latest Traffic Source Drill-Down 1", _S, "text", AI,
       "Additional information about the latest source", read_only=True),
    _p("hs_latest_source_data_2", "Latest Traffic Source Drill-Down 2", _S, "text", AI,
       "Additional information about the latest source", read_only=True),
    _p("hs_analytics_first_url", "First Page Seen", _S, "text", AI,
       "First page the contact visited on your website", read_only=True),
    _p("hs_analytics_last_url", "Last Page Seen", _S, "text", AI,
       "Last page the contact visited on your website", read_only=True),
    _p("hs_analytics_num_page_views", "Number of Pageviews", _N, "number", AI,
       "Total number of page views this contact has had on your website", read_only=True, calculated=True),
    _p("hs_analytics_num_visits", "Number of Sessions", _N, "number", AI,
       "The number of times a contact has come to your website", read_only=True, calculated=True),
    _p("hs_analytics_first_touch_converting_campaign", "First Touch Converting Campaign", _S, "text", AI,
       "Campaign responsible for the first touch creation of this contact", read_only=True),
    _p("hs_analytics_last_touch_converting_campaign", "Last Touch Converting Campaign", _S, "text", AI,
       "Campaign responsible for the last touch creation of this contact", read_only=True),
    # Conversion information
    _p("first_conversion_event_name", "First Conversion", _S, "text", CV,
       "First form this contact submitted", read_only=True),
    _p("first_conversion_date", "First Conversion Date", _DT, "date", CV,
       "Date this contact first submitted a form", read_only=True),
    _p("recent_conversion_event_name", "Recent Conversion", _S, "text", CV,
       "Last form this contact submitted", read_only=True),
    _p("recent_conversion_date", "Recent Conversion Date", _DT, "date", CV,
       "Date this contact last submitted a form", read_only=True),
    _p("num_conversion_events", "Number of Form Submissions", _N, "number", CV,
       "The number of forms this contact has submitted", read_only=True, calculated=True),
    # Email information
    _p("hs_email_last_email_name", "Last marketing email name", _S, "text", EI,
       "The name of the last marketing email sent to the contact", read_only=True),
    _p("hs_email_last_open_date", "Last marketing email open date", _DT, "date", EI,
       "The last time a contact opened a marketing email", read_only=True),
    _p("hs_email_last_click_date", "Last marketing email click date", _DT, "date", EI,
       "The last time a contact clicked a link in a marketing email", read_only=True),
    # System properties
    _p("hs_object_id", "Record ID", _N, "number", CI,
       "The unique ID for this record. This value is set automatically by HubSpot.", read_only=True),
    _p("createdate", "Create Date", _DT, "date", CI, "The date that a contact entered the system"),
    _p("lastmodifieddate", "Last Modified Date", _DT, "date", CI,
       "Most recent timestamp of any property update for this contact", read_only=True),
    # Demo custom properties
    _p("utm_source", "UTM Source", _S, "text", "syncd_demo", "utm_source of the converting visit", custom=True),
    _p("utm_medium", "UTM Medium", _S, "text", "syncd_demo", "utm_medium of the converting visit", custom=True),
    _p("utm_campaign", "UTM Campaign", _S, "text", "syncd_demo", "utm_campaign of the converting visit", custom=True),
    _p("pain_points", "Pain Points", _S, "textarea", "syncd_demo", "What the lead told us hurts", custom=True,
       form_field=True),
    _p("biggest_challenge", "Biggest Challenge", _S, "text", "syncd_demo", "Biggest challenge, from the form",
       custom=True, form_field=True),
]

# What search / GET / batch read return when no ``properties`` are asked for (documented for contacts).
DEFAULT_CONTACT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
# Returned on every record whatever was asked for.
ALWAYS_RETURNED = ("createdate", "hs_object_id", "lastmodifieddate")
# Searched by the free-text ``query`` (documented default searchable contact properties).
QUERY_SEARCHABLE = ("firstname", "lastname", "email", "phone", "mobilephone", "company", "hs_additional_emails",
                    "fax")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_EPOCH_MS_RE = re.compile(r"^-?\d+$")


# ----------------------------------------------------------------------------- time helpers


def iso_ms(ms: int) -> str:
    """Epoch milliseconds → ``2024-01-31T10:00:00.000Z``."""
    d = EPOCH + dt.timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def to_ms(when: dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_time_ms(raw: str) -> int | None:
    """Epoch milliseconds or ISO 8601 (date, or date-time with ``Z``/offset) → epoch ms."""
    s = raw.strip()
    if not s:
        return None
    if _EPOCH_MS_RE.match(s):
        return int(s)
    try:
        if len(s) == 10:
            d = dt.datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        else:
            d = dt.datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
            if d.tzinfo is None:
                d = d.replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    return to_ms(d)


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
        prop = _p(body["name"], body["label"], body["type"], body["fieldType"], body["groupName"],
                  body.get("description", ""), custom=True, unique=bool(body.get("hasUniqueValue", False)),
                  form_field=bool(body.get("formField", False)))
        prop["options"] = [
            {"label": o["label"], "value": o["value"], "displayOrder": o.get("displayOrder", i),
             "hidden": bool(o.get("hidden", False)), **({"description": o["description"]} if "description" in o else {})}
            for i, o in enumerate(body.get("options") or [])
        ]
        if prop["type"] == "bool" and not prop["options"]:
            prop["options"] = _options([("true", "True"), ("false", "False")])
        prop["displayOrder"] = body.get("displayOrder", -1)
        prop["hidden"] = bool(body.get("hidden", False))
        prop["createdAt"] = prop["updatedAt"] = now_iso
        prop["createdUserId"] = "0"
        prop["updatedUserId"] = "0"
        return prop
