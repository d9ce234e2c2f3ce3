"""The demo org: Lead, Contact, Account, Opportunity, User and Group (queues) with the fields syncd's mapping
uses, and what Sales does to them (Task, Event, LeadHistory: ``activities``; the agreement's alerts
create Tasks), as data (``demo_schema()`` returns a fresh copy for each emulator)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from emulators.salesforce.activities import activity_objects
from emulators.salesforce.schema import FieldDef, Schema, SObjectDef

LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Advertisement",
                "Email", "Social Media", "Search", "Event", "Other")
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted")
INDUSTRIES = ("Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals",
              "Communications", "Construction", "Consulting", "Education", "Electronics",
              "Energy", "Engineering", "Entertainment", "Environmental", "Finance",
              "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance",
              "Machinery", "Manufacturing", "Media", "Not For Profit", "Recreation",
              "Retail", "Shipping", "Technology", "Telecommunications", "Transportation",
              "Utilities", "Other")
UNQUALIFIED_REASONS = ("No Budget", "No Authority", "No Need", "Bad Timing", "Competitor",
                       "Unresponsive", "Bad Data", "Other")
OPPORTUNITY_STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote",
                      "Negotiation/Review", "Closed Won", "Closed Lost")
#: Default Probability per stage, as in a fresh org.
STAGE_PROBABILITY = {"Prospecting": 10, "Qualification": 10, "Needs Analysis": 20,
                     "Proposal/Price Quote": 75, "Negotiation/Review": 90, "Closed Won": 100,
                     "Closed Lost": 0}
LOSS_REASONS = ("Price", "Competitor", "No Decision", "Timing", "Product Fit", "Other")

MERGEABLE = ("Lead", "Contact", "Account")   # the objects Salesforce merges (Apex, SOAP, the UI)
KEY_PREFIXES = {"Account": "001", "Contact": "003", "User": "005", "Opportunity": "006",
                "Lead": "00Q", "Group": "00G"}
GROUP_TYPES = ("Queue", "Regular", "Role")


def _system_fields(sobject: str, owner: bool = True) -> list[FieldDef]:
    ro = dict(createable=False, updateable=False)
    fields = [
        FieldDef("Id", "id", label=f"{sobject} ID", **ro),
        FieldDef("IsDeleted", "boolean", label="Deleted", **ro),
        FieldDef("CreatedDate", "datetime", nillable=False, **ro),
        FieldDef("CreatedById", "reference", reference_to=("User",), nillable=False, **ro),
        FieldDef("LastModifiedDate", "datetime", nillable=False, **ro),
        FieldDef("LastModifiedById", "reference", reference_to=("User",), nillable=False, **ro),
        FieldDef("SystemModstamp", "datetime", nillable=False, **ro),
    ]
    if sobject in MERGEABLE:
        # A merge deletes the losers and points them at the surviving record (queryAll sees it).
        fields.append(FieldDef("MasterRecordId", "reference", reference_to=(sobject,), label="Master Record ID",
                               **ro))
    if owner:
        fields.append(FieldDef("OwnerId", "reference", reference_to=("User",), nillable=False,
                               label="Owner ID"))
    return fields


def _name_fields() -> list[FieldDef]:
    """A person's name (Leads, Contacts, Users): ``Name`` is derived from the other two."""
    return [
        FieldDef("FirstName", "string", 40),
        FieldDef("LastName", "string", 80, required=True),
        FieldDef("Name", "string", 121, label="Full Name", calculated=True, createable=False,
                 updateable=False),
    ]


def _marketing_fields(contact: bool) -> list[FieldDef]:
    return [
        FieldDef("HubSpot_Contact_Id__c", "string", 50, external_id=True, unique=not contact,
                 label="HubSpot Contact Id"),
        FieldDef("HubSpot_Source__c", "string", 100),
        FieldDef("HubSpot_Source_Detail__c", "string", 255),
        FieldDef("HubSpot_Campaign__c", "string", 255),
        FieldDef("UTM_Source__c", "string", 255, label="UTM Source"),
        FieldDef("UTM_Medium__c", "string", 255, label="UTM Medium"),
        FieldDef("UTM_Campaign__c", "string", 255, label="UTM Campaign"),
        FieldDef("First_Touch_URL__c", "url", 255, label="First Touch URL"),
        FieldDef("Last_Touch_URL__c", "url", 255, label="Last Touch URL"),
        FieldDef("First_Conversion__c", "string", 255),
        FieldDef("Recent_Conversion__c", "string", 255),
        FieldDef("Content_Consumed__c", "textarea", 32768),
        FieldDef("Conversion_Count__c", "double", precision=18, scale=0),
        FieldDef("Page_Views__c", "double", precision=18, scale=0),
        FieldDef("Last_Marketing_Email__c", "string", 255),
        FieldDef("Pain_Points__c", "textarea", 32768),
        FieldDef("HubSpot_Lifecycle_Stage__c", "string", 100),
    ]


