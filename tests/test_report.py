"""`syncd report` on a seeded state: numbers checked against hand-computed expectations."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from state.outcomes import OutcomeStore
from syncd.core.errors import ExitCode
from syncd.core.records import Link, OutcomeState

UTC = dt.timezone.utc
PIPELINE = "hubspot-to-salesforce"
JAN = dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
FEB = dt.datetime(2026, 2, 10, 9, 0, tzinfo=UTC)
SEO, ADS = ("ORGANIC_SEARCH", "q1-seo", "Ebook A"), ("PAID_SOCIAL", "q1-ads", "Webinar B")


def h(hours: float, start: dt.datetime = JAN) -> dt.datetime:
    return start + dt.timedelta(hours=hours)


# (hubspot id, attribution, handed over, state) — the hand computation is in the tests below.
SEED = [
    ("1", SEO, JAN, OutcomeState("1", outcome="won", opportunity_id="0061", amount=10000.0, won=True, closed=True,
                                 first_contacted_at=h(2), closed_at=h(48))),
    ("2", SEO, JAN, OutcomeState("2", outcome="won", opportunity_id="0062", amount=5000.0, won=True, closed=True,
                                 first_contacted_at=h(4), closed_at=h(96))),
    ("3", SEO, JAN, OutcomeState("3", outcome="lost", opportunity_id="0063", amount=7000.0, closed=True,
                                 loss_reason="Price", reason="Price", first_contacted_at=h(6), closed_at=h(24))),
    ("4", SEO, JAN, OutcomeState("4", outcome="disqualified", disqualified_reason="No Budget", first_contacted_at=h(1))),
    ("5", SEO, JAN, None),                                   # handed over, Sales never touched it
    ("6", ADS, JAN, OutcomeState("6", outcome="disqualified", disqualified_reason="No Budget", first_contacted_at=h(10))),
    ("7", ADS, JAN, OutcomeState("7", outcome="disqualified", disqualified_reason="Bad Timing",
                                 first_contacted_at=h(20))),
    ("8", ADS, JAN, OutcomeState("8", outcome="lost", opportunity_id="0068", closed=True, loss_reason="Competitor",
                                 first_contacted_at=h(3), closed_at=h(72))),
    ("9", ADS, JAN, OutcomeState("9", outcome="opportunity", opportunity_id="0069", amount=3000.0,
                                 first_contacted_at=h(5))),
    ("10", ADS, JAN, OutcomeState("10", outcome="contacted", first_contacted_at=h(8))),
    ("11", (None, None, None), FEB, OutcomeState("11", outcome="won", opportunity_id="0611", amount=2500.0, won=True,
                                                 closed=True, first_contacted_at=h(1, FEB), closed_at=h(10, FEB))),
]

BY_SOURCE = {
    "ORGANIC_SEARCH": dict(handed_over=5, contacted=4, disqualified=1, opportunities=3, won=2, lost=1,
                           win_rate=0.6667, revenue=15000.0, median_hours_to_first_contact=3.0,   # 1 2 4 6
                           median_hours_to_close=48.0,                                            # 24 48 96
                           disqualified_by_reason={"No Budget": 1}, lost_by_reason={"Price": 1}),
    "(none)": dict(handed_over=1, contacted=1, disqualified=0, opportunities=1, won=1, lost=0, win_rate=1.0,
                   revenue=2500.0, median_hours_to_first_contact=1.0, median_hours_to_close=10.0,
                   disqualified_by_reason={}, lost_by_reason={}),
    "PAID_SOCIAL": dict(handed_over=5, contacted=5, disqualified=2, opportunities=2, won=0, lost=1, win_rate=0.0,
                        revenue=0.0, median_hours_to_first_contact=8.0,                            # 3 5 8 10 20
                        median_hours_to_close=72.0,
                        disqualified_by_reason={"Bad Timing": 1, "No Budget": 1}, lost_by_reason={"Competitor": 1}),
}
TOTALS = dict(handed_over=11, contacted=10, disqualified=3, opportunities=6, won=3, lost=2, win_rate=0.6,
              revenue=17500.0, median_hours_to_first_contact=4.5,        # 1 1 2 3 4 | 5 6 8 10 20
              median_hours_to_close=48.0,                                 # 10 24 48 72 96
              disqualified_by_reason={"Bad Timing": 1, "No Budget": 2},
              lost_by_reason={"Competitor": 1, "Price": 1})


@pytest.fixture
def seeded(syncd):
    store = syncd.store()
    try:
        for hubspot_id, attribution, at, state in SEED:
            store.commit_batch(PIPELINE, links=[Link(hubspot_id, f"00Q{hubspot_id:0>15}", attribution=attribution)],
                               now=at)
            if state is not None:
                OutcomeStore(store).commit(PIPELINE, states=[state])
    finally:
        store.close()
    return syncd


def report(syncd, capsys, *args: str) -> str:
    capsys.readouterr()
    assert syncd.cli("report", *args) == ExitCode.OK
    return capsys.readouterr().out


def test_the_json_report_by_source_matches_the_hand_computed_numbers_without_any_api_call(seeded, capsys):
    data = json.loads(report(seeded, capsys, "--format", "json"))
    assert [g["source"] for g in data["groups"]] == ["ORGANIC_SEARCH", "(none)", "PAID_SOCIAL"]   # most wins first
    assert {g.pop("source"): g for g in data["groups"]} == BY_SOURCE
    assert data["totals"] == TOTALS
    assert set(data["definitions"]) >= {"win_rate", "median_hours_to_close", "contacted"}
    assert seeded.hubspot.requests.entries() == [] and seeded.salesforce.requests.entries() == []


def test_the_csv_report_has_one_row_per_group_and_a_totals_row(seeded, capsys, tmp_path):
    out = tmp_path / "q1.csv"
    report(seeded, capsys, "--output", str(out))                     # format from the extension
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["source"] for r in rows] == ["ORGANIC_SEARCH", "(none)", "PAID_SOCIAL", "TOTAL"]
    seo, none, ads, total = rows
    assert (seo["handed_over"], seo["won"], seo["win_rate"], seo["revenue"]) == ("5", "2", "0.6667", "15000.0")
    assert seo["median_hours_to_first_contact"] == "3.0" and seo["median_hours_to_close"] == "48.0"
    assert ads["win_rate"] == "0.0" and ads["disqualified_reasons"] == "Bad Timing=1; No Budget=1"
    assert total["disqualified_reasons"] == "No Budget=2; Bad Timing=1" and total["lost_reasons"] == "Competitor=1; Price=1"
    assert (total["handed_over"], total["win_rate"], total["revenue"], total["median_hours_to_first_contact"]) == \
        ("11", "0.6", "17500.0", "4.5")


def test_the_table_report_shows_the_same_numbers(seeded, capsys, tmp_path):
    out = tmp_path / "report.txt"
    report(seeded, capsys, "--format", "table", "-o", str(out))
    text = out.read_text()
    seo = next(line for line in text.splitlines() if "ORGANIC_SEARCH" in line and "67%" in line)
    assert "15,000" in seo and "3.0" in seo and "48.0" in seo
    total = next(line for line in text.splitlines() if "TOTAL" in line)
    assert all(cell in total for cell in ("11", "60%", "17,500", "4.5"))
    assert "Why the others did not sell" in text and "Competitor=1" in text


def test_a_period_selects_leads_by_hand_over_time_and_until_is_inclusive(seeded, capsys):
    data = json.loads(report(seeded, capsys, "--format", "json", "--since", "2026-01-01", "--until", "2026-01-05"))
    assert data["totals"]["handed_over"] == 10 and data["totals"]["won"] == 2
    assert data["totals"]["win_rate"] == 0.5 and data["totals"]["revenue"] == 15000.0
    assert data["period"]["until"] == "2026-01-06T00:00:00+00:00"
    february = json.loads(report(seeded, capsys, "--format", "json", "--since", "2026-02-01T00:00:00Z"))
    assert [g["source"] for g in february["groups"]] == ["(none)"] and february["totals"]["revenue"] == 2500.0


@pytest.mark.parametrize("by,expected", [
    (["campaign"], {"q1-seo": 5, "q1-ads": 5, "(none)": 1}),
    (["content"], {"Ebook A": 5, "Webinar B": 5, "(none)": 1}),
    (["source", "campaign"], {("ORGANIC_SEARCH", "q1-seo"): 5, ("PAID_SOCIAL", "q1-ads"): 5, ("(none)", "(none)"): 1}),
], ids=["campaign", "content", "source-and-campaign"])
def test_the_report_groups_by_campaign_and_content(seeded, capsys, by, expected):
    args = [a for name in by for a in ("--by", name)]
    data = json.loads(report(seeded, capsys, "--format", "json", *args))
    key = (lambda g: g[by[0]]) if len(by) == 1 else (lambda g: tuple(g[n] for n in by))
    assert {key(g): g["handed_over"] for g in data["groups"]} == expected


def test_an_empty_state_gives_an_empty_report_not_an_error(syncd, capsys):
    data = json.loads(report(syncd, capsys, "--format", "json"))
    assert data["groups"] == [] and data["totals"]["handed_over"] == 0 and data["totals"]["win_rate"] is None
