"""The status page over real HTTP, without a browser: its sections from a seeded state database,
escaping of hostile text, read-only methods, the token, the headers and the static files, and the
month the daemon's Service shows of the configured agreement.
(The browser test, against a running daemon: tests/test_status_page_browser.py.)"""

from __future__ import annotations

import datetime as dt
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from state.lease import Lease
from state.outcomes import OutcomeStore
from state.store import StateStore
from syncd import app
from syncd.config import load_settings
from syncd.core.agreement import AgreementMonth, ShareRow
from syncd.core.errors import ConfigError
from syncd.core.records import Link, OutcomeState, Rejection
from syncd.service.daemon import Service
from syncd.service.endpoint import HealthServer, start_endpoint
from syncd.service.metrics import Metrics
from syncd.service.status_page import (
    CSP,
    STATIC,
    StatusPage,
    chart_data,
    hour_histogram,
)
from tests.daemon import free_port

PIPELINE = "hubspot-to-salesforce"
UTC = dt.UTC
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)       # a fixed day: nothing here reads today's date
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
STATIC_DIR = Path(__file__).resolve().parent.parent / "syncd" / "service" / "static"


def month(**changes) -> AgreementMonth:
    values = {"month": "2026-03", "time_zone": "Europe/Berlin", "target": 40, "delivered": 27,
              "part_shares": {"fit": 0.9, "intent": 0.75},
              "by_source": [ShareRow("ORGANIC_SEARCH", 20, 0.8), ShareRow(HOSTILE, 7, None)],
              "by_campaign": [ShareRow("q1-seo", 20, 0.8)], "contacted_within_share": 0.74,
              "hours_to_first_contact": [0.5, 2.0, 3.0, 5.0, 30.0, 100.0], "median_hours": 4.0, "p90_hours": 65.0,
              "attempts_met_share": 0.5, "by_owner": [ShareRow("005A", 10, 0.9, label="Ada Owner"),
                                                     ShareRow("005B", 2, None, label=HOSTILE)],
              "states": {"on_time": 20, "due_soon": 3, "breached": 4}}
    return AgreementMonth(**(values | changes))


def seed(store: StateStore) -> None:
    """Two handed-over contacts (one hostile source), one refused, and a failed run with a hostile error."""
    store.commit_batch(PIPELINE, links=[Link("101", "00Q000000000000101", attribution=("ORGANIC_SEARCH", "q1", None)),
                                        Link("102", "00Q000000000000102", attribution=(HOSTILE, None, None))],
                       now=AT)
    OutcomeStore(store).commit(PIPELINE, states=[OutcomeState("101", outcome="won", opportunity_id="0061",
                                                              amount=1200.0, won=True, closed=True,
                                                              first_contacted_at=AT + dt.timedelta(hours=2),
                                                              closed_at=AT + dt.timedelta(hours=50))])
    store.commit_batch(PIPELINE, rejections=[Rejection("103", "STRING_TOO_LONG", f"Last Name: {HOSTILE} "
                                                       "(fields: LastName)", None)], now=AT)
    store.start_run("run-1", PIPELINE, dry_run=False, now=AT)
    store.finish_run("run-1", status="failed", counts={"read": 3, "created": 2, "rejected": 1},
                     error=f"INVALID_FIELD: {HOSTILE}")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    store.migrate()
    seed(store)
    yield store
    store.close()


