"""A daemon that cannot hang silently (issue #8): systemd's watchdog hears from `syncd run` only
while its cycle moves, so a cycle stuck on a remote call gets the service restarted.

The real daemon runs against the emulators with a HubSpot search held at a gate: the cycle is
then stuck exactly as long as the test wants, and the test listens on the notify socket as
systemd would. Every wait waits for something to happen; the one stretch of time the test lets
pass is the one in which something must *not* happen (a ping), which a slow machine cannot fake.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import qualified
from tests.daemon import (Daemon, GatedStack, NotifyListener, assert_logs_are_documented_json_without_secrets,
                          clean_env, configure, free_port, gated_stack, http_get)

WATCHDOG_SECONDS = 2            # WatchdogSec=2s: the stall bound, and a ping every second
LONG_TIMEOUT = 600              # HubSpot's request timeout: the held search never times out in the test


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[GatedStack]:
    with gated_stack(tmp_path) as emulators:
        yield emulators


def stalled_status(message: dict[str, str]) -> bool:
    return message.get("STATUS", "").startswith("cycle stalled")


def test_a_cycle_stuck_on_a_remote_call_stops_the_watchdog_pings_until_it_moves_again(stack):
    ids = stack.hubspot.create_contacts(qualified(3))
    stack.searches.allow(0)                    # the first cycle's first call waits at the gate
    port = free_port()
    with NotifyListener() as systemd:
        # The long timeout makes the held search a call whose own timeout never fires (a server
        # that trickles bytes, a hung DNS lookup): only the watchdog can end it.
        env = clean_env(NOTIFY_SOCKET=systemd.name, WATCHDOG_USEC=str(WATCHDOG_SECONDS * 1_000_000),
                        SYNCD_HUBSPOT__TIMEOUT_SECONDS=str(LONG_TIMEOUT))
        with Daemon(configure(stack, interval=3600, port=port), env=env) as daemon:
            started = daemon.wait_for("service.started")[0]
            assert started["stall_bound_seconds"] == WATCHDOG_SECONDS
            # WatchdogSec= shorter than one request's timeout plus a retry pause is called out
            (short,) = daemon.events("service.watchdog_short")
            assert (short["watchdog_seconds"], short["needed_seconds"]) == (WATCHDOG_SECONDS, LONG_TIMEOUT + 30)

            daemon.wait_held(stack.searches)
            (stalled,) = daemon.wait_for("service.cycle_stalled")
            assert stalled["seconds_since_progress"] >= stalled["bound_seconds"] == WATCHDOG_SECONDS
            stall = systemd.wait_for_message(stalled_status)
            assert systemd.with_key("WATCHDOG")                     # it was pinging before
            status, _, body = http_get(f"http://127.0.0.1:{port}/healthz")
            health = json.loads(body)
            assert (status, health["status"]) == (503, "stalled") and "has not moved for" in health["reason"]

            # Three ping intervals with the cycle still stuck: not one ping, so systemd's
            # WatchdogSec= runs out and it restarts the service. The stall is logged once.
            assert systemd.arriving("WATCHDOG", after=stall, seconds=3 * WATCHDOG_SECONDS / 2) == []
            assert stack.searches.is_holding(timeout=0) and daemon.process.poll() is None
            assert len(daemon.events("service.cycle_stalled")) == 1
            assert systemd.with_key("WATCHDOG", after=stall) == []   # none, up to the moment it moves

            stack.searches.open()                                   # the call is answered: it moves again
            resumed = daemon.wait_for("service.cycle_resumed")[0]
            assert resumed["seconds_without_progress"] >= WATCHDOG_SECONDS
            systemd.wait_for_message(lambda m: "WATCHDOG" in m, after=stall)      # the pings are back
            (finished,) = daemon.wait_for("service.cycle_finished")
            assert finished["status"] == "ok" and sorted(stack.leads_by_hubspot_id()) == sorted(ids)
            status, _, body = http_get(f"http://127.0.0.1:{port}/healthz")
            assert (status, json.loads(body)["status"]) == (200, "alive")
            assert daemon.stop() == 0
    assert_logs_are_documented_json_without_secrets(daemon, stack)
