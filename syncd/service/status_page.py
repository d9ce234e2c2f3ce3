"""The status page (issue #10): one read-only HTML page for Marketing and Sales, served by the
daemon's endpoint at ``/`` (and ``/status``), rendered on the server from the state database.

What it shows: the last runs and their errors, the rejected records of both legs (as
``syncd rejected list``), the closed-loop report by source (``syncd.report``) and the agreement's
month (an ``AgreementMonth`` from the ``agreement`` callable: SQLs against target, the
time-to-first-contact distribution, states and shares). It never calls HubSpot or Salesforce.

Safety: every value is escaped by Jinja's autoescape (contact data, error texts and remote strings
are untrusted); the charts' data travels as JSON in a ``<script type="application/json">`` block
(``tojson`` escapes ``<``, ``>``, ``&`` and quotes), read by ``static/status.js``; the page sends a
Content-Security-Policy that allows nothing from elsewhere and no inline script or style. The
chart library (Chart.js, MIT) is served from ``static/`` in the package: the page works offline.

A refresh storm reads the database once per ``ttl`` seconds: the rendered page is cached.
"""

from __future__ import annotations

import datetime as dt
import hmac
import threading
import time
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import structlog
from jinja2 import Environment, PackageLoader, select_autoescape

from state.outcomes import OutcomeStore
from state.rejections import field_of, rejected_records
from state.store import StateStore
from syncd.core.agreement import AgreementMonth, SlaState
from syncd.core.errors import SyncdError
from syncd.report import build_report

log = structlog.get_logger("syncd.status_page")

Agreement = Callable[[], AgreementMonth | None]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'")
# The files the page loads, each with its type; nothing else under /static/ is served.
STATIC = {
    "chart.umd.min.js": "text/javascript; charset=utf-8",     # Chart.js 4.6.1 (static/README.md)
    "status.js": "text/javascript; charset=utf-8",
    "status.css": "text/css; charset=utf-8",
}
RUNS_SHOWN = 12
REJECTED_SHOWN = 100
# Hours from hand-over to first contact: the histogram's bins (upper bounds; the last is open).
HOUR_BINS = (1, 4, 8, 24, 48, 72)


def no_agreement() -> AgreementMonth | None:
    """Until the agreement is configured (and its month computed), the page says so."""
    return None


def hour_histogram(hours: list[float]) -> dict[str, list[Any]]:
    """{"labels": ["< 1 h", "1–4 h", …, "≥ 72 h"], "counts": [...]}: the time-to-first-contact chart."""
    labels, counts, low = [], [0] * (len(HOUR_BINS) + 1), 0
    for high in HOUR_BINS:
        labels.append(f"< {high} h" if low == 0 else f"{low}–{high} h")
        low = high
    labels.append(f"≥ {HOUR_BINS[-1]} h")
    for value in hours:
        counts[next((i for i, high in enumerate(HOUR_BINS) if value < high), len(HOUR_BINS))] += 1
    return {"labels": labels, "counts": counts}


def chart_data(month: AgreementMonth | None) -> dict[str, Any]:
    """What static/status.js draws, embedded in the page as JSON."""
    if month is None:
        return {"agreement": None}
    return {"agreement": {"month": month.month, "target": month.target, "delivered": month.delivered,
                          "hours": hour_histogram(month.hours_to_first_contact)}}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _number(value: float | None, fmt: str = ".1f") -> str:
    return "—" if value is None else format(value, fmt)


def _moment(value: dt.datetime | None) -> str:
    return "—" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("syncd.service", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(percent=_percent, number=_number, moment=_moment)
    return env


def static_file(name: str) -> tuple[bytes, str] | None:
    """(content, content type) of one of the page's static files; None for any other name."""
    content_type = STATIC.get(name)
    if content_type is None:
        return None
    return (resources.files("syncd.service") / "static" / name).read_bytes(), content_type


class StatusPage:
    """The page for one pipeline: ``authorized`` checks a request's token, ``render`` gives the HTML."""

    def __init__(self, store: StateStore, pipeline: str, *, agreement: Agreement = no_agreement,
                 token: str | None = None, ttl: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.store = store
        self.pipeline = pipeline
        self.agreement = agreement
        self._token = token.encode() if token else None
        self.ttl = ttl
        self._monotonic = monotonic
        self._now = now
        self._template = _environment().get_template("status.html")
        self._lock = threading.Lock()              # one render at a time; the others wait for its result
        self._cached: tuple[float, int, bytes] | None = None

    @property
    def protected(self) -> bool:
        return self._token is not None

    def authorized(self, authorization: str | None, query: str) -> bool:
        """No token configured (a loopback address): everyone on this machine may read. Otherwise
        ``Authorization: Bearer <token>`` or ``?token=<token>``, compared in constant time."""
        if self._token is None:
            return True
        offered: list[str] = []
        if authorization and authorization[:7].lower() == "bearer ":
            offered.append(authorization[7:].strip())
        offered += parse_qs(query, keep_blank_values=True).get("token", [])
        return any(hmac.compare_digest(candidate.encode(), self._token) for candidate in offered)

    def render(self) -> tuple[int, bytes]:
        """(status, HTML): 200 with the page, or 503 while the state database cannot be read."""
        with self._lock:
            if self._cached is not None and self._monotonic() - self._cached[0] < self.ttl:
                return self._cached[1], self._cached[2]
            try:
                status, body = 200, self._template.render(self._read()).encode()
            except SyncdError as exc:                 # StateUnavailable: the page says so, briefly
                log.warning("status_page.unavailable", error=str(exc), error_type=type(exc).__name__)
                status, body = 503, self._template.render(pipeline=self.pipeline, unavailable=str(exc),
                                                          generated_at=self._now()).encode()
            self._cached = (self._monotonic(), status, body)
            return status, body

    def _read(self) -> dict[str, Any]:
        runs = self.store.recent_runs(self.pipeline, RUNS_SHOWN)
        rejected = rejected_records(self.store.engine, self.pipeline, limit=REJECTED_SHOWN)
        report = build_report(OutcomeStore(self.store).report_rows(self.pipeline), ("source",))
        month, month_error = self._month()
        return {
            "pipeline": self.pipeline, "generated_at": self._now(), "links": self.store.count_links(self.pipeline),
            "runs": runs, "rejected": [(r, field_of(r)) for r in rejected], "rejected_limit": REJECTED_SHOWN,
            "report": report, "month": month, "month_error": month_error, "states": [s.value for s in SlaState],
            "chart_data": chart_data(month),
        }

    def _month(self) -> tuple[AgreementMonth | None, str | None]:
        try:
            return self.agreement(), None
        except SyncdError as exc:      # the rest of the page is still worth showing
            log.warning("status_page.unavailable", error=str(exc), error_type=type(exc).__name__)
            return None, str(exc)
