"""The mapping's `feedback` section: what Sales learned, carried back onto the HubSpot contact.

It says how a Salesforce Lead and its Opportunity become an *outcome* (contacted, disqualified,
opportunity, won, lost), which HubSpot contact property each Salesforce value or derived value
goes to (with value maps for picklists), and which lifecycle stage an outcome moves the contact
to. Direction is explicit and checked by ``feedback_problems``:

- the HubSpot properties listed here are written only by syncd's back leg; the forward leg must
  not read them as marketing context (unless the property says ``forward_may_read: true``);
- the Salesforce fields read here are owned by Sales; the forward leg must not write them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from syncd.core.outcomes import Outcome
from syncd.mapping.base import SF_FIELD_NAME as _SF_FIELD_NAME
from syncd.mapping.base import Closed as _Closed

# Values syncd derives from the Salesforce records and its own observations (not fields).
DERIVED_SOURCES = {
    "outcome": "contacted, disqualified, opportunity, won or lost (see the outcome rules)",
    "reason": "the disqualification reason (disqualified) or the loss reason (lost); empty otherwise",
    "outcome_at": "when syncd first saw the current outcome (the record's LastModifiedDate)",
    "first_contacted_at": "when syncd first saw Sales move the Lead out of the open statuses",
    "closed_at": "when syncd first saw the Opportunity closed (cleared if it is reopened)",
}
_SOURCE = r"^(outcome|reason|outcome_at|first_contacted_at|closed_at|(Lead|Opportunity)\.[A-Za-z][A-Za-z0-9_]*)$"
_PROPERTY_NAME = r"^[a-z][a-z0-9_]*$"

# HubSpot's default lifecycle stages, earliest first.
DEFAULT_STAGE_ORDER = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
                       "customer", "evangelist"]

class FeedbackProperty(_Closed):
    """One HubSpot contact property syncd writes from Salesforce."""

    from_: str = Field(alias="from", pattern=_SOURCE, description=(
        "Lead.<Field>, Opportunity.<Field>, or a derived value: " + "; ".join(
            f"{k}: {v}" for k, v in DERIVED_SOURCES.items())))
    type: Literal["string", "number", "date", "datetime", "enumeration"] = Field(
        default="string", description="HubSpot property type (`syncd setup hubspot` creates it so).")
    label: str | None = Field(default=None, description="Label for `syncd setup hubspot` (default: from the name).")
    values: dict[str, str] | None = Field(
        default=None, description="Translate Salesforce values to HubSpot values (enumeration option values).")
    unmapped: str | None = Field(
        default=None, description="HubSpot value for a Salesforce value not listed in `values` "
                                  "(an empty Salesforce value stays empty).")
    forward_may_read: bool = Field(
        default=False, description="Allow the forward leg to read this property as context (it is still "
                                   "written only from Salesforce). Without it, reading it both ways is an error.")

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackProperty:
        if self.type in ("number", "date", "datetime") and (self.values or self.unmapped):
            raise ValueError(f"`values`/`unmapped` translate text; they do not apply to type {self.type}")
        if self.type == "enumeration" and self.from_ != "outcome":
            if not self.values:
                raise ValueError("an enumeration needs `values` (Salesforce value: HubSpot option value)")
            if self.unmapped is None:
                raise ValueError("an enumeration needs `unmapped`: the option written for a Salesforce "
                                 "value not listed in `values` (HubSpot refuses values that are not options)")
        return self

    def options(self) -> list[tuple[str, str]]:
        """(value, label) of the options an enumeration needs, in a stable order."""
        if self.type != "enumeration":
            return []
        pairs: dict[str, str] = {}
        if self.from_ == "outcome":
            for outcome in Outcome:
                value = (self.values or {}).get(outcome.value, outcome.value)
                pairs.setdefault(value, outcome.capitalize())
            return list(pairs.items())
        for source, value in (self.values or {}).items():
            pairs.setdefault(value, source)
        if self.unmapped is not None:
            pairs.setdefault(self.unmapped, self.unmapped.replace("_", " ").capitalize())
        return list(pairs.items())


class LeadOutcomes(_Closed):
    """How a Lead's status reads as an outcome."""

    open_statuses: list[str] = Field(
        default_factory=lambda: ["Open - Not Contacted"],
        description="Statuses Sales has not worked yet: no outcome. Any other status (not disqualified, "
                    "not converted) counts as contacted, so custom statuses are never dropped.")
    disqualified_statuses: list[str] = Field(
        default_factory=lambda: ["Closed - Not Converted"], description="Statuses that mean disqualified.")
    reason_field: str | None = Field(
        default="Unqualified_Reason__c", pattern=_SF_FIELD_NAME,
        description="Lead field holding why it was disqualified (a picklist in most orgs).")


class OpportunityOutcomes(_Closed):
    loss_reason_field: str | None = Field(
        default="Loss_Reason__c", pattern=_SF_FIELD_NAME,
        description="Opportunity field holding why it was lost.")


class Lifecycle(_Closed):
    """Move the contact's lifecycle stage forward on an outcome; never backwards."""

    property: str = Field(default="lifecyclestage", pattern=_PROPERTY_NAME)
    moves: dict[Outcome, str] = Field(description="Outcome -> stage, e.g. opportunity: opportunity, won: customer.")
    order: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STAGE_ORDER), min_length=2,
        description="Stages earliest first. A move happens only to a later stage than the contact's "
                    "current one; a stage not listed here is never changed.")


class Feedback(_Closed):
    """Salesforce -> HubSpot: outcomes and what Sales learned."""

    group: str = Field(default="syncd", pattern=_PROPERTY_NAME,
                       description="HubSpot property group `syncd setup hubspot` puts the properties in.")
    lead: LeadOutcomes = Field(default_factory=LeadOutcomes)
    opportunity: OpportunityOutcomes = Field(default_factory=OpportunityOutcomes)
    properties: dict[str, FeedbackProperty] = Field(
        min_length=1, description="HubSpot contact property (internal name) -> where its value comes from.")
    lifecycle: Lifecycle | None = None

    def lead_fields(self) -> list[str]:
        """Every Lead field the back leg reads (beyond the ones it always reads)."""
        fields = {p.from_.split(".", 1)[1] for p in self.properties.values() if p.from_.startswith("Lead.")}
        if self.lead.reason_field:
            fields.add(self.lead.reason_field)
        return sorted(fields)

    def opportunity_fields(self) -> list[str]:
        fields = {p.from_.split(".", 1)[1] for p in self.properties.values()
                  if p.from_.startswith("Opportunity.")}
        if self.opportunity.loss_reason_field:
            fields.add(self.opportunity.loss_reason_field)
        return sorted(fields)

    def written_properties(self) -> list[str]:
        """Every HubSpot property the back leg may write."""
        names = list(self.properties)
        if self.lifecycle is not None:
            names.append(self.lifecycle.property)
        return names
