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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import structlog

from state.store import StateStore
from syncd.core.errors import StateUnavailable, SyncdError
from syncd.core.ports import NoProgress, Page, Progress
from syncd.core.records import Rejection
from syncd.core.window import Window, format_cursor
from syncd.run.clock import SourceTime, skew_cursor
from syncd.run.pipeline import Stream, Writes
from syncd.run.result import RunResult

log = structlog.get_logger("syncd.run")

C = TypeVar("C")        # what a leg commits
W = TypeVar("W")        # one item a leg writes


@dataclass
class Prepared(Generic[C, W]):
    """One page, gathered and planned."""

    counts: Counter = field(default_factory=Counter)
    commit: C | None = None                  # state changes that need no remote write
    writes: dict[str, list[W]] = field(default_factory=dict)   # by group: a group's items share a call
    rejections: list[Rejection] = field(default_factory=list)
    planned: list[Any] = field(default_factory=list)           # what a dry run shows
    skipped: list[Any] = field(default_factory=list)           # and what it would skip, with why
    read: int = 0                            # records this page read (for the progress bar)
    total: int | None = None


@dataclass
class Written(Generic[C]):
    """One write call's answers, confirmed."""

    commit: C
    counts: Counter = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    records: int = 0


class Leg(Protocol[C, W]):
    name: str                       # forward | back
    started_event: str              # its run.started-style log line
    cursor_name: str                # its read window's cursor in state
    fingerprint_name: str           # the fingerprint of the mapping its last complete run used
    fingerprint: str
    write_size: int                 # items per write call
    planned_key: str                # RunResult field a dry run's plan goes to
    source_system: str              # whose clock its window follows: "hubspot" or "salesforce"

    def window(self, window: Window) -> Window: ...
    def rejected_ids(self, retryable_only: bool) -> list[str]: ...
    def pages(self, window: Window, retry_ids: list[str]) -> Iterator[Page[Any]]: ...
    def retry_pages(self, retry_ids: list[str]) -> Iterator[Page[Any]]: ...   # the retry queue alone
    def prepare(self, page: Page[Any]) -> Prepared[C, W]: ...
    def write(self, group: str, items: list[W]) -> Written[C]: ...
    def commit(self, commit: C, run_id: str, cursors: dict[str, str] | None) -> None: ...
    def calls_needed(self, total: int) -> dict[str, int]: ...   # at most, per system, for ``total`` records
    def server_skew(self) -> float | None: ...   # its source's clock minus this host's (latest answer)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class LegRunner:
    store: StateStore                                   # runs and cursors
    pipeline: str
    lookback: dt.timedelta
    calls: Callable[[], dict[str, int]]                 # API calls so far, per system
    quota: Callable[[], dict[str, int | None]] = dict   # daily allowance left, per system
    quota_left: Callable[[], dict[str, int | None]] = dict   # ... before the reserve kept for others
    clock: Callable[[], dt.datetime] = utcnow
    progress: Progress = field(default_factory=NoProgress)
    readers: int = 2                                    # pages gathered and planned at once
    writers: int = 4                                    # write calls in flight at once

    def run(self, leg: Leg[Any, Any], *, dry_run: bool = False, full: bool = False,
            should_stop: Callable[[], bool] | None = None, only: Sequence[str] | None = None,
            preflight: Callable[[], None] | None = None) -> RunResult:
        """One run of the leg over its window. ``only``: re-send just these rejected records
        (`syncd rejected retry`): the retry queue is them, no window is read and no cursor moves.
        ``preflight`` (the mapping against the live orgs) runs inside the run's record before any
        read: its failure is the run's failure, its calls are the run's calls."""
        result = RunResult(str(uuid.uuid4()), "running", leg=leg.name)
        cursor = self.store.get_cursor(self.pipeline, leg.cursor_name)
        source_time = SourceTime(leg.source_system, leg.server_skew,
                                 self.store.get_cursor(self.pipeline, skew_cursor(leg.source_system)), self.clock())
        # --full reads everything again; unchanged records are still not written.
        window = leg.window(source_time.window(None if full else cursor, self.lookback))
        result.window = window
        with self._recorded(result, dry_run):
            if preflight is not None:
                preflight()
            log.info(leg.started_event, dry_run=dry_run, full=full,
                     window_start=format_cursor(window.start) if window.start else None,
                     window_end=format_cursor(window.end))
            changed = self.store.get_cursor(self.pipeline, leg.fingerprint_name) != leg.fingerprint
            retry_ids = list(only) if only is not None else leg.rejected_ids(retryable_only=not changed)
            final: dict[str, str] = {}

            def cursors() -> dict[str, str]:
                """Computed when the window's last write is confirmed: by then the source's
                answers have told its time."""
                if only is not None:       # the window was not read: nothing to move past
                    return {}
                if not final:
                    final.update({leg.cursor_name: source_time.cursor(cursor, window, leg.window),
                                  leg.fingerprint_name: leg.fingerprint, **source_time.kept()})
                return final

            stopped = self._stream(leg, result, window, retry_ids, dry_run, should_stop or (lambda: False),
                                   cursors, only)
            if stopped:
                result.status = "interrupted"
                log.warning("run.stopping", reason="stop requested", committed="batches written so far")
            else:
                result.status = "dry_run" if dry_run else ("partial" if result.counts["rejected"] else "ok")
                if not dry_run and only is None:
                    log.info("cursor.advanced", cursor=leg.cursor_name, value=cursors()[leg.cursor_name],
                             previous=cursor)
        return result

    def _stream(self, leg: Leg[Any, Any], result: RunResult, window: Window, retry_ids: list[str], dry_run: bool,
                should_stop: Callable[[], bool], cursors: Callable[[], dict[str, str]],
                only: Sequence[str] | None) -> bool:
        """Read, plan and write the window; True when a stop request cut it short."""
        announced = False
        source = leg.pages(window, retry_ids) if only is None else leg.retry_pages(retry_ids)
        with Stream(source, leg.prepare, workers=self.readers, name=leg.name) as pages, \
                Writes[Written[Any]](self.writers, name=leg.name) as writes:
            writing = _Writing(self, leg, result, writes, should_stop, cursors)
            try:
                for prepared in pages:
                    if writing.stopped or should_stop():
                        writing.stopped = True
                        break
                    if not announced:
                        self.progress.started(prepared.total)
                        announced = True
                        if prepared.total:
                            self._estimate(leg, prepared.total)
                    self.progress.read(prepared.read, prepared.total)
                    self._absorb(result, prepared.counts, prepared.rejections)
                    if dry_run:
                        getattr(result, leg.planned_key).extend(prepared.planned)
                        result.skipped.extend(prepared.skipped)
                    else:
                        writing.add(prepared)
                if not announced:
                    self.progress.started(0)
                writing.finish()
            except Exception:
                writing.salvage()
                raise
        if not (dry_run or writing.stopped or writing.cursor_moved or only is not None):
            self.store.set_cursors(self.pipeline, cursors())     # a window with nothing to write
        return writing.stopped

    def _estimate(self, leg: Leg[Any, Any], total: int) -> None:
        """Before the writes: the calls this run needs against what each allocation has left
        before its reserve. Short of it, the run goes as far as it can and says so now."""
        needed, left = leg.calls_needed(total), self.quota_left()
        log.info("run.estimate", records=total, calls_needed=needed,
                 calls_left={system: left.get(system) for system in needed})
        short = {system: (calls, left[system]) for system, calls in needed.items()
                 if left.get(system) is not None and calls > left[system]}   # type: ignore[operator]
        for system, (calls, available) in short.items():
            log.warning("quota.short", system=system, calls_needed=calls, calls_left=available,
                        action="the run stops at the reserve; later cycles carry on from there")

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
        try:
            if not dry_run:
                self.store.start_run(result.run_id, self.pipeline, dry_run=dry_run, leg=result.leg)
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
            try:
                self.store.finish_run(result.run_id, status=result.status, counts=result.count_dict(),
                                      error=str(result.error) if result.error else None)
            except StateUnavailable as exc:
                # The store cannot record the run's end: the run failed for that reason, unless
                # it had already failed for another (then run.failed said why).
                if result.error is None:
                    result.status, result.error = "failed", exc
                    log.error("run.failed", error=str(exc), error_type=type(exc).__name__,
                              code=exc.code, who_acts=exc.who_acts)
        log.info("run.finished", run_id=result.run_id, pipeline=self.pipeline, leg=result.leg, status=result.status,
                 exit_code=int(result.exit_code), duration_seconds=result.duration_seconds,
                 api_calls=result.api_calls, **result.count_dict())


