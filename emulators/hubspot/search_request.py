"""A CRM search request body, checked against HubSpot's documented limits and parsed.

* ``filterGroups`` are ORed, the filters inside one group ANDed; a top-level ``filters`` list
  (accepted by the API, not by the SDK model) is one more group; at most 5 groups, 6 filters per
  group, 18 in all (configurable: the docs and a changelog disagree).
* One sort at most.
* ``limit`` defaults to 10, at most 200; ``after`` is the offset as a string; a page may not reach
  past result 10,000; the body is limited to 3,000 characters (the ``properties`` list counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from emulators.hubspot.property_definitions import DEFAULT_CONTACT_PROPERTIES, QUERY_SEARCHABLE
from emulators.hubspot.properties import PropertyRegistry
from emulators.hubspot.search_filters import Filter, SearchError, compile_filter, tokens
from emulators.hubspot.store import Contact


@dataclass(frozen=True)
class SearchLimits:
    max_filter_groups: int = 5
    max_filters_per_group: int = 6
    max_filters_total: int = 18
    max_limit: int = 200
    max_results: int = 10_000
    max_body_chars: int = 3_000
    default_limit: int = 10


@dataclass
class SearchRequest:
    groups: list[list[Filter]]          # ORed groups of ANDed filters; [[]] matches everything
    sort: tuple[str, bool] | None       # (property, descending)
    query: Callable[[Contact], bool] | None
    properties: list[str]
    limit: int
    after: int


def _int_param(value: Any, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise SearchError(f"Invalid {name} '{value}'", [{"message": f"{name} must be an integer",
                                                        "code": "INVALID_INTEGER", "in": name}]) from None


def _check_filter_count(count: int, limit: int, what: str, limit_name: str, detail: str, code: str) -> None:
    """One of the filter limits, in HubSpot's words: "Too many {what}: {count}. The maximum number
    of {limit_name} is {limit}.", with ``detail`` (a format string for the limit) as the error."""
    if count > limit:
        raise SearchError(f"Too many {what}: {count}. The maximum number of {limit_name} is {limit}.",
                          [{"message": detail.format(limit), "code": code, "in": "filterGroups"}])


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
    words = tokens(str(query))

    def pred(c: Contact) -> bool:
        seen: list[str] = []
        for name in QUERY_SEARCHABLE:
            text = c.props.get(name)
            if text:
                seen.extend(tokens(text))
                seen.append(text.lower())
        return all(any(t.startswith(w) for t in seen) for w in words)

    return pred


def parse_search(body: Any, *, raw_length: int, registry: PropertyRegistry, limits: SearchLimits) -> SearchRequest:
    """The request, or ``SearchError`` with HubSpot's message for the first limit it breaks."""
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
    _check_filter_count(len(groups_raw), limits.max_filter_groups, "filter groups", "filterGroups",
                        "filterGroups may contain at most {} groups", "TOO_MANY_FILTER_GROUPS")
    for i, fl in enumerate(groups_raw):
        _check_filter_count(len(fl), limits.max_filters_per_group, f"filters in filter group {i}",
                            "filters per group", "a filter group may contain at most {} filters",
                            "TOO_MANY_FILTERS_IN_GROUP")
    _check_filter_count(sum(len(fl) for fl in groups_raw), limits.max_filters_total, "filters",
                        "filters across all filterGroups", "a search may contain at most {} filters",
                        "TOO_MANY_FILTERS")
    groups = [[compile_filter(f, registry) for f in fl] for fl in groups_raw]
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
    return SearchRequest(groups, sort, query, properties, limit, after)