def demo_schema() -> Schema:
    """A fresh copy of the demo org's schema (Lead, Contact, Account, Opportunity, User, Task, Event, …)."""
    ro = dict(createable=False, updateable=False)

    lead = SObjectDef("Lead", KEY_PREFIXES["Lead"], "Lead")
    for fd in _system_fields("Lead") + _name_fields() + [
        FieldDef("Company", "string", 255, required=True),
        FieldDef("Email", "email", 80, id_lookup=True),
        FieldDef("Phone", "phone", 40),
        FieldDef("Title", "string", 128),
        FieldDef("Website", "url", 255),
        FieldDef("Industry", "picklist", 255, picklist_values=INDUSTRIES),
        FieldDef("LeadSource", "picklist", 255, picklist_values=LEAD_SOURCES,
                 restricted_picklist=True),
        FieldDef("Status", "picklist", 255, picklist_values=LEAD_STATUSES,
                 restricted_picklist=True, nillable=False, default="Open - Not Contacted"),
        FieldDef("Description", "textarea", 32000),
        FieldDef("City", "string", 40),
        FieldDef("Country", "string", 80),
        FieldDef("NumberOfEmployees", "int", precision=8),
        FieldDef("IsConverted", "boolean", label="Converted", default=False, **ro),
        FieldDef("ConvertedDate", "date", **ro),
        FieldDef("ConvertedContactId", "reference", reference_to=("Contact",), **ro),
        FieldDef("ConvertedAccountId", "reference", reference_to=("Account",), **ro),
        FieldDef("ConvertedOpportunityId", "reference", reference_to=("Opportunity",), **ro),
    ] + _marketing_fields(contact=False) + [
        FieldDef("Unqualified_Reason__c", "picklist", 255, picklist_values=UNQUALIFIED_REASONS),
    ]:
        lead.add(fd)

    contact = SObjectDef("Contact", KEY_PREFIXES["Contact"], "Contact")
    for fd in _system_fields("Contact") + _name_fields() + [
        FieldDef("Email", "email", 80, id_lookup=True),
        FieldDef("Phone", "phone", 40),
        FieldDef("Title", "string", 128),
        FieldDef("AccountId", "reference", reference_to=("Account",)),
        FieldDef("Description", "textarea", 32000),
        FieldDef("LeadSource", "picklist", 255, picklist_values=LEAD_SOURCES,
                 restricted_picklist=True),
    ] + _marketing_fields(contact=True):
        contact.add(fd)

    account = SObjectDef("Account", KEY_PREFIXES["Account"], "Account")
    for fd in _system_fields("Account") + [
        FieldDef("Name", "string", 255, required=True, id_lookup=True),
        FieldDef("Website", "url", 255),
        FieldDef("Industry", "picklist", 255, picklist_values=INDUSTRIES),
        FieldDef("Description", "textarea", 32000),
        FieldDef("NumberOfEmployees", "int", precision=8),
    ]:
        account.add(fd)

    opportunity = SObjectDef("Opportunity", KEY_PREFIXES["Opportunity"], "Opportunity")
    for fd in _system_fields("Opportunity") + [
        FieldDef("Name", "string", 120, required=True),
        FieldDef("StageName", "picklist", 255, picklist_values=OPPORTUNITY_STAGES,
                 restricted_picklist=True, required=True, label="Stage"),
        FieldDef("CloseDate", "date", required=True),
        FieldDef("Amount", "currency", precision=18, scale=2),
        FieldDef("AccountId", "reference", reference_to=("Account",)),
        FieldDef("IsClosed", "boolean", label="Closed", calculated=True, **ro),
        FieldDef("IsWon", "boolean", label="Won", calculated=True, **ro),
        FieldDef("Probability", "percent", precision=3, scale=0),
        FieldDef("Loss_Reason__c", "picklist", 255, picklist_values=LOSS_REASONS),
        FieldDef("LeadSource", "picklist", 255, picklist_values=LEAD_SOURCES,
                 restricted_picklist=True),
        FieldDef("Description", "textarea", 32000),
    ]:
        opportunity.add(fd)

    user = SObjectDef("User", KEY_PREFIXES["User"], "User")
    for fd in _system_fields("User", owner=False) + [
        FieldDef("Username", "string", 80, required=True, unique=True, id_lookup=True),
    ] + _name_fields() + [
        FieldDef("Email", "email", 128, required=True),
        FieldDef("IsActive", "boolean", label="Active", default=True),
    ]:
        user.add(fd)

    # Queues are Groups (Type 'Queue'): syncd reads the names of the queues that own Leads. The
    # emulator's Lead OwnerId still references User only; a test sets a queue owner without validation.
    group = SObjectDef("Group", KEY_PREFIXES["Group"], "Group")
    for fd in _system_fields("Group", owner=False) + [
        FieldDef("Name", "string", 40, required=True),
        FieldDef("DeveloperName", "string", 80),
        FieldDef("Type", "picklist", 40, picklist_values=GROUP_TYPES, restricted_picklist=True,
                 default="Regular"),
    ]:
        group.add(fd)

    return Schema([lead, contact, account, opportunity, user, group, *activity_objects()])


def with_overrides(fd: FieldDef, **changes: Any) -> FieldDef:
    """A copy of ``fd`` with some attributes changed (``FieldDef`` is frozen)."""
    return replace(fd, **changes)


