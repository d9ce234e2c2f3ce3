"""The CRM search engine of the HubSpot emulator: request validation, filters, sorting, paging.

``run_search`` takes the JSON body of ``POST /crm/v3/objects/contacts/search`` and the contact
store and returns the response body, or raises ``SearchError`` (→ 400 VALIDATION_ERROR).

Behaviour, as documented for CRM search (and, where the docs are silent, as HubSpot behaves):

* ``filterGroups`` are ORed, the filters inside one group ANDed; a top-level ``filters`` list
  (accepted by the API, not by the SDK model) is one more group.
* Comparisons are typed by the property definition: numbers numerically (``hs_object_id`` is a
  number), ``datetime``/``date`` as instants (filter values may be epoch-ms strings or ISO 8601),
  everything else as case-insensitive strings.  ``NEQ``/``NOT_IN``/``NOT_CONTAINS_TOKEN`` also
  match records without a value; the ordering operators never do.
* ``CONTAINS_TOKEN`` matches a whole word (tokens split on non-alphanumerics) or, with ``*``
  wildcards, a pattern (``*@example.com``).
* One sort at most; without one results come in creation (= ascending id) order; ties are broken
  by id; records without a value sort last.
* ``limit`` defaults to 10, at most 200; ``after`` is the offset as a string; a page may not reach
  past result 10,000; the body is limited to 3,000 characters; records modified within the
  emulator's search lag are not in the index yet; archived records never are.

Candidates are narrowed with the store's sorted indexes (ids, and ``lastmodifieddate``) before
filters run, so paging 12,000 contacts by ``hs_object_id GT x`` stays fast.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from emulators.hubspot_properties import (
    ALWAYS_RETURNED,
    DEFAULT_CONTACT_PROPERTIES,
    QUERY_SEARCHABLE,
    PropertyRegistry,
    parse_time_ms,
)

OPERATORS = {
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
}
_TOKEN_SPLIT = re.compile(r"[^0-9a-z]+")
_INDEXED_OPS = {"GT", "GTE", "LT", "LTE", "BETWEEN", "EQ", "IN"}


@dataclass(eq=False)
class Contact:
    """One stored contact.  ``props`` holds non-empty normalised strings; ``typed`` the
    comparable values search uses; ``history`` per property, oldest first."""

    id: int
    created_ms: int
    updated_ms: int
    props: dict[str, str] = field(default_factory=dict)
    typed: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    archived: bool = False
    archived_ms: int | None = None


@dataclass(frozen=True)
class SearchLimits:
    max_filter_groups: int = 5
    max_filters_per_group: int = 6
    max_filters_total: int = 18
    max_limit: int = 200
    max_results: int = 10_000
    max_body_chars: int = 3_000
    default_limit: int = 10


class SearchError(Exception):
    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class StoreView:
    """What the engine needs from the store (the emulator passes itself under its lock)."""

    by_id: dict[int, Contact]
    ids: list[int]                      # live ids, ascending
    mod_index: list[tuple[int, int]]    # (lastmodified ms, id) of live contacts, ascending


# ----------------------------------------------------------------------------- filters


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN_SPLIT.split(text.lower()) if t]


def _contains_token(text: str, needle: str) -> bool:
    lowered = text.lower()
    needle = needle.lower().strip()
    if not needle:
        return False
    if "*" in needle:
        return fnmatch.fnmatchcase(lowered, needle) or any(fnmatch.fnmatchcase(t, needle) for t in _tokens(lowered))
    if lowered == needle:
        return True
    hay, want = _tokens(lowered), _tokens(needle)
    if not want:
        return False
    n = len(want)
    return any(hay[i:i + n] == want for i in range(len(hay) - n + 1))


@dataclass
class _Filter:
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


def _compile_filter(raw: Any, registry: PropertyRegistry) -> _Filter:
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
    f = _Filter(prop=prop, op=op, ptype=ptype,
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


# ----------------------------------------------------------------------------- candidates


def _id_range(filters: list[_Filter]) -> tuple[float, float, bool, bool, set[float] | None] | None:
    """Exact bounds on the id implied by the hs_object_id filters of one group (lo, hi, lo_incl, hi_incl, set)."""
    lo, hi, lo_in, hi_in, exact = float("-inf"), float("inf"), True, True, None
    used = False

    def lower(value: float, inclusive: bool) -> None:
        nonlocal lo, lo_in
        if value > lo or (value == lo and not inclusive):
            lo, lo_in = value, inclusive

    def upper(value: float, inclusive: bool) -> None:
        nonlocal hi, hi_in
        if value < hi or (value == hi and not inclusive):
            hi, hi_in = value, inclusive

    for f in filters:
        if f.prop != "hs_object_id" or f.op not in _INDEXED_OPS:
            continue
        used = True
        if f.op in ("GT", "GTE"):
            lower(f.value, f.op == "GTE")
        elif f.op in ("LT", "LTE"):
            upper(f.value, f.op == "LTE")
        elif f.op == "BETWEEN":
            lower(f.value, True)
            upper(f.high, True)
        elif f.op == "EQ":
            exact = {f.value} if exact is None else exact & {f.value}
        elif f.op == "IN":
            exact = set(f.values) if exact is None else exact & set(f.values)
    return (lo, hi, lo_in, hi_in, exact) if used else None


def _slice_ids(ids: list[int], rng: tuple[float, float, bool, bool, set[float] | None]) -> list[int]:
    lo, hi, lo_in, hi_in, exact = rng
    start = bisect.bisect_left(ids, lo) if lo_in else bisect.bisect_right(ids, lo)
    end = bisect.bisect_right(ids, hi) if hi_in else bisect.bisect_left(ids, hi)
    picked = ids[start:end] if start < end else []
    if exact is not None:
        picked = [i for i in picked if float(i) in exact]
    return picked


def _mod_range(filters: list[_Filter]) -> tuple[int, int] | None:
    """Exact [lo, hi] millisecond bounds implied by the range filters on lastmodifieddate."""
    lo, hi, used = -(2 ** 62), 2 ** 62, False
    for f in filters:
        if f.prop != "lastmodifieddate" or f.op not in _INDEXED_OPS - {"IN"}:
            continue
        used = True
        if f.op in ("GT", "GTE", "BETWEEN", "EQ"):
            lo = max(lo, f.value + (1 if f.op == "GT" else 0))
        if f.op in ("LT", "LTE", "BETWEEN", "EQ"):
            hi = min(hi, (f.high if f.op == "BETWEEN" else f.value) - (1 if f.op == "LT" else 0))
    return (lo, hi) if used else None


def _plan(store: StoreView, filters: list[_Filter]) -> tuple[list[int], list[Callable[[Contact], bool]]]:
    """Candidate ids (ascending) from the narrowest usable index, and the predicates still to check."""
    rng = _id_range(filters)
    mrng = _mod_range(filters)
    id_count = mod_count = len(store.ids) + 1
    if rng is not None:
        lo, hi, lo_in, hi_in, _ = rng
        start = bisect.bisect_left(store.ids, lo) if lo_in else bisect.bisect_right(store.ids, lo)
        end = bisect.bisect_right(store.ids, hi) if hi_in else bisect.bisect_left(store.ids, hi)
        id_count = max(0, end - start)
    if mrng is not None:
        m_start = bisect.bisect_left(store.mod_index, (mrng[0], -1))
        m_end = bisect.bisect_right(store.mod_index, (mrng[1], 2 ** 62))
        mod_count = max(0, m_end - m_start)
    if rng is not None and id_count <= mod_count:
        ids = _slice_ids(store.ids, rng)
        rest = [f for f in filters if not (f.prop == "hs_object_id" and f.op in _INDEXED_OPS)]
    elif mrng is not None:
        ids = sorted(i for _, i in store.mod_index[m_start:m_end])
        rest = [f for f in filters if not (f.prop == "lastmodifieddate" and f.op in _INDEXED_OPS - {"IN"})]
    else:
        ids, rest = store.ids, filters
    return ids, [f.compile() for f in rest]


def _matches(store: StoreView, filters: list[_Filter]) -> list[int]:
    ids, preds = _plan(store, filters)
    by_id = store.by_id
    if not preds:
        return list(ids)
    if len(preds) == 1:
        pred = preds[0]
        return [i for i in ids if pred(by_id[i])]
    return [i for i in ids if all(p(by_id[i]) for p in preds)]


# ----------------------------------------------------------------------------- request parsing


def _int_param(value: Any, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise SearchError(f"Invalid {name} '{value}'", [{"message": f"{name} must be an integer",
                                                        "code": "INVALID_INTEGER", "in": name}]) from None


def _parse_sort(raw: Any, registry: PropertyRegistry) -> tuple[str, bool] | None:
    if raw in (None, []):
        return None
    if not isinstance(raw, list):
        raise SearchError("sorts must be a list")
    if len(raw) > 1:
        raise SearchError(f"Only one sort is supported per search request; got {len(raw)}",
                          [{"message": "Too many sorts", "code": "TOO_MANY_SORTS", "in": "sorts"}])
    item = raw[0]
    if isinstance(item, str):
        desc = item.startswith("-")
        prop = item.lstrip("-")
    elif isinstance(item, dict):
        prop = item.get("propertyName")
        direction = str(item.get("direction", "ASCENDING")).upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise SearchError(f"Invalid sort direction '{direction}'; use ASCENDING or DESCENDING")
        desc = direction == "DESCENDING"
    else:
        raise SearchError("Each sort must be a property name or {propertyName, direction}")
    if not isinstance(prop, str) or registry.get(prop) is None:
        raise SearchError(f"Cannot sort by unknown property '{prop}'",
                          [{"message": f'Property "{prop}" does not exist', "code": "PROPERTY_DOESNT_EXIST",
                            "context": {"propertyName": [str(prop)]}}])
    return prop, desc


def _query_predicate(query: Any) -> Callable[[Contact], bool] | None:
    if query is None or str(query).strip() == "":
        return None
    words = _tokens(str(query))

    def pred(c: Contact) -> bool:
        tokens: list[str] = []
        for name in QUERY_SEARCHABLE:
            text = c.props.get(name)
            if text:
                tokens.extend(_tokens(text))
                tokens.append(text.lower())
        return all(any(t.startswith(w) for t in tokens) for w in words)

    return pred


def run_search(body: Any, *, raw_length: int, registry: PropertyRegistry, store: StoreView, now_ms: int,
               lag_ms: int, limits: SearchLimits, render: Callable[[Contact, list[str]], dict[str, Any]],
               next_link: Callable[[str], str]) -> dict[str, Any]:
    if raw_length > limits.max_body_chars:
        raise SearchError(
            f"The request body is {raw_length} characters long; search requests are limited to "
            f"{limits.max_body_chars} characters.",
            [{"message": f"Request body exceeds {limits.max_body_chars} characters", "code": "REQUEST_TOO_LARGE"}])
    if not isinstance(body, dict):
        raise SearchError("The search request body must be a JSON object")

    limit = limits.default_limit if body.get("limit") is None else _int_param(body["limit"], "limit")
    if limit < 0 or limit > limits.max_limit:
        raise SearchError(
            f"limit must be between 0 and {limits.max_limit} (got {limit}); the maximum number of results "
            f"per page is {limits.max_limit}.",
            [{"message": f"limit must be less than or equal to {limits.max_limit}", "code": "INVALID_LIMIT",
              "in": "limit"}])
    after = 0 if body.get("after") in (None, "") else _int_param(body["after"], "after")
    if after < 0:
        raise SearchError(f"Invalid after '{after}'")
    if after + limit > limits.max_results:
        raise SearchError(
            f"Paging through more than {limits.max_results} search results is not supported: after={after} "
            f"with limit={limit} reaches result {after + limit}. Narrow the query (for example by "
            f"hs_object_id) instead.",
            [{"message": f"after + limit must not exceed {limits.max_results}", "code": "RESULT_LIMIT_EXCEEDED",
              "in": "after"}])

    raw_groups = body.get("filterGroups") or []
    if not isinstance(raw_groups, list):
        raise SearchError("filterGroups must be a list")
    groups_raw: list[list[Any]] = []
    for g in raw_groups:
        if not isinstance(g, dict) or not isinstance(g.get("filters", []), list):
            raise SearchError("Each filter group must be an object with a 'filters' list")
        groups_raw.append(g.get("filters") or [])
    if body.get("filters"):
        if not isinstance(body["filters"], list):
            raise SearchError("filters must be a list")
        groups_raw.append(body["filters"])
    if len(groups_raw) > limits.max_filter_groups:
        raise SearchError(
            f"Too many filter groups: {len(groups_raw)}. The maximum number of filterGroups is "
            f"{limits.max_filter_groups}.",
            [{"message": f"filterGroups may contain at most {limits.max_filter_groups} groups",
              "code": "TOO_MANY_FILTER_GROUPS", "in": "filterGroups"}])
    for i, fl in enumerate(groups_raw):
        if len(fl) > limits.max_filters_per_group:
            raise SearchError(
                f"Too many filters in filter group {i}: {len(fl)}. The maximum number of filters per group is "
                f"{limits.max_filters_per_group}.",
                [{"message": f"a filter group may contain at most {limits.max_filters_per_group} filters",
                  "code": "TOO_MANY_FILTERS_IN_GROUP", "in": "filterGroups"}])
    total = sum(len(fl) for fl in groups_raw)
    if total > limits.max_filters_total:
        raise SearchError(
            f"Too many filters: {total}. The maximum number of filters across all filterGroups is "
            f"{limits.max_filters_total}.",
            [{"message": f"a search may contain at most {limits.max_filters_total} filters",
              "code": "TOO_MANY_FILTERS", "in": "filterGroups"}])
    groups = [[_compile_filter(f, registry) for f in fl] for fl in groups_raw]
    groups = [g for g in groups if g] or [[]]
    sort = _parse_sort(body.get("sorts"), registry)
    query = _query_predicate(body.get("query"))

    requested = body.get("properties")
    if requested is None or requested == []:
        properties = list(DEFAULT_CONTACT_PROPERTIES)
    elif isinstance(requested, list):
        properties = [p for p in requested if isinstance(p, str)]
    else:
        raise SearchError("properties must be a list of property names")

    cutoff = now_ms - lag_ms
    matched: list[int]
    if len(groups) == 1:
        matched = _matches(store, groups[0])
    else:
        acc: set[int] = set()
        for g in groups:
            acc.update(_matches(store, g))
        matched = sorted(acc)
    hits = [store.by_id[i] for i in matched]
    hits = [c for c in hits if not c.archived and (lag_ms <= 0 or c.updated_ms <= cutoff)]
    if query is not None:
        hits = [c for c in hits if query(c)]

    if sort is not None and sort[0] != "hs_object_id":
        prop, desc = sort
        present = [c for c in hits if c.typed.get(prop) is not None]
        missing = [c for c in hits if c.typed.get(prop) is None]
        present.sort(key=lambda c: c.id)
        present.sort(key=lambda c: c.typed[prop], reverse=desc)
        hits = present + missing
    elif sort is not None and sort[1]:
        hits.reverse()

    page = hits[after:after + limit]
    response: dict[str, Any] = {"total": len(hits), "results": [render(c, properties) for c in page]}
    if after + limit < len(hits) and limit > 0:
        nxt = str(after + limit)
        response["paging"] = {"next": {"after": nxt, "link": next_link(nxt)}}
    return response


__all__ = ["Contact", "SearchError", "SearchLimits", "StoreView", "run_search", "ALWAYS_RETURNED", "OPERATORS"]
