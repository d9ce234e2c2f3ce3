"""A query whose next page's answer was lost (found by the chaos suite's weather, issue #8).

Salesforce's query locators are to be used once ("Use a given queryLocator value only one time",
SOAP API guide), and a cursor whose last page was read is gone: a `nextRecordsUrl` repeated
after its answer was lost on the way is refused with 400 ``INVALID_QUERY_LOCATOR``. A read that
met that used to end the run as a configuration error; now the query runs again and only the
rows not yet handed out come back, so a lost answer costs one query, never the run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.stack import start_stack
from emulators.weather import Dropped
from syncd import app
from syncd.app.connectors import salesforce_client
from syncd.core.errors import ExitCode
from tests.conftest import Syncd, qualified
from tests.feedback_helpers import BEHIND, Clock, cycle

LEADS = 2_100                   # two pages of 2,000 rows at most


class LosingLastPage(SalesforceEmulator):
    """Answers the first request for a query's last page, and then loses that answer (once
    ``armed``)."""

    armed = True
    lost = 0

    def dispatch(self, request):  # noqa: ANN001, ANN201 - werkzeug types, as the base class
        response = super().dispatch(request)
        last_page = ("/query/01g" in request.path or "/queryAll/01g" in request.path) and response.status_code == 200 and b'"done":true' in response.get_data()
        if self.armed and last_page and not self.lost:
            self.lost += 1
            raise Dropped()     # the cursor is used up, and the client never got its rows
        return response


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Syncd]:
    salesforce = LosingLastPage()
    for i in range(LEADS):
        salesforce.insert("Lead", {"LastName": f"L{i}", "Company": "C", "HubSpot_Contact_Id__c": str(i)})
    emulators = start_stack(tmp_path / "stack", salesforce=salesforce)
    try:
        yield Syncd(emulators, tmp_path)
    finally:
        emulators.stop()


def test_a_lost_answer_to_the_last_page_runs_the_query_again_and_hands_out_each_row_once(stack):
    client = salesforce_client(app.load(stack.stack.config_path, env={}).settings)
    rows = client.query("SELECT Id, HubSpot_Contact_Id__c FROM Lead ORDER BY Id")
    assert stack.salesforce.lost == 1
    assert sorted(int(row["HubSpot_Contact_Id__c"]) for row in rows) == list(range(LEADS))
    queries = [e for e in stack.salesforce.requests.entries() if "/query" in e.path]   # the lost one unlogged
    assert [(e.status, e.path.count("/01g")) for e in queries] == [
        (200, 0),                             # the first page (then the last, answered and lost)
        (400, 1),                             # the last page's locator again: used up
        (200, 0), (200, 1)]                   # the query again, and its second page


def test_the_back_leg_delivers_every_outcome_in_one_run_when_its_last_page_was_lost(tmp_path):
    """2,100 Leads worked at once: the outcome query has two pages, and the second one's answer
    is lost. Before, the run ended with exit 5 and 100 outcomes waiting for the next run."""
    salesforce = LosingLastPage(clock=Clock(BEHIND))
    salesforce.armed = False
    emulators = start_stack(tmp_path / "stack", hubspot=HubSpotEmulator(access_tokens=(), rate_limits=False),
                            salesforce=salesforce)
    try:
        syncd = Syncd(emulators, tmp_path)
        assert syncd.cli("setup", "hubspot") == ExitCode.OK
        ids = syncd.hubspot.create_contacts(qualified(LEADS))
        assert cycle(syncd).forward.counts["created"] == LEADS
        for lead in syncd.leads():
            salesforce.update("Lead", lead["Id"], {"Status": "Working - Contacted"})
        salesforce.armed = True
        back = cycle(syncd).back
        assert salesforce.lost == 1
        assert back.exit_code == ExitCode.OK and back.counts["updated"] == LEADS
        assert all(syncd.hubspot.get_contact(i)["properties"]["syncd_outcome"] == "contacted" for i in ids)
    finally:
        emulators.stop()
