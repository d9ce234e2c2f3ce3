"""One active syncer per pipeline: the lease in the state database, on SQLite and PostgreSQL.

Time is a clock passed in, so expiry is tested without waiting."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest

from state.lease import Lease, current_lease, holder_running, holding
from state.store import StateStore
from syncd.core.errors import ExitCode, LockHeld

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)



class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def lease(store: StateStore, pipeline: str, clock: Clock, *, kind: str = "daemon", pid: int = 4242,
          host: str = "host-a", host_key: str = "host-a/ns", alive: bool = True) -> Lease:
    return Lease(store, pipeline, kind, ttl_seconds=60, clock=clock, holder=f"{host}:{pid}",  # type: ignore[arg-type]
                 host_key=host_key, process_exists=lambda _pid: alive)


def test_a_second_syncer_is_refused_with_who_holds_the_lock_and_since_when(store, pipeline):
    clock = Clock()
    lease(store, pipeline, clock).acquire()
    clock.advance(5)
    with pytest.raises(LockHeld) as refused:
        lease(store, pipeline, clock, kind="once", pid=777).acquire()
    message = str(refused.value)
    assert message.startswith(f"pipeline '{pipeline}' is being synced by a daemon (pid 4242 on host-a) "
                              "since 2026-11-26 09:00:00 UTC; last heartbeat 5s ago")
    assert "systemctl stop syncd" in message and "frees itself at 2026-11-26 09:01:00 UTC" in message
    assert refused.value.exit_code == ExitCode.LOCKED
    info = current_lease(store, pipeline)
    assert (info.holder, info.kind, info.acquired_at) == ("host-a:4242", "daemon", T0)


def test_heartbeats_keep_a_lease_past_its_ttl_and_it_expires_only_after_they_stop(store, pipeline):
    clock = Clock()
    holder = lease(store, pipeline, clock)
    holder.acquire()
    for _ in range(4):                                    # 4 x 45 s: well past the 60 s TTL
        clock.advance(45)
        assert holder.heartbeat()
    other = lease(store, pipeline, clock, pid=5, host="host-b", host_key="host-b/ns")
    clock.advance(59)
    with pytest.raises(LockHeld):
        other.acquire()
    clock.advance(2)                                      # 61 s since the last heartbeat
    other.acquire()
    assert current_lease(store, pipeline).holder == "host-b:5"


def test_an_expired_lease_is_taken_over_and_the_old_holder_finds_out_and_cannot_release_it(store, pipeline):
    clock = Clock()
    old = lease(store, pipeline, clock)
    old.acquire()
    clock.advance(120)                                    # the old holder stalled (suspended VM)
    new = lease(store, pipeline, clock, pid=5, host="host-b", host_key="host-b/ns")
    new.acquire()
    assert old.heartbeat() is False and old.held is False
    old.release()                                         # must not delete the new holder's row
    assert current_lease(store, pipeline).holder == "host-b:5"


def test_on_the_same_machine_a_lease_whose_process_is_gone_is_taken_over_at_once(store, pipeline):
    clock = Clock()
    lease(store, pipeline, clock, pid=4242).acquire()     # then kill -9: no release, far from expiry
    clock.advance(1)
    lease(store, pipeline, clock, kind="once", pid=99, alive=False).acquire()
    info = current_lease(store, pipeline)
    assert (info.holder, info.kind) == ("host-a:99", "once")


def test_a_pid_from_another_machine_or_pid_namespace_is_never_judged_dead_from_here(store, pipeline):
    clock = Clock()
    lease(store, pipeline, clock, pid=4242, host_key="host-a/other-container").acquire()
    with pytest.raises(LockHeld):
        lease(store, pipeline, clock, pid=99, alive=False).acquire()


def test_releasing_frees_the_pipeline_and_pipelines_are_locked_independently(store, pipeline):
    clock = Clock()
    first = lease(store, pipeline, clock)
    first.acquire()
    other_pipeline = pipeline + "-b"
    store.test_pipelines.append(other_pipeline)  # type: ignore[attr-defined]
    lease(store, other_pipeline, clock, pid=5).acquire()  # a different pipeline: no conflict
    first.release()
    assert current_lease(store, pipeline) is None
    lease(store, pipeline, clock, pid=6).acquire()


def test_of_many_syncers_starting_at_once_exactly_one_gets_the_lease(store, pipeline):
    clock = Clock()
    contenders = [lease(store, pipeline, clock, pid=1000 + i, host_key=f"host/{i}") for i in range(8)]
    barrier = threading.Barrier(len(contenders))
    outcomes: list[str] = []

    def start(contender: Lease) -> None:
        barrier.wait()
        try:
            contender.acquire()
            outcomes.append("held")
        except LockHeld:
            outcomes.append("refused")

    threads = [threading.Thread(target=start, args=(c,)) for c in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["held"] + ["refused"] * 7
    winner = next(c for c in contenders if c.held)
    assert current_lease(store, pipeline).holder == winner.holder


def test_taking_the_lease_closes_the_runs_a_dead_syncer_left_running(store, pipeline):
    clock = Clock()
    store.start_run(str(uuid.uuid4()), pipeline, dry_run=False)    # its syncer was killed mid-run
    lease(store, pipeline, clock).acquire()
    (run,) = store.recent_runs(pipeline)
    assert run.status == "interrupted" and "abandoned" in run.error and run.finished_at is not None


def test_holding_heartbeats_in_the_background_and_releases_on_exit(store, pipeline):
    with holding(store, pipeline, "once", ttl_seconds=0.4) as held:
        first = current_lease(store, pipeline).heartbeat_at
        threading.Event().wait(0.35)                       # the keep-alive beats every ttl / 4
        assert current_lease(store, pipeline).heartbeat_at > first and held.held
    assert current_lease(store, pipeline) is None


def test_status_judges_a_holders_pid_only_from_its_own_host_and_pid_namespace(store, pipeline):
    clock = Clock()
    lease(store, pipeline, clock, pid=4242, host_key="host-a/ns").acquire()
    info = current_lease(store, pipeline)
    assert holder_running(info, "host-a/ns", exists=lambda pid: pid != 4242) is False
    assert holder_running(info, "host-a/ns", exists=lambda pid: True) is True
    assert holder_running(info, "host-a/other-container", exists=lambda pid: False) is None
    assert holder_running(info, None, exists=lambda pid: False) is None


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
@pytest.mark.parametrize("host_off_by_minutes", [10, -10])
def test_on_postgresql_host_clocks_that_disagree_never_take_a_live_lease_nor_keep_a_dead_one(
        store, pipeline, host_off_by_minutes):
    """Leases are judged by the database's clock: a second host whose clock is ten minutes off (far
    past the 60 s TTL) is refused a live lease, and expiry is written in the database's time."""
    import time_machine

    first = Lease(store, pipeline, "daemon", ttl_seconds=60, holder="host-a:1", host_key="host-a/ns",
                  process_exists=lambda _pid: True)
    first.acquire()
    second = Lease(store, pipeline, "once", ttl_seconds=60, holder="host-b:2", host_key="host-b/ns",
                   process_exists=lambda _pid: True)
    off = dt.timedelta(minutes=host_off_by_minutes)
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) + off, tick=True):   # this host's clock only
        with pytest.raises(LockHeld):
            second.acquire()
        assert first.heartbeat()                                                 # the holder's, off too
        with pytest.raises(LockHeld):
            second.acquire()
    row_expiry = current_lease(store, pipeline).expires_at
    database_now = second.clock()
    assert abs((row_expiry - database_now).total_seconds() - 60) < 5             # in the database's time
