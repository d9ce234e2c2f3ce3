"""The mapping file admins edit (``mappings/*.yaml``): a closed, versioned schema.

It says which HubSpot contacts qualify as leads to hand over, which Salesforce field each value
goes to, how the handoff brief reads, and what to do with Leads Sales already converted. It maps
fields and rules; it never describes HTTP. ``syncd mapping validate`` checks it and every problem
names the file, line and field; ``syncd mapping schema`` prints the JSON Schema editors use.
"""

from __future__ import annotations

import builtins
import functools
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from syncd.core.digest import digest
from syncd.core.records import Filter
from syncd.mapping import budget as _budget
from syncd.mapping import templates
from syncd.mapping.base import PROPERTY_NAME as _PROPERTY_NAME
from syncd.mapping.base import SF_FIELD_NAME as _SF_FIELD_NAME
from syncd.mapping.base import Closed as _Closed
from syncd.mapping.base import check_template as _check_template
from syncd.mapping.feedback import Feedback

# HubSpot allows 6 filters per filter group (search API docs, 2026); the read window takes 3
# (lastmodifieddate >= start, lastmodifieddate <= end, hs_object_id > last seen).
MAX_QUALIFY_CONDITIONS = 3


OPERATORS = "equals, not_equals, in, not_in, gt, gte, lt, lte, exists, contains_token"


class Condition(_Closed):
    """One condition a contact must meet to be handed over. Use exactly one operator key."""

    UNKNOWN_KEY_HELP: ClassVar[str] = f"a condition has 'property' and one operator: {OPERATORS}"

    property: str = Field(pattern=_PROPERTY_NAME, description="HubSpot contact property (internal name).")
    equals: str | int | float | bool | None = None
    not_equals: str | int | float | bool | None = None
    in_: list[str] | None = Field(default=None, alias="in", description="Value is one of these.")
    not_in: list[str] | None = None
    gt: str | int | float | None = None
    gte: str | int | float | None = None
    lt: str | int | float | None = None
    lte: str | int | float | None = None
    exists: bool | None = Field(default=None, description="true: the property has a value; false: it is empty.")
    contains_token: str | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        used = self.operators()
        if len(used) != 1:
            raise ValueError(f"use exactly one operator ({OPERATORS}); found {len(used) or 'none'}")
        return self

    def operators(self) -> dict[str, Any]:
        return {
            ("in" if name == "in_" else name): value
            for name, value in self
            if name != "property" and value is not None
        }

    # `property` is a field name here, so the decorator needs its full name.
    @builtins.property
    def operator(self) -> str:
        return next(iter(self.operators()))

    @builtins.property
    def operand(self) -> Any:
        return next(iter(self.operators().values()))

    def as_filter(self) -> Filter:
        """The condition as plain data, for a contact source to push down (HubSpot search)."""
        operand = self.operand
        return Filter(self.property, self.operator, tuple(operand) if isinstance(operand, list) else operand)


class FieldRule(_Closed):
    """Where one Salesforce field's value comes from. Use exactly one of from/history/template/value."""

    from_: str | None = Field(default=None, alias="from", pattern=_PROPERTY_NAME,
                              description="HubSpot contact property whose current value is copied.")
    history: str | None = Field(default=None, pattern=_PROPERTY_NAME,
                                description="HubSpot property whose past values are listed, newest first "
                                            "(e.g. recent_conversion_event_name: every form the lead filled).")
    template: str | None = Field(default=None, description="Jinja template; contact properties are variables.")
    value: str | int | float | bool | None = Field(default=None, description="A constant.")
    values: dict[str, str | None] | None = Field(
        default=None, description="Translate HubSpot values to Salesforce values (e.g. picklists).")
    default: str | int | float | bool | None = Field(
        default=None, description="Used when the value is empty, or not in `values`.")
    type: Literal["string", "number", "boolean", "date", "datetime"] = Field(
        default="string", description="Salesforce field type the value is converted to.")
    max_length: int | None = Field(default=None, ge=1,
                                   description="Cut longer text (with an ellipsis) instead of letting Salesforce reject it.")
    limit: int = Field(default=10, ge=1, le=100, description="history: how many past values at most.")
    separator: str = Field(default="; ", description="history: text between values.")

    _template_parses = field_validator("template")(_check_template)

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        kinds = [k for k, v in (("from", self.from_), ("history", self.history),
                                ("template", self.template), ("value", self.value)) if v is not None]
        if len(kinds) != 1:
            raise ValueError(
                "use exactly one of from, history, template, value; found "
                + (", ".join(kinds) if kinds else "none")
            )
        return self


class ConvertedRule(_Closed):
    """What to do when Sales has already converted the Lead (Salesforce refuses to update it)."""

    action: Literal["update_contact", "skip"] = Field(
        default="update_contact",
        description="update_contact: follow ConvertedContactId and write contact_fields there; skip: leave it.")
    contact_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Lead field (as mapped above) -> Contact field it is written to after conversion.")


class DeletedLeadRule(_Closed):
    """What to do when the Lead linked to a contact was deleted in Salesforce without a master
    (a merge is followed to its master whatever this says)."""

    action: Literal["unlink", "recreate"] = Field(
        default="unlink",
        description="unlink: forget the Lead (logged, kept in state) and create none for this contact again; "
                    "recreate: create a new Lead for the contact (now, or on its next edit).")


