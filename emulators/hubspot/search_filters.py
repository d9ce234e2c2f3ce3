"""CRM search filters in the HubSpot emulator: one JSON filter → a typed, compiled predicate.

* Comparisons are typed by the property definition: numbers numerically (``hs_object_id`` is a
  number), ``datetime``/``date`` as instants (filter values may be epoch-ms strings or ISO 8601),
  everything else as case-insensitive strings.  ``NEQ``/``NOT_IN``/``NOT_CONTAINS_TOKEN`` also
  match records without a value; the ordering operators never do.
* ``CONTAINS_TOKEN`` matches a whole word (tokens split on non-alphanumerics) or, with ``*``
  wildcards, a pattern (``*@example.com``).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Callable

from emulators.hubspot.properties import PropertyRegistry
from emulators.hubspot.store import Contact
from emulators.hubspot.timefmt import parse_time_ms

OPERATORS = {
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
}
_TOKEN_SPLIT = re.compile(r"[^0-9a-z]+")


class SearchError(Exception):
    """A search request HubSpot refuses (400 VALIDATION_ERROR with these ``errors``)."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


def tokens(text: str) -> list[str]:
    return [t for t in _TOKEN_SPLIT.split(text.lower()) if t]


def _contains_token(text: str, needle: str) -> bool:
    lowered = text.lower()
    needle = needle.lower().strip()
    if not needle:
        return False
    if "*" in needle:
        return fnmatch.fnmatchcase(lowered, needle) or any(fnmatch.fnmatchcase(t, needle) for t in tokens(lowered))
    if lowered == needle:
        return True
    hay, want = tokens(lowered), tokens(needle)
    if not want:
        return False
    n = len(want)
    return any(hay[i:i + n] == want for i in range(len(hay) - n + 1))


@dataclass
class Filter:
    prop: str
    op: str
    ptype: str
    value: Any = None
    high: Any = None
    values: tuple[Any, ...] = ()
    raw: str = ""
    multi: bool = False  # multiple-checkbox enumeration: ';'-separated values

    def compile(self) -> Callable[[Contact], bool]:
        """A specialised predicate for this filter (search evaluates these in tight loops)."""
        p, op, want, high, values, multi = self.prop, self.op, self.value, self.high, self.values, self.multi

        def eq(v: Any, w: Any) -> bool:
            return v == w or (multi and isinstance(v, str) and w in v.split(";"))

        if op == "HAS_PROPERTY":
            return lambda c: p in c.typed
        if op == "NOT_HAS_PROPERTY":
            return lambda c: p not in c.typed
        if op == "EQ":
            if not multi:
                return lambda c: c.typed.get(p) == want
            return lambda c: (v := c.typed.get(p)) is not None and eq(v, want)
        if op == "NEQ":
            return lambda c: (v := c.typed.get(p)) is None or not eq(v, want)
        if op == "IN":
            if not multi:
                wanted = set(values)
                return lambda c: c.typed.get(p) in wanted
            return lambda c: (v := c.typed.get(p)) is not None and any(eq(v, w) for w in values)
        if op == "NOT_IN":
            return lambda c: (v := c.typed.get(p)) is None or not any(eq(v, w) for w in values)
        if op == "CONTAINS_TOKEN":
            raw = self.raw
            return lambda c: (t := c.props.get(p)) is not None and _contains_token(t, raw)
        if op == "NOT_CONTAINS_TOKEN":
            raw = self.raw
            return lambda c: (t := c.props.get(p)) is None or not _contains_token(t, raw)

        def guard(test: Callable[[Any], bool]) -> Callable[[Contact], bool]:
            def pred(c: Contact) -> bool:
                v = c.typed.get(p)
                if v is None:
                    return False
                try:
                    return test(v)
                except TypeError:
                    return False
            return pred

        if op == "LT":
            return guard(lambda v: v < want)
        if op == "LTE":
            return guard(lambda v: v <= want)
        if op == "GT":
            return guard(lambda v: v > want)
        if op == "GTE":
            return guard(lambda v: v >= want)
        return guard(lambda v: want <= v <= high)  # BETWEEN


def _coerce(ptype: str, raw: Any, prop: str) -> Any:
    """A filter value → the typed value it is compared with."""
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    text = str(raw)
    if ptype == "number":
        try:
            return float(text)
        except ValueError:
            raise SearchError(f"Invalid filter value '{text}' for number property '{prop}'",
                              [{"message": f"'{text}' is not a number", "code": "INVALID_FILTER_VALUE",
                                "context": {"propertyName": [prop]}}]) from None
    if ptype in ("datetime", "date"):
        ms = parse_time_ms(text)
        if ms is None:
            raise SearchError(f"Invalid filter value '{text}' for {ptype} property '{prop}'; use epoch milliseconds "
                              "or ISO 8601", [{"message": f"'{text}' is not a valid {ptype}",
                                               "code": "INVALID_FILTER_VALUE", "context": {"propertyName": [prop]}}])
        return ms
    return text.lower()


def compile_filter(raw: Any, registry: PropertyRegistry) -> Filter:
    if not isinstance(raw, dict):
        raise SearchError("Each filter must be an object with propertyName and operator")
    prop = raw.get("propertyName")
    op = raw.get("operator", "EQ")
    if not isinstance(prop, str) or not prop:
        raise SearchError("Filter is missing propertyName", [{"message": "propertyName is required",
                                                               "code": "REQUIRED_FIELD", "in": "propertyName"}])
    if op not in OPERATORS:
        raise SearchError(f"Invalid operator '{op}'. Valid operators: {sorted(OPERATORS)}",
                          [{"message": f"Unknown operator {op}", "code": "INVALID_ENUM", "in": "operator"}])
    definition = registry.get(prop)
    if definition is None:
        raise SearchError(f"Property '{prop}' does not exist",
                          [{"message": f'Property "{prop}" does not exist', "code": "PROPERTY_DOESNT_EXIST",
                            "context": {"propertyName": [prop]}}])
    ptype = definition["type"]
    f = Filter(prop=prop, op=op, ptype=ptype,
                multi=ptype == "enumeration" and definition.get("fieldType") == "checkbox")

    def need(key: str) -> Any:
        if raw.get(key) is None:
            raise SearchError(f"Operator {op} requires '{key}' (property '{prop}')",
                              [{"message": f"{key} is required for operator {op}", "code": "REQUIRED_FIELD",
                                "in": key}])
        return raw[key]

    if op in ("IN", "NOT_IN"):
        values = need("values")
        if not isinstance(values, list) or not values:
            raise SearchError(f"Operator {op} requires a non-empty 'values' list (property '{prop}')")
        f.values = tuple(_coerce(ptype, v, prop) for v in values)
    elif op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        f.raw = str(need("value"))
    elif op == "BETWEEN":
        f.value = _coerce(ptype, need("value"), prop)
        f.high = _coerce(ptype, need("highValue"), prop)
    elif op not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        f.value = _coerce(ptype, need("value"), prop)
    return f