@pytest.fixture
def serve(store: StateStore) -> Iterator:
    servers: list[HealthServer] = []

    def start(page: StatusPage | None = None, **page_options) -> str:
        page = page or StatusPage(store, PIPELINE, **({"agreement": month} | page_options))
        server = HealthServer(("127.0.0.1", 0), Metrics(), live=lambda: (True, {}), ready=lambda: (True, {}),
                              page=page).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        server.stop()


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers or {}),
                                    timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_the_page_shows_the_runs_the_rejected_records_the_report_and_the_agreement(serve):
    base = serve()
    status, headers, body = request(base + "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    for testid in ("agreement", "report", "cycles", "rejected", "chart-sqls", "chart-hours", "sla-states"):
        assert f'data-testid="{testid}"' in body, testid
    figure = re.search(r'data-testid="sla-delivered"><span class="value">(\d+)</span>', body)
    assert figure and figure[1] == "27"
    assert '<td title="005A">Ada Owner</td><td class="n">10</td>' in body                # the owner by name
    assert '<td>ORGANIC_SEARCH</td><td class="n">1</td><td class="n">1</td>' in body      # handed over, worked
    # the closed loop's "contacted" is Sales moving the Lead on; the agreement's is a logged call
    assert 'title="moved out of an open status, disqualified or converted' in body and ">worked</th>" in body
    assert "STRING_TOO_LONG" in body and "<td>LastName</td>" in body                      # the field it names
    assert "<td>failed</td>" in body and body.count('data-testid="run-row"') == 1
    assert request(base + "/status")[2] == body                                            # the same page


def test_hostile_text_is_escaped_everywhere_and_the_chart_json_cannot_end_its_script(serve):
    status, _, body = request(serve(agreement=lambda: month(month="</script><script>alert(2)</script>")))
    assert status == 200
    assert "<script>alert" not in body and "<img src=x" not in body
    assert body.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 4   # source, report, rejection, run error
    data = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', body, re.DOTALL)
    assert data and "\\u003c/script\\u003e" in data[1]


def test_the_chart_data_bins_hours_to_first_contact():
    assert hour_histogram([0.5, 1.0, 3.9, 4.0, 23.9, 71.9, 72.0, 500.0]) == {
        "labels": ["< 1 h", "1–4 h", "4–8 h", "8–24 h", "24–48 h", "48–72 h", "≥ 72 h"],
        "counts": [1, 2, 1, 1, 0, 1, 2]}
    assert chart_data(None) == {"agreement": None}
    assert chart_data(month())["agreement"]["delivered"] == 27


def test_without_an_agreement_the_page_says_so_and_draws_no_chart(serve):
    body = request(serve(agreement=lambda: None))[2]
    assert "No agreement configured." in body and "chart-sqls" not in body
    assert '"agreement": null' in body


AGREEMENT = """\
version: 1
time_zone: Europe/Berlin
target: {sqls_per_month: 4}
first_contact: {within_hours: 8}
attempts: {minimum: 2}
"""


@pytest.mark.parametrize("configured", [True, False], ids=["agreement-file", "none"])
def test_a_service_without_an_injected_month_shows_the_configured_agreements(tmp_path, store, serve, configured):
    """``Service`` without an ``agreement`` provider (as ``syncd run`` builds it): the month of the
    config's agreement file at the service's clock, from state (the two contacts handed over at
    AT); without an agreement file, the page says there is none."""
    config = tmp_path / "syncd.yaml"
    config.write_text(("agreement: agreement.yaml\n" if configured else "") + f"state:\n  directory: {tmp_path}\n")
    (tmp_path / "agreement.yaml").write_text(AGREEMENT)
    loaded = app.load(config, env={}, require_credentials=False)
    service = Service(loaded, store, Lease(store, PIPELINE, "daemon"), clock=lambda: AT + dt.timedelta(days=3))
    body = request(serve(page=service._status_page()))[2]
    if configured:
        assert "The agreement, 2026-03" in body and "(Europe/Berlin)" in body
        assert re.search(r'data-testid="sla-delivered"><span class="value">2</span>', body)
        assert re.search(r'data-testid="sla-target"><span class="value">4</span>', body)
        assert "No agreement configured." not in body
    else:
        assert "No agreement configured." in body and '"agreement": null' in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_endpoint_is_read_only(serve, method):
    base = serve()
    status, headers, _ = request(base + "/", method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert request(base + "/metrics", method)[0] == 405


def test_head_answers_the_headers_without_a_body(serve):
    status, headers, body = request(serve() + "/", "HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 1000


def test_the_page_sends_a_csp_that_allows_nothing_from_elsewhere_and_the_static_files_their_types(serve):
    base = serve()
    _, headers, body = request(base + "/")
    assert headers["Content-Security-Policy"] == CSP and "default-src 'self'" in CSP
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert re.findall(r'(?:src|href)="([^"#]+)"', body) == ["data:,", "/static/status.css", "/static/chart.umd.min.js",
                                                            "/static/status.js"]
    assert "<script>" not in body and " style=" not in body                  # nothing inline for the CSP to block
    for name, content_type in STATIC.items():
        status, headers, text = request(f"{base}/static/{name}")
        assert (status, headers["Content-Type"]) == (200, content_type), name
        assert headers["X-Content-Type-Options"] == "nosniff" and "max-age" in headers["Cache-Control"]
        assert text
    for missing in ("/static/README.md", "/static/../status_page.py", "/static/", "/nowhere"):
        assert request(base + missing)[0] == 404, missing


def test_a_token_guards_the_page_in_the_header_or_the_query_but_not_metrics_or_static(serve):
    base = serve(token="s3cret-token")
    status, headers, body = request(base + "/")
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer" and body == "unauthorized\n"
    assert request(base + "/", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert request(base + "/?token=wrong")[0] == 401
    assert request(base + "/", headers={"Authorization": "Bearer s3cret-token"})[0] == 200
    assert request(base + "/status?token=s3cret-token")[0] == 200
    assert request(base + "/metrics")[0] == 200 and request(base + "/static/status.js")[0] == 200


def test_a_refresh_storm_reads_the_state_once_per_ttl(serve):
    calls, clock = [], [0.0]
    base = serve(agreement=lambda: calls.append(1) or month(), monotonic=lambda: clock[0], ttl=5.0)
    for _ in range(5):
        assert request(base + "/")[0] == 200
    assert len(calls) == 1
    clock[0] = 5.0
    request(base + "/")
    assert len(calls) == 2


def settings(tmp_path: Path, listen: str, **env: str):
    return load_settings(None, {"SYNCD_METRICS__LISTEN": listen, "SYNCD_STATE__DIRECTORY": str(tmp_path), **env},
                         require_credentials=False)


def test_a_page_open_to_other_machines_needs_a_token_or_it_refuses_to_start(tmp_path, store):
    page = StatusPage(store, PIPELINE)
    with pytest.raises(ConfigError) as refused:
        start_endpoint(settings(tmp_path, f"0.0.0.0:{free_port()}"), Metrics(), live=lambda: (True, {}),
                       ready=lambda: (True, {}), page=page)
    assert "metrics.status_token" in str(refused.value)
    # metrics and health checks alone (metrics.status_page: false) start as before
    server = start_endpoint(settings(tmp_path, f"0.0.0.0:{free_port()}"), Metrics(), live=lambda: (True, {}),
                            ready=lambda: (True, {}), page=None)
    assert server is not None
    server.stop()


def test_the_token_is_a_secret_read_from_a_file_and_scrubbed_from_logs(tmp_path):
    (tmp_path / "token").write_text("file-token-123\n")
    loaded = settings(tmp_path, "127.0.0.1:9464", SYNCD_METRICS__STATUS_TOKEN_FILE=str(tmp_path / "token"))
    assert loaded.metrics.status_token.get_secret_value() == "file-token-123"
    assert "file-token-123" in loaded.secret_values() and "file-token-123" not in repr(loaded)
    assert settings(tmp_path, "127.0.0.1:9464", SYNCD_METRICS__STATUS_PAGE="false").metrics.status_page is False


def test_the_vendored_chart_library_is_the_version_its_readme_names():
    head = (STATIC_DIR / "chart.umd.min.js").read_text()[:200]
    version = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", head)
    assert version and f"**{version[1]}**" in (STATIC_DIR / "README.md").read_text()
    assert "MIT License" in (STATIC_DIR / "chart.js.LICENSE.md").read_text()