class ArchivedContactRule(_Closed):
    """What to do with the Lead of a HubSpot contact that was archived, deleted for good (GDPR) or
    merged into a contact that has a Lead of its own. syncd never writes that contact again and
    never creates a Lead for it again, whatever the action."""

    action: Literal["leave", "mark", "unlink"] = Field(
        default="leave",
        description="leave: change nothing in Salesforce; mark: set `field` to `value` on the Lead; unlink: "
                    "clear the Lead's external id (the Lead stays, outcomes stop flowing back).")
    field: str | None = Field(default=None, pattern=_SF_FIELD_NAME,
                              description="mark: the Lead field to set (e.g. a checkbox HubSpot_Deleted__c).")
    value: str | int | float | bool | None = Field(default=None, description="mark: the value it is set to.")

    @model_validator(mode="after")
    def _mark_needs_a_field(self) -> ArchivedContactRule:
        if self.action == "mark" and (self.field is None or self.value is None):
            raise ValueError("action mark needs `field` and `value` (the Lead field to set, and to what)")
        return self


class SalesforceTarget(_Closed):
    object: Literal["Lead"] = Field(default="Lead", description="Salesforce object created for each lead.")
    external_id_field: str = Field(
        pattern=_SF_FIELD_NAME,
        description="External-ID field on Lead that holds the HubSpot contact id (upsert key).")
    match_by_email: bool = Field(
        default=True, description="Link a contact to an existing Lead with the same email instead of creating one.")
    converted: ConvertedRule = Field(default_factory=ConvertedRule)
    deleted_lead: DeletedLeadRule = Field(default_factory=DeletedLeadRule)
    archived_contact: ArchivedContactRule = Field(default_factory=ArchivedContactRule)


class Brief(_Closed):
    """The handoff brief: a few lines a sales rep reads in ten seconds."""

    field: str = Field(pattern=_SF_FIELD_NAME, description="Long-text Lead field the brief is written to.")
    max_length: int = Field(default=32000, ge=100, le=131072)
    template: str

    _template_parses = field_validator("template")(_check_template)


class Attribution(_Closed):
    """What the closed-loop report groups leads by; recorded when a lead is handed over."""

    source: str = Field(default="hs_analytics_source", pattern=_PROPERTY_NAME)
    campaign: str = Field(default="utm_campaign", pattern=_PROPERTY_NAME)
    content: str = Field(default="first_conversion_event_name", pattern=_PROPERTY_NAME,
                         description="The first converting content (form, ebook, webinar).")


class TemplateBudget(_Closed):
    """What rendering one contact's templates may cost; over it, that contact is rejected with
    SYNCD_TEMPLATE_ERROR and the others go on."""

    seconds: float = Field(default=_budget.DEFAULT_SECONDS, gt=0, le=60,
                           description="CPU time for all of one contact's templates together.")
    output_characters: int = Field(
        default=_budget.DEFAULT_OUTPUT, ge=1024, le=1_048_576,
        description="What one template may write (or its field's max_length, when that is more). A field "
                    "with max_length stops rendering once it has enough to fill it.")


class Mapping(_Closed):
    version: Literal[1] = Field(description="Mapping format version. This is version 1.")
    description: str | None = None
    qualify: list[Condition] = Field(
        min_length=1, description="A contact is handed over when it meets ALL of these conditions.")
    salesforce: SalesforceTarget
    fields: dict[str, FieldRule] = Field(description="Salesforce Lead field -> where its value comes from.")
    brief: Brief | None = None
    attribution: Attribution = Field(default_factory=Attribution)
    feedback: Feedback | None = Field(
        default=None, description="Salesforce outcomes back to HubSpot contacts (the closed loop): README \"Closing the loop\".")
    template_budget: TemplateBudget | None = Field(
        default=None, description="Limits per contact for the templates (default: 1 s of CPU time, "
                                  "65,536 characters per template).")

    # Derived, filled by load_mapping(); not part of the file.
    source: str = Field(default="", exclude=True)

    # Derived views below are computed once per (frozen) mapping: the planner asks per contact.
    @functools.cached_property
    def _rules(self) -> dict[str, FieldRule]:
        rules = dict(self.fields)
        if self.brief is not None:
            rules[self.brief.field] = FieldRule(template=self.brief.template,
                                                max_length=self.brief.max_length)
        return rules

    def all_rules(self) -> dict[str, FieldRule]:
        return self._rules

    @functools.cached_property
    def budget(self) -> TemplateBudget:
        return self.template_budget or TemplateBudget()

    @functools.cached_property
    def _properties(self) -> list[str]:
        """Every HubSpot property the mapping reads (current values)."""
        props = {"email", "lastmodifieddate", "hs_object_id"}
        props.update(c.property for c in self.qualify)
        props.update((self.attribution.source, self.attribution.campaign, self.attribution.content))
        for rule in self.all_rules().values():
            if rule.from_:
                props.add(rule.from_)
            if rule.template:
                props.update(templates.analyse(rule.template).properties)
        return sorted(props)

    def properties_to_read(self) -> list[str]:
        """Every HubSpot property the mapping reads (current values)."""
        return list(self._properties)

    @functools.cached_property
    def _history(self) -> list[str]:
        props: set[str] = set()
        for rule in self.all_rules().values():
            if rule.history:
                props.add(rule.history)
            if rule.template:
                props.update(templates.analyse(rule.template).history_properties)
        return sorted(props)

    def history_properties(self) -> list[str]:
        return list(self._history)

    def filters(self) -> tuple[Filter, ...]:
        """The qualify conditions as plain data (connectors never see mapping objects)."""
        return tuple(c.as_filter() for c in self.qualify)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Changes whenever the mapping would render anything differently."""
        data = self.model_dump(mode="json", by_alias=True)
        if data.get("template_budget") is None:   # the default budget: the same mapping as before there was one
            data.pop("template_budget", None)
        data["salesforce"].pop("archived_contact", None)   # renders nothing: acts only on contacts that left
        return digest(data)
