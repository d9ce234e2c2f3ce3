"""The CRM search engine of the HubSpot emulator: which contacts match, in which order, which page.

``ContactSearch.run`` takes the JSON body of ``POST /crm/v3/objects/contacts/search`` and the
contact store and returns the response body, or raises ``SearchError`` (→ 400 VALIDATION_ERROR).
Request parsing and limits: ``search_request``; filter semantics: ``search_filters``.

* Without a sort results come in creation (= ascending id) order; ties are broken by id;
  records without a value sort last.
* Records modified within the emulator's search lag are not in the index yet; archived records
  never are.

Speed (the benchmark pages 100,000 contacts 200 at a time, ``hs_object_id > last`` each page):
each filter group is split into its ``hs_object_id`` bounds and the rest. The ids matching the
rest are computed once (narrowed by the ``lastmodifieddate`` index when the group has a window)
and cached for the store's current version; each page is then a binary search in that list, and
``total`` its length. A narrow id range (a handful of ids) is checked directly instead.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from typing import Any, Callable

from emulators.hubspot.properties import PropertyRegistry
from emulators.hubspot.search_filters import OPERATORS, Filter, SearchError
from emulators.hubspot.search_request import SearchLimits, SearchRequest, parse_search
from emulators.hubspot.store import Contact, ContactStore

_INDEXED_OPS = {"GT", "GTE", "LT", "LTE", "BETWEEN", "EQ", "IN"}
_DIRECT_CHECK_MAX = 2_000   # an id range this small is filtered directly, without the cache
_CACHE_ENTRIES = 8

IdRange = tuple[float, float, bool, bool, "set[float] | None"]


def _is_id_bound(f: Filter) -> bool:
    return f.prop == "hs_object_id" and f.op in _INDEXED_OPS


def _id_range(filters: list[Filter]) -> IdRange | None:
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
        if not _is_id_bound(f):
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


def _slice_ids(ids: list[int], rng: IdRange) -> list[int]:
    lo, hi, lo_in, hi_in, exact = rng
    start = bisect.bisect_left(ids, lo) if lo_in else bisect.bisect_right(ids, lo)
    end = bisect.bisect_right(ids, hi) if hi_in else bisect.bisect_left(ids, hi)
    picked = ids[start:end] if start < end else []
    if exact is not None:
        picked = [i for i in picked if float(i) in exact]
    return picked


def _mod_range(filters: list[Filter]) -> tuple[int, int] | None:
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


def _filter_ids(store: ContactStore, ids: list[int], filters: list[Filter]) -> list[int]:
    by_id = store.by_id
    kept = list(ids)
    for pred in [f.compile() for f in filters]:  # one pass per filter: cheaper than all() per contact
        kept = [i for i in kept if pred(by_id[i])]
    return kept


def _scan(store: ContactStore, filters: list[Filter]) -> list[int]:
    """Ascending ids of live contacts matching ``filters`` (no id bounds among them)."""
    mrng = _mod_range(filters)
    if mrng is None:
        return _filter_ids(store, store.ids, filters)
    start = bisect.bisect_left(store.mod_index, (mrng[0], -1))
    end = bisect.bisect_right(store.mod_index, (mrng[1], 2 ** 62))
    candidates = sorted(i for _, i in store.mod_index[start:end])
    rest = [f for f in filters if not (f.prop == "lastmodifieddate" and f.op in _INDEXED_OPS - {"IN"})]
    return _filter_ids(store, candidates, rest)


def _cache_key(filters: list[Filter]) -> tuple[Any, ...]:
    return tuple(sorted((f.prop, f.op, repr(f.value), repr(f.high), repr(f.values), f.raw, f.multi)
                        for f in filters))


class ContactSearch:
    """Search over one ``ContactStore``, with its cache of matches per filter group."""

    def __init__(self, limits: SearchLimits) -> None:
        self.limits = limits
        self._cache: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()

    def _group_ids(self, store: ContactStore, group: list[Filter]) -> list[int]:
        rng = _id_range(group)
        rest = [f for f in group if not _is_id_bound(f)]
        if rng is not None:
            lo, hi, lo_in, hi_in, _ = rng
            start = bisect.bisect_left(store.ids, lo) if lo_in else bisect.bisect_right(store.ids, lo)
            end = bisect.bisect_right(store.ids, hi) if hi_in else bisect.bisect_left(store.ids, hi)
            if end - start <= _DIRECT_CHECK_MAX:
                return _filter_ids(store, _slice_ids(store.ids, rng), rest)
        key = (store.version, id(store), _cache_key(rest))
        matched = self._cache.get(key)
        if matched is None:
            matched = _scan(store, rest)
            self._cache[key] = matched
            while len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return _slice_ids(matched, rng) if rng is not None else matched

    def run(self, body: Any, *, raw_length: int, registry: PropertyRegistry, store: ContactStore, now_ms: int,
            lag_ms: int, render: Callable[[Contact, list[str]], dict[str, Any]],
            next_link: Callable[[str], str]) -> dict[str, Any]:
        request = parse_search(body, raw_length=raw_length, registry=registry, limits=self.limits)
        return self._answer(request, store, now_ms, lag_ms, render, next_link)

    def _answer(self, request: SearchRequest, store: ContactStore, now_ms: int, lag_ms: int,
                render: Callable[[Contact, list[str]], dict[str, Any]],
                next_link: Callable[[str], str]) -> dict[str, Any]:
        if len(request.groups) == 1:
            matched = self._group_ids(store, request.groups[0])
        else:
            acc: set[int] = set()
            for g in request.groups:
                acc.update(self._group_ids(store, g))
            matched = sorted(acc)
        by_id = store.by_id
        if lag_ms > 0:
            cutoff = now_ms - lag_ms
            matched = [i for i in matched if by_id[i].updated_ms <= cutoff]
        if request.query is not None:
            query = request.query
            matched = [i for i in matched if query(by_id[i])]

        sort, after, limit = request.sort, request.after, request.limit
        if sort is not None and sort[0] != "hs_object_id":
            prop, desc = sort
            hits = [by_id[i] for i in matched]
            present = [c for c in hits if c.typed.get(prop) is not None]
            missing = [c for c in hits if c.typed.get(prop) is None]
            present.sort(key=lambda c: c.typed[prop], reverse=desc)  # stable: ties stay in id order
            page = (present + missing)[after:after + limit]
        elif sort is not None and sort[1]:
            page = [by_id[i] for i in matched[::-1][after:after + limit]]
        else:
            page = [by_id[i] for i in matched[after:after + limit]]

        total = len(matched)
        response: dict[str, Any] = {"total": total, "results": [render(c, request.properties) for c in page]}
        if after + limit < total and limit > 0:
            nxt = str(after + limit)
            response["paging"] = {"next": {"after": nxt, "link": next_link(nxt)}}
        return response


__all__ = ["ContactSearch", "SearchError", "SearchLimits", "OPERATORS"]
