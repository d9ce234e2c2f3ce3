"""Turn one HubSpot contact into Salesforce field values, as the mapping says. Pure functions.

A value that cannot be converted (a non-number for a number field, a broken template, a template
over its render budget) rejects that one record with a syncd error code; the others go on.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any

from syncd.core.records import Contact, Filter
from syncd.mapping import templates
from syncd.mapping.model import FieldRule, Mapping

ELLIPSIS = "…"


class FieldError(ValueError):
    """A mapped value could not be produced for this record."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.code = code
        self.field = field


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _convert(value: Any, rule: FieldRule, field: str) -> Any:
    if _empty(value):
        return None
    if rule.type == "number":
        try:
            number = float(str(value).replace(",", ""))
        except ValueError:
            raise FieldError("SYNCD_INVALID_NUMBER", field, f"{str(value)[:40]!r} is not a number") from None
        return int(number) if number.is_integer() else number
    if rule.type == "boolean":
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise FieldError("SYNCD_INVALID_BOOLEAN", field, f"{str(value)[:40]!r} is not true/false")
    if rule.type in ("date", "datetime"):
        parsed = templates._parse_timestamp(value)
        if parsed is None:
            raise FieldError("SYNCD_INVALID_DATE", field, f"{str(value)[:40]!r} is not a date")
        if rule.type == "date":
            return parsed.date().isoformat()
        return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    text = str(value)
    if rule.max_length and len(text) > rule.max_length:
        text = text[: rule.max_length - 1].rstrip() + ELLIPSIS
    return text


def _history_values(contact: Contact, prop: str) -> list[dict[str, Any]]:
    return [{"value": h.value, "timestamp": h.timestamp}
            for h in contact.history.get(prop, ()) if not _empty(h.value)]


def _template_variables(contact: Contact, mapping: Mapping, fields: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = {name: None for name in mapping.properties_to_read()}
    variables.update(contact.properties)
    variables["history"] = {p: _history_values(contact, p) for p in mapping.history_properties()}
    variables["fields"] = dict(fields)
    variables["contact_id"] = contact.id
    return variables


def _raw_value(contact: Contact, rule: FieldRule, field: str, variables: dict[str, Any],
               budget: templates.RenderBudget, where: str) -> Any:
    if rule.from_ is not None:
        value = contact.properties.get(rule.from_)
        if rule.values is not None and not _empty(value):
            value = rule.values.get(str(value), rule.default)
        return value
    if rule.history is not None:
        entries = _history_values(contact, rule.history)[: rule.limit]
        return rule.separator.join(str(e["value"]) for e in entries)
    if rule.template is not None:
        keep = rule.max_length if rule.type == "string" else None    # the rest would be cut anyway
        try:
            return templates.render(rule.template, variables, budget, where=where, keep=keep)
        except templates.TemplateFailure as exc:
            raise FieldError("SYNCD_TEMPLATE_ERROR", field, str(exc)) from None
    return rule.value


def render_fields(contact: Contact, mapping: Mapping, *, stop: Callable[[], bool] | None = None,
                  clock: Callable[[], float] = time.thread_time) -> dict[str, Any]:
    """Salesforce field -> value for one contact, external id included. Raises FieldError, or
    ``templates.RenderStopped`` when ``stop`` says so while a template renders. All the contact's
    templates share one render budget (``mapping.budget``), measured with ``clock``."""
    limits = mapping.budget
    budget = templates.RenderBudget(limits.seconds, limits.output_characters, clock=clock, stop=stop,
                                    inputs=contact.properties)
    fields: dict[str, Any] = {}
    variables = _template_variables(contact, mapping, fields)
    # Plain fields first, so the brief can quote computed values (fields.X).
    for name, rule in mapping.fields.items():
        value = _raw_value(contact, rule, name, variables, budget, f"the fields.{name}")
        if _empty(value) and rule.default is not None:
            value = rule.default
        fields[name] = _convert(value, rule, name)
        variables["fields"][name] = fields[name]
    if mapping.brief is not None:
        rule = mapping.all_rules()[mapping.brief.field]
        fields[mapping.brief.field] = _convert(_raw_value(contact, rule, mapping.brief.field, variables, budget,
                                                          "the brief"), rule, mapping.brief.field)
    fields[mapping.salesforce.external_id_field] = contact.id
    return fields


def _compare(actual: Any, operator: str, operand: Any) -> bool:
    if operator == "exists":
        return (not _empty(actual)) is bool(operand)
    if _empty(actual):
        return operator in ("not_equals", "not_in")
    text = str(actual)
    if operator == "equals":
        return text.lower() == str(operand).lower()
    if operator == "not_equals":
        return text.lower() != str(operand).lower()
    if operator == "in":
        return text.lower() in {str(v).lower() for v in operand}
    if operator == "not_in":
        return text.lower() not in {str(v).lower() for v in operand}
    if operator == "contains_token":
        return str(operand).lower() in text.lower().split()
    try:  # gt/gte/lt/lte: numbers, else timestamps, else text
        left, right = float(text), float(operand)
    except (TypeError, ValueError):
        left_ts, right_ts = templates._parse_timestamp(text), templates._parse_timestamp(operand)
        left, right = (left_ts, right_ts) if left_ts and right_ts else (text, str(operand))
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[operator]


def qualifies(contact: Contact, filters: Iterable[Filter]) -> bool:
    """The same rule HubSpot search applies, checked locally (for contacts read by id)."""
    return all(_compare(contact.properties.get(f.property), f.operator, f.operand) for f in filters)
