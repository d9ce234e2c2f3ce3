"""Checks that span several keys of a mapping, each reported at the key that has to change.

The models check one key at a time; these check how keys relate: one source per Salesforce
field, one direction per field (a HubSpot property written from Salesforce is not also read as
marketing context), the search's filter budget, lifecycle stages that can be ordered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from syncd.mapping import templates
from syncd.mapping.base import SF_FIELD_NAME as _SF_FIELD_NAME
from syncd.mapping.model import MAX_QUALIFY_CONDITIONS, Mapping

Add = Callable[[tuple[Any, ...], str], None]

# Properties HubSpot computes or that identify the contact: never a feedback target.
_RESERVED = {"email", "hs_object_id", "lastmodifieddate", "createdate"}


def semantic_problems(mapping: Mapping, add: Add) -> None:
    """Checks that span several keys; ``add(loc, message)`` locates each at the key that has to change."""
    if len(mapping.qualify) > MAX_QUALIFY_CONDITIONS:
        add(("qualify",), f"at most {MAX_QUALIFY_CONDITIONS} conditions (HubSpot search allows 6 "
            "filters per query and the incremental read window uses 3); combine values with `in`")
    ext = mapping.salesforce.external_id_field
    if ext in mapping.fields:
        add(("fields", ext), f"{ext} is the external-id field; syncd fills it with the HubSpot "
            "contact id, so it must not be mapped")
    if mapping.brief and mapping.brief.field in mapping.fields:
        add(("brief", "field"), f"{mapping.brief.field} is also mapped under fields; a field can "
            "have only one source")
    for name, rule in mapping.fields.items():
        if not re.match(_SF_FIELD_NAME, name):
            add(("fields", name), "not a Salesforce field API name")
        if rule.values is not None and rule.from_ is None:
            add(("fields", name, "values"), "`values` translates a property's value; use it with `from`")
        if rule.type in ("number", "boolean") and rule.max_length:
            add(("fields", name, "max_length"), f"max_length does not apply to type {rule.type}")
    template_problems(mapping, add)
    mapped = set(mapping.fields) | ({mapping.brief.field} if mapping.brief else set())
    for lead_field in mapping.salesforce.converted.contact_fields:
        if lead_field not in mapped:
            add(("salesforce", "converted", "contact_fields", lead_field),
                f"{lead_field} is not mapped under fields or brief, so there is no value to copy")
    feedback_problems(mapping, add)


def template_problems(mapping: Mapping, add: Add) -> None:
    """Unknown filters and tests, and names no render supplies, in every template of the file."""
    sources: list[tuple[tuple[Any, ...], str]] = [(("fields", name, "template"), rule.template)
                                                  for name, rule in mapping.fields.items() if rule.template]
    if mapping.brief is not None:
        sources.append((("brief", "template"), mapping.brief.template))
    for loc, source in sources:
        for problem in templates.problems(source):
            where = f" (line {problem.lineno} of the template)" if problem.lineno and "\n" in source else ""
            add(loc, f"{problem}{where}")


def feedback_problems(mapping: Mapping, add: Add) -> None:
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
