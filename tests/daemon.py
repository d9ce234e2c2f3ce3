"""`syncd run` as a real subprocess, for the service tests: its output collected and parsed
line by line, and ways to wait for an event, send a signal, scrape its HTTP endpoint, listen on a
systemd notification socket it writes to, and hold an emulator's requests (``Gate``, and the
emulators with gates in front: ``gated_stack``) so that a cycle stays in flight exactly as long
as a test needs.

Every wait here waits for something to happen, with a generous timeout that only turns a hang
into a failure; none asserts how fast it happened."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.stack import start_stack
from tests.conftest import Syncd

ROOT = Path(__file__).resolve().parent.parent
SEARCH = ("POST", "/crm/v3/objects/contacts/search")
COLLECTIONS_WRITE = ("PATCH", "/composite/sobjects")
COMMON_FIELDS = {"event", "level", "timestamp", "run_id", "pipeline", "leg", "exception", "logger"}


def documented_events() -> dict[str, set[str]]:
    """docs/log-events.md: event name -> the field names its table row mentions."""
    events: dict[str, set[str]] = {}
    for line in (ROOT / "docs" / "log-events.md").read_text().splitlines():
        match = re.match(r"\| `([a-z_.]+)` \|", line)
        if match:
            events[match[1]] = set(re.findall(r"`([a-z_]+)`", line))
    return events


def assert_logs_are_documented_json_without_secrets(daemon: "Daemon", stack: Syncd) -> None:
    documented = documented_events()
    secrets = [stack.stack.hubspot_token, stack.stack.salesforce_client_secret]
    assert daemon.stderr == [], daemon.stderr
    assert daemon.stdout
    for line in daemon.stdout:
        entry = json.loads(line)
        assert {"event", "level", "timestamp"} <= entry.keys(), line
        assert dt.datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).tzinfo is not None
        assert entry["event"] in documented, f"{entry['event']} is not in docs/log-events.md"
        undocumented = entry.keys() - COMMON_FIELDS - documented[entry["event"]]
        assert not undocumented, f"{entry['event']}: fields {undocumented} are not in docs/log-events.md"
        for secret in secrets:
            assert secret not in line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment without anything that would steer syncd or fake systemd."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SYNCD_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                                       "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY")}
    return {**env, **extra}


def syncd_command(*args: str) -> list[str]:
    """`syncd ARGS` through tests/clock_shift.py, which moves the clock as the test's is moved
    (TEST_CLOCK_SHIFT_DAYS). -P: the wrapper's folder (tests/) must not shadow any package."""
    return [sys.executable, "-P", str(ROOT / "tests" / "clock_shift.py"), *args]


