"""One runner for both legs: the window, the run record, the retry queue, the pipeline, the close.

A leg (``syncd.run.forward``, ``syncd.run.back``) says how to read, plan, write and record its
records; this runner does the rest, the same for both:

1. the window: ``[cursor - lookback, now]`` (``syncd.core.window``), everything with ``--full``;
2. the retry queue: records refused for a passing reason are re-read first, and every refused
   record after the leg's mapping changed;
3. the pipeline (``syncd.run.pipeline``): pages are read ahead, gathered and planned a few at a
   time, their writes grouped into full calls and sent a few at a time;
4. every write's answer is committed once it returns (never before); the window's last commit
   also moves the cursor, in the same transaction, and only when every write of the window was
   confirmed. A stop request ends the run after the writes in flight, leaving the cursor, so
   the next run reads the window again and converges.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import structlog

from syncd.core.errors import SyncdError
from syncd.core.ports import NoProgress, Page, Progress
from syncd.core.records import Rejection
from syncd.core.window import Window, advance, format_cursor, read_window
from syncd.run.pipeline import Stream, Writes
from syncd.run.result import RunResult

log = structlog.get_logger("syncd.run")

C = TypeVar("C")        # what a leg commits
I = TypeVar("I")        # one item a leg writes


@dataclass
class Prepared(Generic[C, I]):
    """One page, gathered and planned."""

    counts: Counter = field(default_factory=Counter)
    commit: C | None = None                  # state changes that need no remote write
    writes: dict[str, list[I]] = field(default_factory=dict)   # by group: a group's items share a call
    rejections: list[Rejection] = field(default_factory=list)
    planned: list[Any] = field(default_factory=list)           # what a dry run shows
    read: int = 0                            # records this page read (for the progress bar)
    total: int | None = None


@dataclass
class Written(Generic[C]):
    """One write call's answers, confirmed."""

    commit: C
    counts: Counter = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    records: int = 0


