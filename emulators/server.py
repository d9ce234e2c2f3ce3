"""What both emulators share: a threaded WSGI server on loopback, TLS, and a request log.

The request log is how tests count API calls ("1,000 leads cost ⌈N/200⌉ upserts"): every
request the emulator answers is recorded as (method, path, status), control endpoints aside.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from emulators.tls import TLSMaterial

CONTROL_PREFIX = "/__emulator"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int


class RequestLog:
    """Thread-safe list of the API requests an emulator answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def count(self, method: str | None = None, path_contains: str | None = None,
              status: int | None = None) -> int:
        return sum(
            1
            for e in self.entries()
            if (method is None or e.method == method)
            and (path_contains is None or path_contains in e.path)
            and (status is None or e.status == status)
        )

    def by_endpoint(self) -> Counter[str]:
        return Counter(f"{e.method} {e.path}" for e in self.entries())


class EmulatorApp:
    """Base WSGI app: subclasses implement ``dispatch(request) -> Response``."""

    def __init__(self) -> None:
        self.requests = RequestLog()

    def dispatch(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        if not request.path.startswith(CONTROL_PREFIX):
            self.requests.add(LoggedRequest(request.method, request.path, response.status_code))
        return response(environ, start_response)


class _QuietHandler(WSGIRequestHandler):
    """The request log above is the record; no access lines on stderr."""

    def log(self, type: str, message: str, *args: object) -> None:
        if type == "error":
            super().log(type, message, *args)


class EmulatorServer:
    """Runs an ``EmulatorApp`` on 127.0.0.1 in a daemon thread, over TLS when given material."""

    def __init__(self, app: EmulatorApp, tls: TLSMaterial | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.tls = tls
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler,
            ssl_context=tls.server_context() if tls else None,
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> "EmulatorServer":
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"emulator-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
