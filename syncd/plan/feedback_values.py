"""Salesforce values as HubSpot property text: value maps, numbers, dates, derived values.

Pure. A value that cannot become its property's type raises ``ValueProblem`` naming the
property; the planner rejects that one contact and goes on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from syncd.core.records import OutcomeState, parse_datetime
from syncd.mapping.feedback import Feedback, FeedbackProperty


class ValueProblem(ValueError):
    """A Salesforce value that cannot become the HubSpot property's type."""


def _number_text(value: Any) -> str:
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueProblem(f"{value!r} is not a finite number")
    return str(int(number)) if number.is_integer() and abs(number) < 1e18 else repr(number)


def format_value(value: Any, prop: FeedbackProperty) -> str:
    """One HubSpot property value (text, as HubSpot takes every value). Empty clears it."""
    if value is None or value == "":
        return ""
    if prop.values is not None or prop.unmapped is not None:
        text = _text(value)
        if prop.values and text in prop.values:
            return prop.values[text]
        return prop.unmapped if prop.unmapped is not None else text
    try:
        if prop.type == "number":
            return _number_text(value)
        if prop.type == "date":
            if isinstance(value, str) and len(value) == 10:
                return dt.date.fromisoformat(value).isoformat()
            moment = parse_datetime(value)
            return moment.astimezone(dt.timezone.utc).date().isoformat() if moment else ""
        if prop.type == "datetime":
            moment = parse_datetime(value) if not (isinstance(value, str) and len(value) == 10) else \
                parse_datetime(value + "T00:00:00+00:00")
            return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z") \
                if moment else ""
    except (TypeError, ValueError) as exc:
        raise ValueProblem(f"{value!r} is not a {prop.type}") from exc
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def source_value(state: OutcomeState, source: str) -> Any:
    if source in ("outcome", "reason", "outcome_at", "first_contacted_at", "closed_at"):
        return getattr(state, source)
    obj, name = source.split(".", 1)
    if obj == "Lead":
        return state.lead_fields.get(name)
    return state.opportunity_fields.get(name) if state.opportunity_id else None


def payload(state: OutcomeState, feedback: Feedback) -> dict[str, str]:
    """HubSpot property -> value for this contact. Raises ValueProblem naming the property."""
    out: dict[str, str] = {}
    for name, prop in feedback.properties.items():
        try:
            out[name] = format_value(source_value(state, prop.from_), prop)
        except ValueProblem as exc:
            raise ValueProblem(f"{name} (from {prop.from_}): {exc}") from None
    return out


def lifecycle_target(state: OutcomeState, feedback: Feedback) -> str | None:
    if feedback.lifecycle is None or state.outcome is None:
        return None
    return feedback.lifecycle.moves.get(state.outcome)  # type: ignore[call-overload]
