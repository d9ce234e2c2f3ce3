"""What both emulators share: a threaded HTTP/1.1 server on loopback, TLS, a request log, and
a per-request latency.

The server is cheroot's WSGI server: it keeps connections alive between requests as the real
APIs do, so a client pays one TLS handshake per connection rather than per call (werkzeug's
development server closes every connection, which made each call cost a handshake and the
client's CA-bundle load: ~25 ms of client CPU, enough to swamp what a benchmark measures).

The request log is how tests count API calls ("1,000 leads cost ⌈N/200⌉ upserts"): every
request the emulator answers is recorded as (method, path, status), control endpoints aside.

``latency_seconds`` delays every API response (not control calls) to model the network round
trip to the real APIs; the delay is slept after the emulator has answered and released its lock,
so concurrent clients overlap as they would against the real thing. Set it at construction or
with ``POST /__emulator/latency {"seconds": 0.02}`` (``GET`` reads it) on either emulator.

``weather`` deals seeded faults to API requests (``emulators.weather``): ``set_weather`` or
``POST /__emulator/weather``; each emulator answers the kinds it has in its own dialect
(``weather_kinds``, ``weather_answer``), and a drop closes the connection with no answer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Callable, Iterable

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from werkzeug.wrappers import Request, Response

from emulators.tls import TLSMaterial
from emulators.weather import DROP_AFTER, DROP_BEFORE, Dropped, Forecast, Weather

CONTROL_PREFIX = "/__emulator"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int
    query: str = ""  # the raw query string: tells a SOQL email lookup from an outcome query
    weather: str | None = None  # the weather kind this request met (status 0: dropped unanswered)


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
    """Base WSGI app: subclasses implement ``dispatch(request) -> Response``, and for weather
    name the kinds they have (``weather_kinds``) and answer them (``weather_answer``)."""

    weather_kinds: tuple[str, ...] = ()

    def __init__(self, *, latency_seconds: float = 0.0) -> None:
        self.requests = RequestLog()
        self.latency_seconds = float(latency_seconds)
        self.weather = Weather(self.weather_kinds)

    def dispatch(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def weather_answer(self, kind: str, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_weather(self, seed: int, rate: float, mix: dict[str, float] | None = None) -> None:
        """From now on each API request meets a fault with probability ``rate``, its kind drawn
        from ``mix`` (default: every kind alike), deterministically for ``seed``; rate 0 clears."""
        self.weather.set(Forecast(seed, rate, mix) if mix is not None else Forecast(seed, rate))

    def clear_weather(self) -> None:
        self.weather.set(None)

    def now(self) -> dt.datetime:
        """The emulator's clock (subclasses let tests move it): every answer's ``Date`` header."""
        return dt.datetime.now(dt.timezone.utc)

    def _latency_control(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                seconds = float(json.loads(request.get_data(as_text=True) or "{}")["seconds"])
                if seconds < 0:
                    raise ValueError("latency must not be negative")
            except (KeyError, ValueError, TypeError) as exc:
                return Response(json.dumps({"status": "error", "message": f"expected {{\"seconds\": n}}: {exc}"}),
                                status=400, content_type="application/json")
            self.latency_seconds = seconds
        return Response(json.dumps({"seconds": self.latency_seconds}), content_type="application/json")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path
        if path.rstrip("/") == CONTROL_PREFIX + "/latency":
            return self._latency_control(request)(environ, start_response)
        if path.rstrip("/") == CONTROL_PREFIX + "/weather":
            return self.weather.control(request)(environ, start_response)
        weather = None if path.startswith(CONTROL_PREFIX) else self.weather.draw(request.method, path)
        if weather == DROP_BEFORE:
            request.get_data()            # the whole request arrived; nothing is done with it
            self.requests.add(LoggedRequest(request.method, path, 0, request.query_string.decode("latin-1"),
                                            weather))
            raise Dropped()
        response = self.dispatch(request) if weather in (None, DROP_AFTER) else self.weather_answer(weather, request)
        # RFC 9110 Date: the origin's clock in whole seconds, as the real APIs send it. Clients
        # read the server's time from it (a cheroot default would be this host's real clock).
        response.headers["Date"] = format_datetime(self.now().astimezone(dt.timezone.utc), usegmt=True)
        if not path.startswith(CONTROL_PREFIX):
            self.requests.add(LoggedRequest(request.method, path, response.status_code,
                                            request.query_string.decode("latin-1"), weather))
            if self.latency_seconds > 0:
                time.sleep(self.latency_seconds)  # outside the emulator's lock: dispatch has returned
            if weather == DROP_AFTER:
                raise Dropped()           # done, and the answer is lost on the way
        return response(environ, start_response)




class EmulatorServer:
    """Runs an ``EmulatorApp`` on 127.0.0.1 in a daemon thread, over TLS when given material.

    HTTP/1.1 with keep-alive; ``threads`` workers answer requests (idle kept-alive connections
    wait in cheroot's selector, not in a worker)."""

    def __init__(self, app: EmulatorApp, tls: TLSMaterial | None = None,
                 host: str = "127.0.0.1", port: int = 0, threads: int = 16) -> None:
        self.app = app
        self.tls = tls
        self._server = wsgi.Server((host, port), app, numthreads=threads, server_name="emulator",
                                   request_queue_size=64, timeout=30)
        self._server.protocol = "HTTP/1.1"
        # cheroot's selector wakes every expiration_interval (0.5 s) and stop() waits for that wake-up:
        # half a second per server per stop. Every test stops two, so check 10 times as often.
        self._server.expiration_interval = 0.05
        if tls is not None:
            self._server.ssl_adapter = BuiltinSSLAdapter(str(tls.cert_path), str(tls.key_path))
        self._server.error_log = self._log_error  # type: ignore[method-assign]
        self._server.prepare()  # binds now, so that ``port`` is known before ``start``
        self._thread: threading.Thread | None = None

    @staticmethod
    def _log_error(msg: str = "", level: int = 20, traceback: bool = False) -> None:
        """cheroot reports every client that drops a connection mid-handshake; only real errors matter."""
        if level >= logging.ERROR:
            logging.getLogger("emulators.server").error(msg, exc_info=traceback)

    @property
    def port(self) -> int:
        return self._server.bind_addr[1]

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> "EmulatorServer":
        self._thread = threading.Thread(target=self._server.serve, name=f"emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
