"""Volume and frugality: every contact exactly once at 12,000, and the minimum number of calls."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from tests.conftest import qualified

UTC = dt.timezone.utc


@pytest.mark.slow
def test_first_sync_of_12000_contacts_with_5000_sharing_one_timestamp_delivers_each_exactly_once(syncd):
    """HubSpot search stops at 10,000 results per query and thousands of contacts can share one
    lastmodifieddate: paging by id inside the window must still visit every contact once."""
    same_moment = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    ids = syncd.hubspot.create_contacts(qualified(5000), at=same_moment)
    for day in range(7):
        ids += syncd.hubspot.create_contacts(qualified(1000, start=5000 + day * 1000),
                                             at=same_moment + dt.timedelta(days=day % 3, minutes=day))
    assert len(ids) == 12_000
    result = syncd.run()
    assert result.error is None and result.counts["created"] == 12_000
    assert result.counts["read"] == 12_000                           # nobody read twice
    leads = syncd.leads_by_hubspot_id()                              # asserts no duplicate
    assert sorted(leads) == sorted(ids)
    assert syncd.salesforce.requests.count(path_contains="/composite/sobjects/Lead/") == 60


def test_1000_new_leads_cost_the_documented_minimum_of_calls(syncd):
    """README "API calls per run": ⌈N/200⌉ searches + ⌈N/50⌉ batch reads (property history) +
    ⌈N/200⌉ email lookups + ⌈N/200⌉ upserts + 1 login."""
    n = 1000
    syncd.hubspot.create_contacts(qualified(n))
    syncd.hubspot.requests.clear()
    syncd.salesforce.requests.clear()
    result = syncd.run()
    assert result.counts["created"] == n
    hs = syncd.hubspot.requests
    sf = syncd.salesforce.requests
    assert hs.count(path_contains="/search") == math.ceil(n / 200)   # a full last page has no `paging`
    assert hs.count(path_contains="/batch/read") == math.ceil(n / 50)
    assert sf.count(path_contains="/composite/sobjects/Lead/HubSpot_Contact_Id__c") == math.ceil(n / 200)
    assert sf.count(path_contains="/query") == math.ceil(n / 200)
    assert sf.count(path_contains="/oauth2/token") == 1
    assert len(hs.entries()) + len(sf.entries()) <= 5 + 1 + 20 + 5 + 5 + 1