class _Writing:
    """The writes of one run: grouped into full calls, a few in flight at once, each answer
    committed as soon as it comes back; the answer that leaves nothing in flight and nothing
    unsent also moves the cursor, in the same transaction. After a stop request no write is sent
    any more: the ones in flight are awaited and committed, the rest is left to the next run
    (the cursor stays, so it reads the window again)."""

    def __init__(self, runner: LegRunner, leg: Leg[Any, Any], result: RunResult, writes: Writes[Written[Any]],
                 should_stop: Callable[[], bool], cursors: Callable[[], dict[str, str]]) -> None:
        self.runner, self.leg, self.result, self.writes = runner, leg, result, writes
        self.should_stop = should_stop
        self.cursors = cursors
        self.buffers: dict[str, list[Any]] = defaultdict(list)
        self.stopped = self.cursor_moved = self.failed = self.exhausted = False

    def add(self, prepared: Prepared[Any, Any]) -> None:
        if prepared.commit is not None:
            self.leg.commit(prepared.commit, self.result.run_id, None)
        size = self.leg.write_size
        for group, items in prepared.writes.items():
            buffer = self.buffers[group]
            buffer.extend(items)
            while len(buffer) >= size and not self.stopped:
                self._send(group, buffer[:size])
                del buffer[:size]
        for written in self.writes.finished():
            self._record(written)

    def finish(self) -> None:
        """Send what is left in the buffers (unless stopped), then wait for every answer."""
        for group, items in self.buffers.items():
            for start in range(0, len(items), self.leg.write_size):
                if not self.stopped:
                    self._send(group, items[start:start + self.leg.write_size])
        self.exhausted = True
        while self.writes.pending():
            for written in self.writes.finished(block=True):
                self._record(written)

    def salvage(self) -> None:
        """The run failed: still record the writes that went through (never the cursor). A kill
        or an interrupt does no more work; the next run repeats those writes, harmlessly."""
        self.failed = True
        for written in self.writes.salvage():
            self._record(written)

    def _send(self, group: str, chunk: list[Any]) -> None:
        while not self.writes.room():        # record what comes back while waiting for a writer
            for written in self.writes.finished(block=True):
                self._record(written)
        if self.should_stop():               # asked while this write waited: send nothing more
            self.stopped = True
            return
        self.writes.submit(lambda: self.leg.write(group, chunk))

    def _record(self, written: Written[Any]) -> None:
        self.runner._absorb(self.result, written.counts, written.rejections)
        self.runner.progress.written(written.records)
        last = self.exhausted and not (self.stopped or self.failed) and self.writes.pending() == 0
        self.leg.commit(written.commit, self.result.run_id, self.cursors() if last else None)
        self.cursor_moved |= last
