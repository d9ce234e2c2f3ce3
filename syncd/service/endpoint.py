"""The HTTP endpoint (``metrics.listen``; off by default): ``/metrics`` (Prometheus text or
OpenMetrics), ``/healthz`` and ``/readyz`` (200, or 503 with a JSON reason), and the status page
(``/``, ``/status`` and its ``/static/`` files; ``syncd.service.status_page``), from a daemon thread.
Read-only: GET and HEAD; any other method is 405.

The token (``metrics.status_token``) guards the page only: the metrics and health checks hold no
personal data and are scraped by machines (``metrics.exposed`` warns about them), the static files
are the page's code. A non-loopback address with the page on and no token refuses to start."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import structlog

from syncd.config import Settings
from syncd.core.errors import ConfigError, Problem
from syncd.service.metrics import Metrics
from syncd.service.status_page import CSP, StatusPage, static_file

log = structlog.get_logger("syncd.metrics")

Check = Callable[[], tuple[bool, dict[str, Any]]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A scraper that hangs up mid-answer is not worth a traceback on stderr.
        log.debug("metrics.request_failed", client=str(client_address[0]))


class _Server6(_Server):
    address_family = socket.AF_INET6


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on one address, from a daemon thread."""

    def __init__(self, address: tuple[str, int], metrics: Metrics, *, live: Check, ready: Check,
                 page: StatusPage | None = None) -> None:
        host, port = address
        handler = _handler(metrics, live, ready, page)
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_endpoint(settings: Settings, metrics: Metrics, *, live: Check, ready: Check,
                   page: StatusPage | None = None) -> HealthServer | None:
    """The endpoint ``metrics.listen`` asks for, started; None when it is off. A port that cannot
    be bound, or the status page on an address other machines can reach without a token, is a
    configuration error naming the setting (exit code 4)."""
    listen = settings.metrics
    if listen.address is None:
        return None
    source = str(settings.config_path or "environment")
    if page is not None and not listen.is_loopback and not page.protected:
        raise ConfigError(Problem(source, "metrics.status_token", (
            f"the status page would be open to other machines on {listen.listen}: set a token "
            "(SYNCD_METRICS__STATUS_TOKEN_FILE, metrics.status_token_file, or the systemd credential "
            "'metrics_status_token'), listen on 127.0.0.1, or set metrics.status_page: false")))
    try:
        server = HealthServer(listen.address, metrics, live=live, ready=ready, page=page).start()
    except OSError as exc:
        raise ConfigError(Problem(source, "metrics.listen", f"cannot listen on {listen.listen}: "
                                                             f"{exc.strerror or exc}")) from None
    if not listen.is_loopback:
        log.warning("metrics.exposed", listen=listen.listen,
                    advice="other machines can read /metrics; firewall the port or use 127.0.0.1")
    log.info("metrics.listening", listen=listen.listen, port=server.port, status_page=page is not None,
             status_token=page.protected if page is not None else False)
    return server


def _handler(metrics: Metrics, live: Check, ready: Check, page: StatusPage | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "syncd"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path = url.path
            if path == "/metrics":
                self._send(200, *metrics.exposition(self.headers.get("Accept", "")))
            elif path in ("/healthz", "/readyz"):
                ok, body = (live if path == "/healthz" else ready)()
                self._send(200 if ok else 503, json.dumps(body, default=str).encode() + b"\n",
                           "application/json")
            elif page is not None and path in ("/", "/status"):
                if not page.authorized(self.headers.get("Authorization"), url.query):
                    self._send(401, b"unauthorized\n", "text/plain; charset=utf-8",
                               {"WWW-Authenticate": "Bearer"})
                    return
                status, body = page.render()
                self._send(status, body, "text/html; charset=utf-8", {
                    "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"})
            elif page is not None and path.startswith("/static/") and (found := static_file(path[8:])):
                self._send(200, found[0], found[1], {"Cache-Control": "public, max-age=3600"})
            else:
                where = "/, /metrics, /healthz or /readyz" if page is not None else "/metrics, /healthz or /readyz"
                self._send(404, f'{{"error": "not found; try {where}"}}\n'.encode(), "application/json")

        do_HEAD = do_GET

        def _refuse(self) -> None:
            self._send(405, b'{"error": "read-only: GET or HEAD"}\n', "application/json", {"Allow": "GET, HEAD"})

        do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _refuse

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            headers = {"Cache-Control": "no-store", **(headers or {})}
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass                                                  # scrapes every 15 s: no access log

    return Handler
