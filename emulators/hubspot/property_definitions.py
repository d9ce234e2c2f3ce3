"""The standard contact property definitions and groups of the emulated HubSpot portal, as data.

The standard contact properties syncd's default mapping reads, the demo's custom properties, and
the property groups they sit in, in the shape the CRM v3 properties API returns them. Each
emulator gets a mutable copy through ``PropertyRegistry`` (``emulators.hubspot.properties``).
"""

from __future__ import annotations

from typing import Any, Iterable

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

# HubSpot's "Employment Role" (``hs_role``): a subset of its options, as the portal lists them.
ROLES = [
    ("accounting", "Accounting"),
    ("consulting", "Consulting"),
    ("customer_service", "Customer Service"),
    ("design", "Design"),
    ("education", "Education"),
    ("engineering", "Engineering"),
    ("finance", "Finance"),
    ("human_resources", "Human Resources"),
    ("information_technology", "Information Technology"),
    ("legal", "Legal"),
    ("marketing", "Marketing"),
    ("operations", "Operations"),
    ("product", "Product"),
    ("sales", "Sales"),
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


def option_list(pairs: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False}
        for i, (value, label) in enumerate(pairs)
    ]


def definition(name: str, label: str, type_: str, field_type: str, group: str, description: str = "", *,
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
        "options": option_list(options) if options else [],
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
    definition("firstname", "First Name", _S, "text", CI, "A contact's first name", form_field=True),
    definition("lastname", "Last Name", _S, "text", CI, "A contact's last name", form_field=True),
    definition("email", "Email", _S, "text", CI, "A contact's email address", form_field=True),
    definition("company", "Company Name", _S, "text", CI, "Name of the contact's company", form_field=True),
    definition("jobtitle", "Job Title", _S, "text", CI, "A contact's job title", form_field=True),
    definition("phone", "Phone Number", _S, "phonenumber", CI, "A contact's primary phone number", form_field=True),
    definition("mobilephone", "Mobile Phone Number", _S, "phonenumber", CI, "A contact's mobile phone number", form_field=True),
    definition("website", "Website URL", _S, "text", CI, "Associated company website", form_field=True),
    definition("address", "Street Address", _S, "text", CI, "Contact's street address", form_field=True),
    definition("city", "City", _S, "text", CI, "A contact's city of residence", form_field=True),
    definition("state", "State/Region", _S, "text", CI, "The contact's state of residence", form_field=True),
    definition("zip", "Postal Code", _S, "text", CI, "Contact's zip code", form_field=True),
    definition("country", "Country/Region", _S, "text", CI, "The contact's country/region of residence", form_field=True),
    definition("industry", "Industry", _S, "text", CI, "The Industry a contact is in", form_field=True),
    definition("numemployees", "Number of Employees", _E, "select", CI,
        "The number of company employees", options=EMPLOYEE_RANGES, form_field=True),
    definition("hs_role", "Employment Role", _E, "select", CI,
        "Job role of the contact", options=ROLES, form_field=True),
    definition("lifecyclestage", "Lifecycle Stage", _E, "radio", CI,
        "The qualification of contacts to sales readiness", options=LIFECYCLE_STAGES, form_field=True),
    definition("hs_lead_status", "Lead Status", _E, "radio", "sales_properties",
        "The contact's sales, prospecting or outreach status", options=LEAD_STATUSES, form_field=True),
    definition("hubspotscore", "HubSpot Score", _N, "number", CI,
        "The number that shows qualification of contacts to sales readiness", read_only=True, calculated=True),
    # Web analytics history (calculated by HubSpot; read-only through the API)
    definition("hs_analytics_source", "Original Traffic Source", _E, "select", AI,
        "First known source the contact used to find your website", options=ANALYTICS_SOURCES, read_only=True),
    definition("hs_analytics_source_data_1", "Original Traffic Source Drill-Down 1", _S, "text", AI,
        "Additional information about the source through which the contact first found your website",
        read_only=True),
    definition("hs_analytics_source_data_2", "Original Traffic Source Drill-Down 2", _S, "text", AI,
        "Additional information about the source through which the contact first found your website",
        read_only=True),
    definition("hs_latest_source", "Latest Traffic Source", _E, "select", AI,
        "The source of the latest session for a contact", options=ANALYTICS_SOURCES, read_only=True),
    definition("hs_latest_source_data_1", "Latest Traffic Source Drill-Down 1", _S, "text", AI,
        "Additional information about the latest source", read_only=True),
    definition("hs_latest_source_data_2", "Latest Traffic Source Drill-Down 2", _S, "text", AI,
        "Additional information about the latest source", read_only=True),
    definition("hs_analytics_first_url", "First Page Seen", _S, "text", AI,
        "First page the contact visited on your website", read_only=True),
    definition("hs_analytics_last_url", "Last Page Seen", _S, "text", AI,
        "Last page the contact visited on your website", read_only=True),
    definition("hs_analytics_num_page_views", "Number of Pageviews", _N, "number", AI,
        "Total number of page views this contact has had on your website", read_only=True, calculated=True),
    definition("hs_analytics_num_visits", "Number of Sessions", _N, "number", AI,
        "The number of times a contact has come to your website", read_only=True, calculated=True),
    definition("hs_analytics_first_touch_converting_campaign", "First Touch Converting Campaign", _S, "text", AI,
        "Campaign responsible for the first touch creation of this contact", read_only=True),
    definition("hs_analytics_last_touch_converting_campaign", "Last Touch Converting Campaign", _S, "text", AI,
        "Campaign responsible for the last touch creation of this contact", read_only=True),
    # Conversion information
    definition("first_conversion_event_name", "First Conversion", _S, "text", CV,
        "First form this contact submitted", read_only=True),
    definition("first_conversion_date", "First Conversion Date", _DT, "date", CV,
        "Date this contact first submitted a form", read_only=True),
    definition("recent_conversion_event_name", "Recent Conversion", _S, "text", CV,
        "Last form this contact submitted", read_only=True),
    definition("recent_conversion_date", "Recent Conversion Date", _DT, "date", CV,
        "Date this contact last submitted a form", read_only=True),
    definition("num_conversion_events", "Number of Form Submissions", _N, "number", CV,
        "The number of forms this contact has submitted", read_only=True, calculated=True),
    # Email information
    definition("hs_email_last_email_name", "Last marketing email name", _S, "text", EI,
        "The name of the last marketing email sent to the contact", read_only=True),
    definition("hs_email_last_open_date", "Last marketing email open date", _DT, "date", EI,
        "The last time a contact opened a marketing email", read_only=True),
    definition("hs_email_last_click_date", "Last marketing email click date", _DT, "date", EI,
        "The last time a contact clicked a link in a marketing email", read_only=True),
    # System properties
    definition("hs_object_id", "Record ID", _N, "number", CI,
        "The unique ID for this record. This value is set automatically by HubSpot.", read_only=True),
    definition("createdate", "Create Date", _DT, "date", CI, "The date that a contact entered the system"),
    definition("lastmodifieddate", "Last Modified Date", _DT, "date", CI,
        "Most recent timestamp of any property update for this contact", read_only=True),
    # Set by merges: the ids merged into this record, and the emails of the records merged in.
    definition("hs_merged_object_ids", "Merged Contact IDs", _S, "text", CI,
        "The list of Contact record IDs that have been merged into this Contact", read_only=True,
        calculated=True),
    definition("hs_additional_emails", "Additional email addresses", _S, "text", CI,
        "A set of additional email addresses for a contact", read_only=True),
    # Demo custom properties
    definition("utm_source", "UTM Source", _S, "text", "syncd_demo", "utm_source of the converting visit", custom=True),
    definition("utm_medium", "UTM Medium", _S, "text", "syncd_demo", "utm_medium of the converting visit", custom=True),
    definition("utm_campaign", "UTM Campaign", _S, "text", "syncd_demo", "utm_campaign of the converting visit", custom=True),
    definition("pain_points", "Pain Points", _S, "textarea", "syncd_demo", "What the lead told us hurts", custom=True,
        form_field=True),
    definition("biggest_challenge", "Biggest Challenge", _S, "text", "syncd_demo", "Biggest challenge, from the form",
        custom=True, form_field=True),
    definition("budget_amount", "Budget Amount", _N, "number", "syncd_demo", "Budget the lead told us, from the form",
        custom=True, form_field=True),
]

# What search / GET / batch read return when no ``properties`` are asked for (documented for contacts).
DEFAULT_CONTACT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
# Returned on every record whatever was asked for.
ALWAYS_RETURNED = ("createdate", "hs_object_id", "lastmodifieddate")
# Searched by the free-text ``query`` (documented default searchable contact properties).
QUERY_SEARCHABLE = ("firstname", "lastname", "email", "phone", "mobilephone", "company", "hs_additional_emails",
                    "fax")

