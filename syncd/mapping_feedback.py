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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from syncd.mapping import Mapping

OUTCOMES = ("contacted", "disqualified", "opportunity", "won", "lost")
Outcome = Literal["contacted", "disqualified", "opportunity", "won", "lost"]

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
_SF_FIELD_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"

# HubSpot's default lifecycle stages, earliest first.
DEFAULT_STAGE_ORDER = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
                       "customer", "evangelist"]
# Properties HubSpot computes or that identify the contact: never a feedback target.
_RESERVED = {"email", "hs_object_id", "lastmodifieddate", "createdate"}


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    def _consistent(self) -> "FeedbackProperty":
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
            for outcome in OUTCOMES:
                value = (self.values or {}).get(outcome, outcome)
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


def feedback_problems(mapping: "Mapping", add: Callable[[tuple[Any, ...], str], None]) -> None:
    """Checks across the forward mapping and the feedback section (each field has one direction)."""
    feedback = mapping.feedback
    if feedback is None:
        return
    forward_reads = set(mapping.properties_to_read()) | set(mapping.history_properties())
    forward_writes = set(mapping.fields) | ({mapping.brief.field} if mapping.brief else set())
    for name, prop in feedback.properties.items():
        loc = ("feedback", "properties", name)
        if name in _RESERVED:
            add(loc, f"{name} identifies or dates the contact in HubSpot; syncd never writes it")
        if feedback.lifecycle is not None and name == feedback.lifecycle.property:
            add(loc, f"{name} is moved by `feedback.lifecycle`; do not also map it here")
        if name in forward_reads and not prop.forward_may_read:
            add(loc, f"{name} is written from Salesforce here and also read by the forward leg as marketing "
                     "context (qualify, fields, brief or attribution); a field has one direction. Use another "
                     "property, or set `forward_may_read: true` if the forward leg may read what Sales wrote")
    owned = [(("feedback", "lead", "reason_field"), feedback.lead.reason_field)]
    owned += [(("feedback", "properties", n, "from"), p.from_.split(".", 1)[1])
              for n, p in feedback.properties.items() if p.from_.startswith("Lead.")]
    for loc, field in owned:
        if field and field in forward_writes:
            add(loc, f"Lead.{field} is read here as a Sales outcome and also written by the forward leg "
                     f"(fields/brief); HubSpot never writes outcome fields, remove one of the two")
        if field == mapping.salesforce.external_id_field:
            add(loc, f"{field} is the external-id field syncd fills; it is not an outcome")
    overlap = set(feedback.lead.open_statuses) & set(feedback.lead.disqualified_statuses)
    if overlap:
        add(("feedback", "lead", "disqualified_statuses"),
            f"{', '.join(sorted(overlap))} is listed as both open and disqualified")
    lifecycle = feedback.lifecycle
    if lifecycle is not None:
        if lifecycle.property in _RESERVED:
            add(("feedback", "lifecycle", "property"), f"{lifecycle.property} cannot be a lifecycle stage")
        if len(set(lifecycle.order)) != len(lifecycle.order):
            add(("feedback", "lifecycle", "order"), "a stage is listed twice")
        for outcome, stage in lifecycle.moves.items():
            if stage not in lifecycle.order:
                add(("feedback", "lifecycle", "moves", outcome),
                    f"{stage} is not in `order`, so syncd cannot tell whether the move goes forward")
