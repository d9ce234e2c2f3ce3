"""Clocks that disagree (issue #8): read windows follow the servers' clocks (their answers' Date
headers), never this host's. With the host five minutes behind, or ahead, of both emulators and a
look-back shorter than that, both legs miss nothing and double nothing; the skew is logged and
kept in state, where `syncd status` shows it. A contact dated in the future is read, not dropped."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from structlog.testing import capture_logs

from syncd.core.errors import ExitCode
from syncd.run.clock import skew_cursor
from tests.conftest import qualified
from tests.feedback_helpers import (  # noqa: F401 - clock, syncd and ready are fixtures
    PIPELINE,
    clock,
    cycle,
    hubspot_writes,
    props,
    ready,
    syncd,
)

UTC = dt.timezone.utc
SHORT_LOOKBACK = {"SYNCD_SYNC__LOOKBACK_MINUTES": "1"}    # shorter than the skew: it cannot hide it


def stored_skews(syncd) -> dict[str, float]:
    store = syncd.store()
    try:
        return {system: float(store.get_cursor(PIPELINE, skew_cursor(system)) or "nan")
                for system in ("hubspot", "salesforce")}
    finally:
        store.close()


@pytest.mark.parametrize("servers_ahead_minutes", [5, -5], ids=["host-behind", "host-ahead"])
def test_both_legs_miss_nothing_and_double_nothing_when_the_host_clock_is_five_minutes_off(
        ready, clock, capsys, servers_ahead_minutes):
    syncd = ready
    offset = dt.timedelta(minutes=servers_ahead_minutes)
    syncd.hubspot.set_clock(lambda: dt.datetime.now(UTC) + offset)
    clock.offset = offset                                       # Salesforce's clock
    ids = syncd.hubspot.create_contacts(qualified(3))

    with capture_logs() as logs:
        first = cycle(syncd, env=SHORT_LOOKBACK)
    assert first.exit_code == ExitCode.OK
    assert first.forward.counts["created"] == 3                 # a host behind still reads the last minutes
    skews = [e for e in logs if e["event"] == "clock.skew"]
    assert {e["system"] for e in skews} == {"hubspot", "salesforce"}
    for event in skews:
        assert abs(event["skew_seconds"] - offset.total_seconds()) <= 2
    for system, skew in stored_skews(syncd).items():
        assert abs(skew - offset.total_seconds()) <= 2, system
    assert syncd.cli("status") == ExitCode.OK
    status = capsys.readouterr().out
    direction = "ahead of" if servers_ahead_minutes > 0 else "behind"
    for name in ("HubSpot", "Salesforce"):
        assert re.search(rf"{name}'s clock is (299|300|301) s {direction} this host's", status), status

    # After the first cycle, in the servers' time: a new contact, an edit, and Sales's verdict.
    leads = syncd.leads_by_hubspot_id()
    new_id = syncd.hubspot.create_contacts(qualified(1, start=3))[0]
    syncd.hubspot.update_contact(ids[0], {"company": "Renamed Inc"})
    syncd.salesforce.update("Lead", leads[ids[1]]["Id"],
                            {"Status": "Closed - Not Converted", "Unqualified_Reason__c": "No Budget"})

    second = cycle(syncd, env=SHORT_LOOKBACK)
    assert second.exit_code == ExitCode.OK
    assert (second.forward.counts["created"], second.forward.counts["updated"]) == (1, 1)
    assert second.back.counts["updated"] == 1
    leads = syncd.leads_by_hubspot_id()                        # one Lead per contact, no duplicate
    assert sorted(leads) == sorted([*ids, new_id]) and len(syncd.leads()) == 4
    assert leads[ids[0]]["Company"] == "Renamed Inc"
    assert props(syncd, ids[1])["syncd_outcome"] == "disqualified"

    writes = (syncd.salesforce_writes(), hubspot_writes(syncd))
    third = cycle(syncd, env=SHORT_LOOKBACK)                    # nothing changed: nothing written again
    assert (third.forward.counts["created"], third.forward.counts["updated"], third.back.counts["updated"]) \
        == (0, 0, 0)
    assert (syncd.salesforce_writes(), hubspot_writes(syncd)) == writes


def test_the_cursor_never_runs_ahead_of_the_server_when_the_host_is_ahead(ready, clock):
    syncd = ready
    behind = dt.timedelta(minutes=-5)                           # the servers are 5 minutes behind this host
    syncd.hubspot.set_clock(lambda: dt.datetime.now(UTC) + behind)
    clock.offset = behind
    syncd.hubspot.create_contacts(qualified(1))
    assert cycle(syncd, env=SHORT_LOOKBACK).exit_code == ExitCode.OK
    store = syncd.store()
    try:
        cursor = dt.datetime.fromisoformat(store.get_cursor(PIPELINE, "hubspot.contacts.lastmodifieddate"))
    finally:
        store.close()
    assert cursor <= syncd.hubspot.now() and syncd.hubspot.now() - cursor < dt.timedelta(minutes=1)


def test_a_contact_dated_in_the_future_is_synced_and_reported_not_dropped(ready):
    syncd = ready
    tomorrow = dt.datetime.now(UTC) + dt.timedelta(days=1)
    (future_id,) = syncd.hubspot.create_contacts(qualified(1), at=tomorrow)
    present = syncd.hubspot.create_contacts(qualified(2, start=1))
    with capture_logs() as logs:
        result = syncd.run(full=True)
    assert result.exit_code == ExitCode.OK and result.counts["future_dated"] == 1
    assert sorted(syncd.leads_by_hubspot_id()) == sorted([future_id, *present])
    (warning,) = [e for e in logs if e["event"] == "hubspot.future_timestamps"]
    assert warning["hubspot_ids"] == [future_id]
    again = syncd.run()                                         # read again, not written again
    assert again.counts["future_dated"] == 1 and again.counts["unchanged"] >= 1 and again.counts["created"] == 0
