"""Overlapped I/O for a leg: read the next page, plan this one and write the last, at once.

    reader thread --(bounded queue)--> gather+plan pool (results in page order) --> writers pool

Memory is bounded by the queue and pool sizes (a few pages), whatever the size of the read.
Order: pages are planned concurrently but handed on in the order they were read; writes finish
in any order (each records only its own contacts; the cursor waits for all of them). The rate
limiters in ``connectors.limits`` are the only brake: these pools only decide how much may wait
for them at once. A failure in any stage surfaces in the caller's thread, where the run ends.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
W = TypeVar("W")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Stream(Generic[T, R]):
    """``prepare`` applied to each item of ``source``: the source is read ahead in its own thread,
    up to ``ahead`` items are prepared at once, results come back in source order."""

    def __init__(self, source: Iterable[T], prepare: Callable[[T], R], *, workers: int = 2, ahead: int = 3,
                 name: str = "leg") -> None:
        self._source = source
        self._prepare = prepare
        self._ahead = ahead
        self._stop = threading.Event()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=ahead)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"{name}-plan")
        self._reader = threading.Thread(target=self._read, name=f"{name}-read", daemon=True)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread, which raises it
            self._put(_Failed(exc))

    def __enter__(self) -> Stream[T, R]:
        self._reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._reader.join(timeout=5)

    def __iter__(self) -> Iterator[R]:
        pending: deque[Future[R]] = deque()
        exhausted = False
        while True:
            while not exhausted and len(pending) < self._ahead:
                try:   # wait for the source only when there is nothing else to hand on
                    item = self._queue.get() if not pending else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _DONE:
                    exhausted = True
                elif isinstance(item, _Failed):
                    raise item.error
                else:
                    pending.append(self._pool.submit(self._prepare, item))  # type: ignore[arg-type]
            if not pending:
                return
            yield pending.popleft().result()


class Writes(Generic[W]):
    """At most ``workers`` writes in flight; ``finished`` hands back the results of the writes
    that came back, so the caller can record each as soon as it does."""

    def __init__(self, workers: int = 4, *, name: str = "leg") -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"{name}-write")
        self._in_flight: set[Future[W]] = set()
        self._done: deque[Future[W]] = deque()

    def __enter__(self) -> Writes[W]:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _collect(self, block: bool) -> None:
        if self._in_flight:
            done, _ = wait(self._in_flight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
            self._in_flight -= done
            self._done.extend(done)

    def room(self) -> bool:
        return len(self._in_flight) < self._workers

    def submit(self, write: Callable[[], W]) -> None:
        assert self.room(), "wait for room first: finished() with block=True"
        self._in_flight.add(self._pool.submit(write))

    def pending(self) -> int:
        """Writes not yet handed back: in flight, or finished and waiting."""
        return len(self._in_flight) + len(self._done)

    def finished(self, block: bool = False) -> Iterator[W]:
        """The results of writes that finished; with ``block``, waiting for at least one when
        none has. A failed write raises here, once."""
        self._collect(block=block and not self._done)
        while self._done:
            yield self._done.popleft().result()

    def salvage(self) -> list[W]:
        """After a failure elsewhere: the results of the writes that did go through (a write that
        happened is still recorded), skipping the ones that failed too."""
        wait(self._in_flight)
        finished = [*self._done, *self._in_flight]
        self._in_flight.clear()
        self._done.clear()
        return [future.result() for future in finished if future.exception() is None]
