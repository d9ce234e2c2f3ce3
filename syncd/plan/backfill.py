"""`syncd backfill`: which Leads differ from the current mapping on the compared fields, what each
write sends, and what the backfill costs in API calls.

Pure: the forward planner (``syncd.plan.forward.plan``) renders each candidate with the current
mapping, ``syncd.plan.preview.decide`` compares the planned write with what Salesforce holds now
(read by the caller, one query per 200 Leads); this only sorts the candidates:

- **send**: a compared field differs. A contact unchanged in HubSpot since its last accepted write
  (``Link.source_modified``) gets only the compared fields that differ (Sales' edits to other
  fields stay); one changed since gets the whole planned payload, as the next run would send it.
  Either way state records the digest of the whole planned payload once Salesforce accepts it,
  as a run would.
- **recorded**: the compared fields already match and the contact is unchanged since its last
  write: nothing is sent; state records the current mapping's digest, so the next run does not
  send it again for the mapping change alone.
- **pending**: the compared fields match but the contact changed in HubSpot since its last write:
  left alone, the next run sends it as usual.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from syncd.core.records import Link
from syncd.plan.forward import Write
from syncd.plan.preview import UPDATE, Change, Decision

HUBSPOT_BATCH = 100          # contacts per HubSpot batch read
HUBSPOT_BATCH_HISTORY = 50   # ... when the mapping reads property history
QUERY_IDS = 200              # Lead Ids per SOQL query of current values
WRITE_SIZE = 200             # records per sObject Collections call


@dataclass(frozen=True)
class Estimate:
    """The calls a backfill makes: reads before it reads, writes once it has compared."""

    candidates: int
    hubspot_reads: int
    salesforce_queries: int
    leads_to_write: int | None = None      # known after the comparison
    salesforce_writes: int | None = None

    def as_json(self) -> dict[str, int | None]:
        return {"candidates": self.candidates, "hubspot_reads": self.hubspot_reads,
                "salesforce_queries": self.salesforce_queries, "leads_to_write": self.leads_to_write,
                "salesforce_writes": self.salesforce_writes}


def estimate(candidates: int, *, history: bool) -> Estimate:
    """Before any read: HubSpot batch reads (100 contacts a call, 50 with property history) and one
    Salesforce query per 200 Leads."""
    per_call = HUBSPOT_BATCH_HISTORY if history else HUBSPOT_BATCH
    return Estimate(candidates, math.ceil(candidates / per_call), math.ceil(candidates / QUERY_IDS))


def with_writes(before: Estimate, leads: int) -> Estimate:
    return replace(before, leads_to_write=leads, salesforce_writes=math.ceil(leads / WRITE_SIZE))


@dataclass(frozen=True)
class LeadChange:
    """One Lead the backfill writes, as the admin reads it."""

    hubspot_id: str
    lead_id: str
    changes: list[Change]                  # the compared fields that differ
    also: list[Change] = field(default_factory=list)   # other fields the whole payload changes too
    whole_payload: bool = False            # changed in HubSpot since its last write: the whole payload

    def as_json(self) -> dict:
        return {"hubspot_id": self.hubspot_id, "lead_id": self.lead_id,
                "changes": {c.field: {"old": c.old, "new": c.new} for c in self.changes},
                "also": {c.field: {"old": c.old, "new": c.new} for c in self.also},
                "whole_payload": self.whole_payload}


@dataclass
class Comparison:
    send: list[Write] = field(default_factory=list)
    changes: list[LeadChange] = field(default_factory=list)
    recorded: list[Link] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)    # hubspot id -> why nothing is compared
    other_fields_differ: int = 0           # matched on the compared fields, differ on others (not sent)

    def extend(self, other: Comparison) -> None:
        self.send += other.send
        self.changes += other.changes
        self.recorded += other.recorded
        self.pending += other.pending
        self.skipped.update(other.skipped)
        self.other_fields_differ += other.other_fields_differ


MOVED = "its Lead was converted, deleted or merged since: the next run follows it"


def compare(writes: Iterable[Write], decisions: Mapping[str, Decision], links: Mapping[str, Link],
            fields: Sequence[str], external_id_field: str) -> Comparison:
    """Sort the planned Lead updates by what Salesforce holds now on ``fields``."""
    result = Comparison()
    compared = set(fields)
    for write in writes:
        decision = decisions.get(write.hubspot_id)
        link = links.get(write.hubspot_id)
        if write.kind != "lead_update" or decision is None or decision.action != UPDATE \
                or decision.current is None or link is None or decision.target_id != write.target_id:
            result.skipped[write.hubspot_id] = MOVED
            continue
        differing = [c for c in decision.changes if c.field in compared]
        others = [c for c in decision.changes if c.field not in compared]
        in_sync = link.source_modified is not None and link.source_modified == write.source_modified
        if differing:
            if in_sync:
                sent = {c.field: write.fields[c.field] for c in differing}
                sent[external_id_field] = write.fields.get(external_id_field, write.hubspot_id)
                result.send.append(replace(write, fields=sent))      # payload_hash: the whole payload's
            else:
                result.send.append(write)
            result.changes.append(LeadChange(write.hubspot_id, str(write.target_id), differing,
                                             [] if in_sync else others, whole_payload=not in_sync))
            result.other_fields_differ += bool(others) and in_sync
            continue
        result.other_fields_differ += bool(others)
        if in_sync:
            result.recorded.append(Link(write.hubspot_id, write.target_id, payload_hash=write.payload_hash,
                                        attribution=write.attribution, source_modified=write.source_modified,
                                        mapping_fingerprint=write.mapping_fp))
        else:
            result.pending.append(write.hubspot_id)
    return result
