"""Client-side rate limits, one set per account, shared by every thread that calls it.

This is the only brake on calls: the reader, the planners' look-ups and the writers all take a
slot here before they send, so a pipelined run uses an account's allowance fully and never
earns a 429 from its own concurrency (a 429 caused by another app on the account is still handled
by the retry policy, honouring ``Retry-After``).

A ``Window(limit, seconds)`` admits a call when fewer than ``limit`` calls are in flight or
*finished* within the last ``seconds``. Counting finished calls at their finish time (not their
start) is what makes it exact against a server that counts calls when they arrive: any call the
server saw in its window ending at call X's arrival either was still in flight when X was
admitted, or finished after X's admission minus the window, so it was counted (see
tests/test_limits.py). ``concurrency`` caps calls in flight (Salesforce limits long-running
concurrent requests, not a rate).

HubSpot (private app): 190 calls per rolling 10 s (Professional/Enterprise; 100 on Free/Starter),
and search 5 per second on top; searches are counted in the 10-second bucket too, since HubSpot
does not document that they are not.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: float

    @property
    def span(self) -> float:
        """The window as the limiter applies it: a hair longer than the server's, so that a call
        landing exactly on its edge (or a clock reading rounded the other way) is never counted twice."""
        return self.seconds + MARGIN_SECONDS


MARGIN_SECONDS = 0.005


class RateLimiter:
    def __init__(self, windows: Sequence[Window] = (), *, concurrency: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.windows = tuple(windows)
        self.concurrency = concurrency
        self.clock = clock
        self._finished = [deque[float]() for _ in self.windows]
        self._in_flight = 0
        self._ready = threading.Condition(threading.RLock())

    def _delay(self, now: float) -> float | None:
        """Seconds until a call may start (0: now), or None: wait for a call in flight to end."""
        if self.concurrency is not None and self._in_flight >= self.concurrency:
            return None
        delay = 0.0
        for window, finished in zip(self.windows, self._finished):
            while finished and finished[0] <= now - window.span:
                finished.popleft()
            over = self._in_flight + len(finished) - window.limit + 1     # calls that must age out
            if over <= 0:
                continue
            if over > len(finished):
                return None                  # calls in flight alone fill it: wait for one to end
            delay = max(delay, finished[over - 1] + window.span - now)
        return delay

    def try_acquire(self, now: float) -> float | None:
        """Take a slot if one is free at ``now`` (returns 0.0); otherwise how long to wait before
        asking again, or None: until a call in flight ends. The whole rule, without waiting."""
        with self._ready:
            delay = self._delay(now)
            if delay == 0.0:
                self._in_flight += 1
            return delay

    def acquire(self) -> None:
        with self._ready:
            while (delay := self.try_acquire(self.clock())) != 0.0:
                self._ready.wait(timeout=delay)

    def release(self, now: float | None = None) -> None:
        with self._ready:
            self._in_flight -= 1
            finished_at = self.clock() if now is None else now
            for finished in self._finished:
                finished.append(finished_at)
            self._ready.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def observe(self, remaining: int, now: float | None = None) -> None:
        """The server's count of what is left in the first window (HubSpot's
        ``X-HubSpot-RateLimit-Remaining``): calls this limiter did not see (another app, another
        syncd on the same account) are counted as just finished, so they slow this one down
        instead of earning 429s."""
        if not self.windows:
            return
        with self._ready:
            now = self.clock() if now is None else now
            window, finished = self.windows[0], self._finished[0]
            while finished and finished[0] <= now - window.span:
                finished.popleft()
            unseen = (window.limit - remaining) - (self._in_flight + len(finished))
            if unseen > 0:
                finished.extend([now] * unseen)
                # keep the deque ordered: the new entries are the latest
                self._finished[0] = deque(sorted(finished))


class Limits:
    """Several limiters taken together, always in the same order (no two callers deadlock)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    @contextmanager
    def slot(self) -> Iterator[None]:
        taken: list[RateLimiter] = []
        try:
            for limiter in self.limiters:
                limiter.acquire()
                taken.append(limiter)
            yield
        finally:
            for limiter in reversed(taken):
                limiter.release()


UNLIMITED = Limits()


def hubspot_limits(burst: int = 190, burst_seconds: float = 10.0, search_per_second: int = 5,
                   concurrency: int = 8) -> tuple[Limits, Limits]:
    """(limits for ordinary calls, limits for search calls) of one HubSpot account."""
    account = RateLimiter([Window(burst, burst_seconds)], concurrency=concurrency)
    search = RateLimiter([Window(search_per_second, 1.0)])
    return Limits(account), Limits(search, account)


def salesforce_limits(concurrency: int = 8) -> Limits:
    return Limits(RateLimiter(concurrency=concurrency))
