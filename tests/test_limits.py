"""The client-side rate limiter: a server that counts calls on arrival never sees more than the
limit in any window, whatever the latencies, and the limiter never holds a call back for nothing."""

from __future__ import annotations

import heapq
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.limits import Limits, RateLimiter, Window, hubspot_limits


def simulate(limit: int, seconds: float, calls: list[tuple[float, float, float]], concurrency: int | None = None):
    """Calls (ready at, time to reach the server, time to answer) sent through a limiter on a
    simulated clock; returns (arrival, start, finish) per call."""
    limiter = RateLimiter([Window(limit, seconds)], concurrency=concurrency, clock=lambda: 0.0)
    events: list[tuple[float, int, str, int]] = []     # (time, order, kind, call)
    for n, (ready, _, _) in enumerate(calls):
        heapq.heappush(events, (ready, n, "try", n))
    waiting: list[int] = []
    done: dict[int, tuple[float, float, float]] = {}
    order = len(calls)
    while events:
        now, _, kind, n = heapq.heappop(events)
        if kind == "finish":
            limiter.release(now)
            retry, waiting = waiting, []
            for m in retry:
                order += 1
                heapq.heappush(events, (now, order, "try", m))
            continue
        delay = limiter.try_acquire(now)
        if delay == 0.0:
            _, to_server, to_answer = calls[n]
            done[n] = (now + to_server, now, now + to_server + to_answer)
            order += 1
            heapq.heappush(events, (now + to_server + to_answer, order, "finish", n))
        elif delay is None:
            waiting.append(n)
        else:
            order += 1
            heapq.heappush(events, (now + delay, order, "try", n))
    return [done[n] for n in range(len(calls))]


call = st.tuples(st.floats(0, 30), st.floats(0, 2), st.floats(0, 2))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12), st.sampled_from([1.0, 10.0]), st.lists(call, min_size=1, max_size=80))
def test_the_server_never_counts_more_than_the_limit_in_any_window(limit, seconds, calls):
    arrivals = sorted(arrival for arrival, _, _ in simulate(limit, seconds, calls))
    for i, arrival in enumerate(arrivals):
        in_window = [a for a in arrivals[:i + 1] if a > arrival - seconds]
        assert len(in_window) <= limit


def test_an_idle_account_admits_a_full_burst_at_once_then_paces():
    starts = [start for _, start, _ in simulate(5, 1.0, [(0.0, 0.01, 0.01)] * 12)]
    assert starts[:5] == [0.0] * 5
    assert all(start > 1.0 for start in starts[5:10])           # the first five must age out first
    assert len({round(s, 6) for s in starts[5:10]}) == 1


def test_concurrency_caps_calls_in_flight():
    results = simulate(100, 10.0, [(0.0, 0.0, 1.0)] * 6, concurrency=2)
    starts = sorted(start for _, start, _ in results)
    assert starts == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]


def test_a_search_takes_the_search_slot_and_the_account_slot():
    ordinary, search = hubspot_limits(burst=3, search_per_second=5)
    account = ordinary.limiters[0]
    with search.slot():
        assert account.try_acquire(0.0) == 0.0 and account.try_acquire(0.0) == 0.0
        assert account.try_acquire(0.0) is None                 # the search is the third in flight
        account.release(0.0)
        account.release(0.0)


def test_threads_share_one_limiter_and_wait_for_each_other():
    limiter = Limits(RateLimiter([Window(2, 0.2)]))
    entered: list[int] = []
    lock = threading.Lock()

    def call(n: int) -> None:
        with limiter.slot():
            with lock:
                entered.append(n)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(entered) == list(range(6))


def test_calls_another_client_made_on_the_account_slow_this_one_down():
    limiter = RateLimiter([Window(10, 10.0)], clock=lambda: 0.0)
    assert limiter.try_acquire(0.0) == 0.0
    limiter.release(0.5)
    limiter.observe(remaining=2, now=0.5)              # the server counted 8: 7 were someone else's
    first, second, third = (limiter.try_acquire(0.6) for _ in range(3))
    assert (first, second) == (0.0, 0.0) and third > 9.0    # room for 2 more, not 9
    limiter.observe(remaining=9, now=0.7)              # fewer than we know of: nothing changes
    assert limiter.try_acquire(0.7) > 9.0
