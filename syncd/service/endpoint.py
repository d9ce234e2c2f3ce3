"""The HTTP endpoint (``metrics.listen``; off by default): ``/metrics`` (Prometheus text or
OpenMetrics), ``/healthz`` and ``/readyz`` (200, or 503 with a JSON reason), from a daemon thread."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from syncd.config import Settings
from syncd.core.errors import ConfigError, Problem
from syncd.service.metrics import Metrics

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

    def __init__(self, address: tuple[str, int], metrics: Metrics, *, live: Check, ready: Check) -> None:
        host, port = address
        handler = _handler(metrics, live, ready)
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


def start_endpoint(settings: Settings, metrics: Metrics, *, live: Check, ready: Check) -> HealthServer | None:
    """The endpoint ``metrics.listen`` asks for, started; None when it is off. A port that cannot
    be bound is a configuration error naming the setting (exit code 4)."""
    listen = settings.metrics
    if listen.address is None:
        return None
    try:
        server = HealthServer(listen.address, metrics, live=live, ready=ready).start()
    except OSError as exc:
        source = str(settings.config_path or "environment")
        raise ConfigError(Problem(source, "metrics.listen", f"cannot listen on {listen.listen}: "
                                                             f"{exc.strerror or exc}")) from None
    if not listen.is_loopback:
        log.warning("metrics.exposed", listen=listen.listen,
                    advice="other machines can read /metrics; firewall the port or use 127.0.0.1")
    log.info("metrics.listening", listen=listen.listen, port=server.port)
    return server


def _handler(metrics: Metrics, live: Check, ready: Check) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "syncd"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, *metrics.exposition(self.headers.get("Accept", "")))
            elif path in ("/healthz", "/readyz"):
                ok, body = (live if path == "/healthz" else ready)()
                self._send(200 if ok else 503, json.dumps(body, default=str).encode() + b"\n",
                           "application/json")
            else:
                self._send(404, b'{"error": "not found; try /metrics, /healthz or /readyz"}\n',
                           "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from http.server
            pass                                                  # scrapes every 15 s: no access log

    return Handler
