"""What a leg's run and a whole cycle report: status, counts, calls, errors, the dry run's plan."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from syncd.core.errors import ExitCode, SyncdError
from syncd.core.records import Rejection
from syncd.core.window import Window

FORWARD_COUNTS = ("read", "created", "updated", "linked_by_email", "contact_updates", "unchanged", "rejected",
                  "still_rejected", "skipped_converted", "not_qualified", "future_dated", "merged", "archived",
                  "deleted", "restored", "move_failed")
BACK_COUNTS = ("read", "leads_read", "opportunities_read", "ignored", "updated", "would_update", "unchanged",
               "no_outcome", "rejected", "still_rejected", "lifecycle_moved", "lifecycle_kept")


# Per-record refusals whose fix is in the mapping, not in the record: when every record a run sent
# was refused with one of them (a restricted picklist fed values it never accepts), the run exits 4
# ("fix the mapping"), not 3.
MAPPING_RECORD_CODES = frozenset({"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"})
_WRITTEN = ("created", "updated", "linked_by_email", "contact_updates")


@dataclass
class RunResult:
    run_id: str
    status: str                                   # running, ok, partial, failed, interrupted, dry_run
    counts: Counter = field(default_factory=Counter)
    duration_seconds: float = 0.0
    error: SyncdError | None = None
    rejections: list[Rejection] = field(default_factory=list)
    planned: list[Any] = field(default_factory=list)          # dry run, forward: the writes it would send
    planned_updates: list[Any] = field(default_factory=list)  # dry run, back: the contact updates
    skipped: list[Any] = field(default_factory=list)          # dry run, forward: contacts it would skip, and why
    window: Window | None = None
    api_calls: dict[str, int] = field(default_factory=dict)
    quota_remaining: dict[str, int | None] = field(default_factory=dict)   # per system, last seen
    leg: str = "forward"

    @property
    def exit_code(self) -> ExitCode:
        if self.error is not None:
            return self.error.exit_code
        if self.counts.get("rejected"):
            return ExitCode.CONFIG_ERROR if self.mapping_refused else ExitCode.RECORDS_REJECTED
        return ExitCode.OK

    @property
    def mapping_refused(self) -> bool:
        """Nothing landed, and every record sent was refused for a reason the mapping must fix."""
        return bool(self.rejections) and not any(self.counts.get(k) for k in _WRITTEN) \
            and all(r.code in MAPPING_RECORD_CODES for r in self.rejections)

    def count_dict(self) -> dict[str, int]:
        keys = BACK_COUNTS if self.leg == "back" else FORWARD_COUNTS
        return {key: int(self.counts.get(key, 0)) for key in keys}


ACTIVITIES_COUNTS = ("read", "tasks", "events", "status_changes", "kept", "deleted", "not_handed_over",
                     "owners_read", "owner_names_read")


@dataclass
class ActivitiesResult:
    """The tracking step's run (``syncd.run.activities``): what Sales did, read into state."""

    status: str                                   # ok, failed
    counts: Counter = field(default_factory=Counter)
    duration_seconds: float = 0.0
    error: SyncdError | None = None
    window: Window | None = None
    api_calls: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        return self.error.exit_code if self.error is not None else ExitCode.OK

    def count_dict(self) -> dict[str, int]:
        return {key: int(self.counts.get(key, 0)) for key in ACTIVITIES_COUNTS}


@dataclass
class CycleResult:
    forward: RunResult
    back: RunResult | None = None
    activities: ActivitiesResult | None = None    # the agreement's tracking step, with an agreement
    pipeline: str | None = None
    agreement_alerts: Counter = field(default_factory=Counter)    # the agreement's alerts raised, by state

    @property
    def results(self) -> list[RunResult]:
        return [r for r in (self.forward, self.back) if r is not None]

    @property
    def exit_code(self) -> ExitCode:
        """The most serious of the legs' codes (failure beats rejected records beats success)."""
        codes = [r.exit_code for r in self.results]
        if self.activities is not None:
            codes.append(self.activities.exit_code)
        failures = [c for c in codes if c not in (ExitCode.OK, ExitCode.RECORDS_REJECTED)]
        if failures:
            return failures[0]
        return ExitCode.RECORDS_REJECTED if ExitCode.RECORDS_REJECTED in codes else ExitCode.OK
