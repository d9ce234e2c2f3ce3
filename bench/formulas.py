"""The minimum number of API calls each benchmark case needs, from the APIs' documented limits
(shared/API-NOTES.md, "The minimum cost of this job"). N contacts handed over, C changed,
M outcomes changed; ⌈x⌉ is the ceiling; a search is made at least once per cycle.

- first sync with history: HubSpot ⌈N/200⌉ search + ⌈N/50⌉ batch read (``propertiesWithHistory``
  allows 50 ids); Salesforce 1 token + ⌈N/200⌉ email lookup + ⌈N/200⌉ upsert + 1 outcome query.
- first sync, search-only mapping: HubSpot ⌈N/200⌉ search; Salesforce as above.
- incremental (C changed, all already linked): HubSpot ⌈C/200⌉ search + ⌈C/50⌉ batch read;
  Salesforce 1 token + ⌈C/200⌉ update by Id + 1 outcome query (no email lookup for linked
  contacts; a known Lead is written by Id, so a Lead deleted in Salesforce is never re-created).
- no change: HubSpot 1 search; Salesforce 1 token + 1 outcome query.
- feedback (M outcomes changed, S of them moving a lifecycle stage): Salesforce 1 token +
  ⌈M/2000⌉ outcome queries (each Lead comes with its Opportunity); HubSpot the forward leg's 1
  search + 1 properties read + ⌈S/100⌉ lifecycle-stage batch reads (a stage only moves forward,
  so the current one must be read first) + ⌈M/100⌉ batch updates.
- naive baseline: the same job as the first sync with history, so the same minimum.

The OAuth token call is counted apart (``token``) so a table can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil


@dataclass(frozen=True)
class Minimum:
    hubspot: dict[str, int]
    salesforce: dict[str, int]   # includes "token"
    text: str

    @property
    def hubspot_total(self) -> int:
        return sum(self.hubspot.values())

    @property
    def salesforce_total(self) -> int:
        return sum(self.salesforce.values())

    @property
    def total(self) -> int:
        return self.hubspot_total + self.salesforce_total


def _c(x: int, per: int) -> int:
    return ceil(x / per)


def first_sync(n: int, *, history: bool) -> Minimum:
    hubspot = {"search": max(1, _c(n, 200))}
    text = "HS ⌈N/200⌉ search"
    if history:
        hubspot["batch_read"] = _c(n, 50)
        text += " + ⌈N/50⌉ batch read"
    return Minimum(hubspot, {"token": 1, "email_lookup": _c(n, 200), "upsert": _c(n, 200), "outcome_query": 1},
                   text + "; SF 1 token + ⌈N/200⌉ email lookup + ⌈N/200⌉ upsert + 1 outcome query")


def incremental(c: int) -> Minimum:
    return Minimum({"search": max(1, _c(c, 200)), "batch_read": _c(c, 50)},
                   {"token": 1, "update_by_id": _c(c, 200), "outcome_query": 1},
                   "HS ⌈C/200⌉ search + ⌈C/50⌉ batch read; SF 1 token + ⌈C/200⌉ update by Id + 1 outcome query")


def no_change() -> Minimum:
    return Minimum({"search": 1}, {"token": 1, "outcome_query": 1}, "HS 1 search; SF 1 token + 1 outcome query")


def feedback(m: int, moving: int) -> Minimum:
    return Minimum({"search": 1, "properties": 1, "batch_read": _c(moving, 100), "batch_update": _c(m, 100)},
                   {"token": 1, "outcome_query": max(1, _c(m, 2000))},
                   "HS 1 search + 1 properties + ⌈S/100⌉ batch read + ⌈M/100⌉ batch update; "
                   "SF 1 token + ⌈M/2000⌉ outcome query")