class Daemon:
    """One `syncd run` process. Use as a context manager: it is killed if a test leaves it running."""

    def __init__(self, config: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                 command: list[str] | None = None) -> None:
        self.config = config
        self.command = command or syncd_command("run", "--config", str(config), *args)
        self.env = env or clean_env()
        self.args = args
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._pumps: list[threading.Thread] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> "Daemon":
        self.process = subprocess.Popen(self.command,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=self.env, cwd=self.config.parent)
        for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            pump = threading.Thread(target=self._pump, args=(stream, lines), daemon=True)
            pump.start()
            self._pumps.append(pump)
        return self

    def __enter__(self) -> "Daemon":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def _pump(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _output_complete(self) -> bool:
        """The process has exited and every line it wrote has been read (both pipes at EOF)."""
        return self.process is not None and self.process.poll() is not None \
            and not any(pump.is_alive() for pump in self._pumps)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    # -- reading its log ------------------------------------------------------------------
    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Parsed stdout lines (all must be JSON: a line that is not fails the test here)."""
        with self._changed:
            lines = list(self.stdout)
        parsed = [json.loads(line) for line in lines if line.strip()]
        return [e for e in parsed if name is None or e.get("event") == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 30.0,
                 where: Callable[[dict[str, Any]], bool] = lambda e: True) -> list[dict[str, Any]]:
        """Block until ``count`` lines with event ``name`` (matching ``where``) were written."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [e for e in self.events(name) if where(e)]
                if len(found) >= count:
                    return found
                if self._output_complete():
                    raise AssertionError(f"syncd exited ({self.process.returncode}) before {count} x {name}:\n"
                                         + self.transcript())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {count} x {name}:\n" + self.transcript())
                self._changed.wait(min(left, 0.2))      # the pumps notify; the bound only rechecks exit

    def transcript(self, last: int = 40) -> str:
        return "\n".join(self.stdout[-last:] + ["--- stderr ---"] + self.stderr[-last:])

    # -- controlling it -------------------------------------------------------------------
    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        """The exit code, once the process has exited and all its output has been read."""
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        for pump in self._pumps:
            pump.join(timeout=timeout)
        return code

    def wait_held(self, gate: "Gate", timeout: float = 30.0) -> None:
        """Block until this daemon's cycle waits at ``gate``; fails at once if the daemon exits."""
        deadline = time.monotonic() + timeout
        while not gate.is_holding(timeout=0.2):     # the bound only rechecks the process
            if self._output_complete() or time.monotonic() > deadline:
                raise AssertionError(f"syncd never reached the gate ({gate.method} *{gate.path_contains}*):\n"
                                     + self.transcript())

    def stop(self, timeout: float = 60.0) -> int:
        self.signal(signal.SIGTERM)
        return self.wait(timeout)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str, str]:
    """(status, content type, body); 4xx/5xx are answers, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    status, content_type, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200 and content_type.startswith("text/plain"), (status, content_type)
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


def sample(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


class NotifyListener:
    """A NOTIFY_SOCKET of our own (abstract, like systemd's): collects every datagram."""

    def __init__(self) -> None:
        self.name = f"@syncd-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.sock.settimeout(0.2)                   # how often the reader checks it should stop
        self.messages: list[dict[str, str]] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "NotifyListener":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._changed:
                self.messages.append(fields)
                self._changed.notify_all()

    def with_key(self, key: str, after: int = -1) -> list[dict[str, str]]:
        """Messages carrying ``key``, only those after position ``after`` if given."""
        with self._changed:
            return [m for m in self.messages[after + 1:] if key in m]

    def wait_for(self, key: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, str]]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.with_key(key)) >= count, timeout):
                raise AssertionError(f"no {count} x {key} in {self.messages}")
            return self.with_key(key)

    def wait_for_message(self, where: Callable[[dict[str, str]], bool], after: int = -1,
                         timeout: float = 30.0) -> int:
        """The position of the first message after position ``after`` that matches ``where``."""
        def found() -> int | None:
            return next((i for i in range(after + 1, len(self.messages)) if where(self.messages[i])), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no matching message after position {after} in {self.messages}")
            return found()  # type: ignore[return-value]

    def arriving(self, key: str, after: int, seconds: float) -> list[dict[str, str]]:
        """Messages with ``key`` after position ``after``, once ``seconds`` have passed: to show
        that something does *not* come (a slower machine only sends fewer)."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self.with_key(key, after)), seconds)
            return self.with_key(key, after)


class Gate:
    """Holds an emulator's matching requests until the test lets them through: a cycle stays in
    flight, blocked on its next request, for exactly as long as the test needs, without sleeping.

    ``allow(n)`` lets n more through and holds the rest; ``open()`` lets everything through (the
    default). A held request is handled normally once let through, even when the client that
    sent it has gone (then it is a write Salesforce applied but syncd never recorded)."""

    def __init__(self, method: str, path_contains: str) -> None:
        self.method = method
        self.path_contains = path_contains
        self._changed = threading.Condition()
        self._permits: int | None = None          # None: open
        self.holding = 0                          # requests waiting at the gate
        self.inside = 0                           # requests let through, still being handled

    def matches(self, request: Any) -> bool:
        return request.method == self.method and self.path_contains in request.path

    def allow(self, count: int) -> None:
        with self._changed:
            self._permits = count
            self._changed.notify_all()

    def open(self) -> None:
        with self._changed:
            self._permits = None
            self._changed.notify_all()

    @contextmanager
    def passing(self, request: Any) -> Iterator[None]:
        """Around the emulator's handling of one request."""
        if not self.matches(request):
            yield
            return
        with self._changed:
            self.holding += 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._permits is None or self._permits > 0)
            if self._permits is not None:
                self._permits -= 1
            self.holding -= 1
            self.inside += 1
        try:
            yield
        finally:
            with self._changed:
                self.inside -= 1
                self._changed.notify_all()

    def is_holding(self, timeout: float) -> bool:
        """Whether a request waits at the gate (the cycle that sent it is blocked there), waiting
        at most ``timeout`` for one to arrive. To wait for a daemon's, use ``Daemon.wait_held``."""
        with self._changed:
            return self._changed.wait_for(lambda: self.holding > 0, timeout)

    def wait_until_handled(self, timeout: float = 30.0) -> None:
        """Until nothing waits at the gate and the emulator has handled (applied) what it let through."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.holding == 0 and self.inside == 0, timeout):
                raise AssertionError(f"requests still at the gate ({self.method} *{self.path_contains}*)")


def gated(emulator_class: type) -> type:
    """``emulator_class`` with a ``gate`` in front of its API (see Gate)."""

    class Gated(emulator_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, gate: Gate, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.gate = gate

        def dispatch(self, request):  # noqa: ANN001, ANN201 - werkzeug types, as the base class
            request.get_data()        # the whole request has arrived before it is held
            with self.gate.passing(request):
                return super().dispatch(request)

    Gated.__name__ = Gated.__qualname__ = f"Gated{emulator_class.__name__}"
    return Gated


@dataclass
class GatedStack(Syncd):
    """The emulators with a gate in front of HubSpot's contact search (each cycle's first API
    call) and one in front of Salesforce's Collections writes. Both start open."""

    searches: Gate = field(default_factory=lambda: Gate(*SEARCH))
    writes: Gate = field(default_factory=lambda: Gate(*COLLECTIONS_WRITE))


@contextmanager
def gated_stack(tmp_path: Path) -> Iterator[GatedStack]:
    searches, writes = Gate(*SEARCH), Gate(*COLLECTIONS_WRITE)
    # Rate limits on, so HubSpot's non-search answers carry X-HubSpot-RateLimit-Daily-Remaining.
    emulators = start_stack(tmp_path / "stack", hubspot=gated(HubSpotEmulator)(access_tokens=(), gate=searches),
                            salesforce=gated(SalesforceEmulator)(gate=writes))
    try:
        yield GatedStack(emulators, tmp_path, searches, writes)
    finally:
        searches.open()                 # no emulator thread stays blocked after the test
        writes.open()
        emulators.stop()


def configure(stack: Syncd, *, interval: int = 1, port: int | None = None, shutdown: int = 60,
              mapping: Path | None = None, agreement: Path | None = None) -> Path:
    extra = f"schedule:\n  interval_seconds: {interval}\n  shutdown_timeout_seconds: {shutdown}\n"
    if agreement is not None:
        extra += f"agreement: {agreement}\n"
    if port is not None:
        extra += f"metrics:\n  listen: 127.0.0.1:{port}\n"
    return stack.write_config(mapping=mapping, extra=extra)
