"""The quota reserve (issue #8): syncd leaves a share of each system's daily API allocation to the
org's other integrations. When what is left reaches the reserve, the run stops before the next
call, exits 5 and logs the figures; a cycle after the daily window has freed calls carries on,
and nothing is lost or doubled. Before the writes, the run states the calls it needs against what
is left."""

from __future__ import annotations

import datetime as dt

from structlog.testing import capture_logs

from connectors.quota import DailyRemaining, QuotaReserve
from syncd.core.errors import ExitCode, QuotaExhausted
from tests.conftest import qualified
from tests.feedback_helpers import clock, cycle, syncd  # noqa: F401 - clock and syncd are fixtures

import pytest

RESERVE = {"SYNCD_SALESFORCE__QUOTA_RESERVE_PERCENT": "50"}


def test_the_reserve_stops_the_run_with_its_figures_and_the_next_window_finishes_the_job(syncd, clock):
    ids = syncd.hubspot.create_contacts(qualified(3000))      # 15 pages: 15 look-ups + 15 upserts (+15 updates by Id at most)
    syncd.salesforce.set_api_limit(40)                        # half of it kept for the others: 20 for syncd
    with capture_logs() as logs:
        first = cycle(syncd, env=RESERVE)
    assert first.forward.exit_code == ExitCode.REMOTE_UNAVAILABLE
    error = first.forward.error
    assert isinstance(error, QuotaExhausted) and error.code == "QUOTA_RESERVE"
    assert "of 40 daily API calls are used; the last 20 (50 %) are kept" in str(error)
    assert "salesforce.quota_reserve_percent" in str(error)
    estimate = next(e for e in logs if e["event"] == "run.estimate")     # the forward leg: first
    assert estimate["records"] == 3000 and estimate["calls_needed"]["salesforce"] == 45
    assert 0 < estimate["calls_left"]["salesforce"] < 20
    (short,) = [e for e in logs if e["event"] == "quota.short"]
    assert short["system"] == "salesforce" and short["calls_needed"] == 45
    used = syncd.salesforce.api_usage
    assert 20 <= used < 40                                  # stopped at the reserve, not at the hard limit
    delivered = len(syncd.leads())
    assert 0 < delivered < 3000

    clock.offset += dt.timedelta(hours=25)                  # the rolling 24 hours have freed the calls
    second = cycle(syncd, env=RESERVE)
    assert second.exit_code == ExitCode.OK, second.forward.error
    leads = syncd.leads_by_hubspot_id()                     # asserts one Lead per contact
    assert sorted(leads) == sorted(ids) and len(syncd.leads()) == 3000
    assert second.forward.counts["created"] == 3000 - delivered


def test_no_reserve_when_the_answers_have_not_said_how_much_is_left():
    reserve = QuotaReserve("Salesforce", 20, "salesforce.quota_reserve_percent")
    reserve.check("first call")                             # nothing known yet: the call goes
    reserve.observe(used=79, total=100)
    assert reserve.left == 1 and reserve.reserve == 20
    reserve.check("one more")
    reserve.observe(used=80, total=100)
    with pytest.raises(QuotaExhausted, match="80 of 100 daily API calls are used; the last 20 \\(20 %\\)"):
        reserve.check("the next")


def test_a_zero_reserve_leaves_the_last_word_to_the_remote_system():
    reserve = QuotaReserve("HubSpot", 0, "hubspot.quota_reserve_percent")
    reserve.observe(used=99, total=100)
    reserve.check("the last call")
    reserve.observe(used=100, total=100)       # the figure may lag: the remote's own 429/403 decides
    reserve.check("one more")
    assert reserve.left == 0


def test_the_daily_figure_is_the_freshest_sent_not_the_last_arrived():
    """Overlapping calls are answered in any order: the figure follows the order the calls were
    sent in, and searches (no figure) count one call each after the freshest figure."""
    daily = DailyRemaining()
    first, search, batch, late_search = (daily.sent() for _ in range(4))
    assert daily.answered(search, None) == (None, False)          # nothing known yet
    assert daily.answered(batch, 997) == (997, True)              # the 3rd call: 997 left after it
    assert daily.answered(first, 999) == (997, False)             # an older figure arriving late is stale
    assert daily.answered(late_search, None) == (996, False)      # a search sent after it: one call less
    assert daily.answered(daily.sent(), 995) == (995, True)       # a fresher figure replaces both
