"""Hostile data (issue #8): any value HubSpot or Salesforce can hold either lands or rejects only its
own record with the remote error code; the payload hash and the state store take any string.

HubSpot stores JSON strings, so a contact can carry a lone UTF-16 surrogate, NUL, right-to-left
marks or a megabyte of text. SQLite cannot encode a lone surrogate and PostgreSQL text cannot hold
NUL: state keeps such text with U+FFFD in their place (``state.text.storable``)."""

from __future__ import annotations

import pytest

from syncd.core.errors import ExitCode
from tests.conftest import qualified
from tests.feedback_helpers import clock, cycle, props, syncd  # noqa: F401 - clock and syncd are fixtures

LONE = "\ud800"
RTL = "\u202e"


@pytest.fixture
def env(store, pipeline) -> dict[str, str]:
    """syncd's state in the parametrized database (SQLite, PostgreSQL), under a name no other test uses."""
    return {"SYNCD_STATE__DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
            "SYNCD_SYNC__PIPELINE": pipeline}


def test_hostile_strings_land_or_reject_only_their_own_record_on_either_database(syncd, env, store, pipeline):
    contacts = qualified(8)
    contacts[0]["lastname"] = f"Bad{LONE}X"                       # lands (Salesforce is Java: UTF-16)
    contacts[1]["company"] = "Nul\x00Co"                           # lands
    contacts[2]["firstname"] = f"{RTL}ylimaf"                      # lands
    contacts[3]["pain_points"] = "p" * 1_000_000                   # lands: the brief cuts it to fit
    contacts[4]["utm_campaign"] = f"Goo{LONE}gle\x00"      # attribution, kept in state
    contacts[5]["company"] = f"{LONE}" + "x" * 300                # refused: STRING_TOO_LONG, echoing it
    contacts[6]["company"] = "\x00" + "y" * 300                   # refused: STRING_TOO_LONG, echoing it
    ids = syncd.hubspot.create_contacts(contacts)

    result = syncd.run(env=env)
    assert result.exit_code == ExitCode.RECORDS_REJECTED, result.error
    assert sorted(r.hubspot_id for r in result.rejections) == [ids[5], ids[6]]
    assert {r.code for r in result.rejections} == {"STRING_TOO_LONG"}
    leads = syncd.leads_by_hubspot_id()
    assert sorted(leads) == sorted(ids[:5] + ids[7:])
    assert leads[ids[1]]["Company"] == "Nul\x00Co"
    assert leads[ids[2]]["FirstName"] == f"{RTL}ylimaf"

    # State holds every rejection and the attribution, with U+FFFD for what it cannot store.
    stored = {r.hubspot_id: r for r in store.list_rejections(pipeline)}
    assert set(stored) == {ids[5], ids[6]}
    assert stored[ids[5]].message.startswith("Company: data value too large: ")
    assert stored[ids[6]].message.startswith("Company: data value too large: \ufffdyyy")
    assert store.links_for(pipeline, [ids[4]])[ids[4]].attribution[1] == "Goo\ufffdgle\ufffd"

    # The hash of a hostile payload is stable: a rerun with nothing changed writes nothing and
    # creates no second Lead.
    writes = syncd.salesforce_writes()
    again = syncd.run(env=env, full=True)
    assert again.counts["unchanged"] == 6 and again.counts["still_rejected"] == 2
    assert syncd.salesforce_writes() == writes              # refused as they stand: not sent again
    assert len(syncd.leads()) == 6


def test_a_hostile_salesforce_reason_comes_back_to_hubspot_and_state_keeps_it(syncd, env):
    assert syncd.cli("setup", "hubspot") == ExitCode.OK
    ids = syncd.hubspot.create_contacts(qualified(3))
    assert cycle(syncd, env=env).exit_code == ExitCode.OK
    leads = syncd.leads_by_hubspot_id()
    syncd.salesforce.update("Lead", leads[ids[0]]["Id"],
                            {"Status": "Closed - Not Converted", "Unqualified_Reason__c": f"No{LONE} Bud\x00get"})
    syncd.salesforce.update("Lead", leads[ids[1]]["Id"], {"Status": "Working - Contacted"})

    back = cycle(syncd, env=env).back
    assert back.exit_code == ExitCode.OK and back.counts["updated"] == 2
    assert props(syncd, ids[0])["syncd_outcome"] == "disqualified"
    assert props(syncd, ids[1])["syncd_outcome"] == "contacted"
    assert cycle(syncd, env=env).back.counts["updated"] == 0    # stored as read: nothing to resend