class Leg(Protocol[C, I]):
    name: str                       # forward | back
    started_event: str              # its run.started-style log line
    cursor_name: str                # its read window's cursor in state
    fingerprint_name: str           # the fingerprint of the mapping its last complete run used
    fingerprint: str
    write_size: int                 # items per write call
    planned_key: str                # RunResult field a dry run's plan goes to

    def window(self, window: Window) -> Window: ...
    def rejected_ids(self, retryable_only: bool) -> list[str]: ...
    def pages(self, window: Window, retry_ids: list[str]) -> Iterator[Page[Any]]: ...
    def prepare(self, page: Page[Any]) -> Prepared[C, I]: ...
    def write(self, group: str, items: list[I]) -> Written[C]: ...
    def commit(self, commit: C, run_id: str, cursors: dict[str, str] | None) -> None: ...


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class LegRunner:
    store: Any                                          # state.StateStore: runs and cursors
    pipeline: str
    lookback: dt.timedelta
    calls: Callable[[], dict[str, int]]                 # API calls so far, per system
    quota: Callable[[], dict[str, int | None]] = dict   # daily allowance left, per system
    clock: Callable[[], dt.datetime] = utcnow
    progress: Progress = field(default_factory=NoProgress)
    readers: int = 2                                    # pages gathered and planned at once
    writers: int = 4                                    # write calls in flight at once

    def run(self, leg: Leg[Any, Any], *, dry_run: bool = False, full: bool = False,
            should_stop: Callable[[], bool] | None = None) -> RunResult:
        result = RunResult(str(uuid.uuid4()), "running", leg=leg.name)
        cursor = self.store.get_cursor(self.pipeline, leg.cursor_name)
        # --full reads everything again; unchanged records are still not written.
        window = leg.window(read_window(None if full else cursor, self.clock(), self.lookback))
        result.window = window
        with self._recorded(result, dry_run):
            log.info(leg.started_event, dry_run=dry_run, full=full,
                     window_start=format_cursor(window.start) if window.start else None,
                     window_end=format_cursor(window.end))
            changed = self.store.get_cursor(self.pipeline, leg.fingerprint_name) != leg.fingerprint
            retry_ids = leg.rejected_ids(retryable_only=not changed)
            cursors = {leg.cursor_name: advance(cursor, window), leg.fingerprint_name: leg.fingerprint}
            stopped = self._stream(leg, result, window, retry_ids, dry_run, should_stop or (lambda: False),
                                   cursors)
            if stopped:
                result.status = "interrupted"
                log.warning("run.stopping", reason="stop requested", committed="batches written so far")
            else:
                result.status = "dry_run" if dry_run else ("partial" if result.counts["rejected"] else "ok")
                if not dry_run:
                    log.info("cursor.advanced", cursor=leg.cursor_name, value=cursors[leg.cursor_name],
                             previous=cursor)
        return result

    def _stream(self, leg: Leg[Any, Any], result: RunResult, window: Window, retry_ids: list[str], dry_run: bool,
                should_stop: Callable[[], bool], cursors: dict[str, str]) -> bool:
        """Read, plan and write the window; True when a stop request cut it short."""
        buffers: dict[str, list[Any]] = defaultdict(list)
        held: list[Written[Any]] = []         # the last write's commit: it carries the cursor
        stopped = announced = False

        def record(written: Written[Any]) -> None:
            self._absorb(result, written.counts, written.rejections)
            self.progress.written(written.records)
            if held:
                leg.commit(held.pop().commit, result.run_id, None)
            held.append(written)

        with Stream(leg.pages(window, retry_ids), leg.prepare, workers=self.readers, name=leg.name) as pages, \
                Writes[Written[Any]](self.writers, name=leg.name) as writes:
            try:
                for prepared in pages:
                    if should_stop():
                        stopped = True
                        break
                    if not announced:
                        self.progress.started(prepared.total)
                        announced = True
                    self.progress.read(prepared.read, prepared.total)
                    self._absorb(result, prepared.counts, prepared.rejections)
                    if dry_run:
                        getattr(result, leg.planned_key).extend(prepared.planned)
                        continue
                    if prepared.commit is not None:
                        leg.commit(prepared.commit, result.run_id, None)
                    for group, items in prepared.writes.items():
                        buffers[group].extend(items)
                        while len(buffers[group]) >= leg.write_size:
                            chunk, buffers[group] = buffers[group][:leg.write_size], buffers[group][leg.write_size:]
                            writes.submit(lambda g=group, c=chunk: leg.write(g, c))
                    for written in writes.ready():
                        record(written)
                if not announced:
                    self.progress.started(0)
                for group, items in buffers.items():     # a stop still sends what it planned
                    for start in range(0, len(items), leg.write_size):
                        writes.submit(lambda g=group, c=items[start:start + leg.write_size]: leg.write(g, c))
                for written in writes.finish():
                    record(written)
            except BaseException:
                for written in writes.salvage():
                    record(written)
                if held:
                    leg.commit(held.pop().commit, result.run_id, None)
                raise
        if dry_run:
            return stopped
        final = None if stopped else cursors
        if held:
            leg.commit(held.pop().commit, result.run_id, final)
        elif final:
            self.store.set_cursors(self.pipeline, final)
        return stopped

    @staticmethod
    def _absorb(result: RunResult, counts: Counter, rejections: list[Rejection]) -> None:
        result.counts.update(counts)
        result.rejections.extend(rejections)
        for rejection in rejections:
            log.warning("record.rejected", hubspot_id=rejection.hubspot_id, code=rejection.code,
                        message=rejection.message, retryable=rejection.retryable)

    @contextmanager
    def _recorded(self, result: RunResult, dry_run: bool) -> Iterator[None]:
        """The run row, the error policy and the canonical ``run.finished`` line. A SyncdError
        ends the run as "failed" (logged with who must act, not raised: the caller reads the exit
        code); any other exception (a kill, a bug) marks the run "interrupted" and propagates."""
        structlog.contextvars.bind_contextvars(run_id=result.run_id, pipeline=self.pipeline, leg=result.leg)
        started = time.monotonic()
        calls_before = self.calls()
        if not dry_run:
            self.store.start_run(result.run_id, self.pipeline, dry_run=dry_run, leg=result.leg)
        try:
            yield
        except SyncdError as exc:
            result.status, result.error = "failed", exc
            log.error("run.failed", error=str(exc), error_type=type(exc).__name__,
                      code=getattr(exc, "code", None), who_acts=exc.who_acts)
        except BaseException:
            result.status = "interrupted"
            if not dry_run:
                self.store.finish_run(result.run_id, status="interrupted", counts=result.count_dict())
            raise
        finally:
            result.duration_seconds = round(time.monotonic() - started, 3)
            calls = self.calls()
            result.api_calls = {system: calls[system] - calls_before.get(system, 0) for system in calls}
            result.quota_remaining = self.quota()
            structlog.contextvars.unbind_contextvars("run_id", "pipeline", "leg")
        if not dry_run:
            self.store.finish_run(result.run_id, status=result.status, counts=result.count_dict(),
                                  error=str(result.error) if result.error else None)
        log.info("run.finished", run_id=result.run_id, pipeline=self.pipeline, leg=result.leg, status=result.status,
                 exit_code=int(result.exit_code), duration_seconds=result.duration_seconds,
                 api_calls=result.api_calls, **result.count_dict())
