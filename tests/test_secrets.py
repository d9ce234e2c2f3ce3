"""Secrets stay secret on a bad day (issue #8): a damaged secret file is a config error that names
the file, never the value; the scrubber masks every form a secret takes in text; tracebacks show
no locals; redirects to plain http are refused before a credential or a record is sent."""

from __future__ import annotations

import base64
import http.server
import io
import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import structlog

from syncd.app import logs
from syncd.app.logs import SecretScrubber
from syncd.cli import main
from syncd.core.errors import ExitCode
from tests.conftest import qualified

TOKEN = "pat-na1-0f3c2a77-1b2d-4e5f-9a8b-7c6d5e4f3a2b"


def test_a_token_file_with_a_second_line_is_a_config_error_naming_the_file_not_the_token(syncd, capsys):
    token_file = syncd.stack.directory / "secrets" / "hubspot_access_token"
    token_file.write_text(f"{syncd.stack.hubspot_token}\nold-{TOKEN}\n")
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    out = capsys.readouterr()
    assert str(token_file) in out.err and "line break" in out.err
    for part in (syncd.stack.hubspot_token, TOKEN):
        assert part not in out.out + out.err
    assert syncd.salesforce_writes() == 0 and not syncd.hubspot.requests.entries()


def test_a_secret_with_a_control_character_in_the_environment_names_the_variable(syncd, capsys, monkeypatch):
    monkeypatch.setenv("SYNCD_SALESFORCE__AUTH__CLIENT_SECRET", "abc\x1bdef-secret-value")
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    err = capsys.readouterr().err
    assert "SYNCD_SALESFORCE__AUTH__CLIENT_SECRET" in err and "control character" in err
    assert "def-secret-value" not in err


def test_a_private_key_may_span_lines_but_not_hold_other_control_characters():
    from syncd.config import checks

    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\n-----END PRIVATE KEY-----\n"
    assert checks.secret_text(pem, multiline=True) == pem
    with pytest.raises(ValueError, match="a tab"):
        checks.secret_text(pem.replace("\n", "\t", 1), multiline=True)
    with pytest.raises(ValueError, match="a line break at character 5 of 9") as refused:
        checks.secret_text("abcd\nefgh")
    assert "efgh" not in str(refused.value)


@pytest.mark.parametrize("form", [
    pytest.param(lambda s: json.dumps(s), id="json-escaped"),
    pytest.param(lambda s: repr(s.encode()), id="bytes-repr"),
    pytest.param(lambda s: quote(s, safe=""), id="url-encoded"),
    pytest.param(lambda s: base64.b64encode(s.encode()).decode(), id="base64"),
    pytest.param(lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="), id="base64url-unpadded"),
])
def test_the_scrubber_masks_the_escaped_encoded_and_base64_forms_of_a_secret(form):
    secret = f"{TOKEN}\nold/+ ü=&"
    scrub = SecretScrubber([secret])
    text = f"Invalid header value {form(secret)} in request"
    event = scrub(None, "error", {"event": "service.cycle_crashed", "exc_value": text})
    assert event["exc_value"].startswith("Invalid header value ") and "***" in event["exc_value"]
    for leaked in (TOKEN, form(secret)):
        assert leaked not in json.dumps(event)


def test_a_console_traceback_shows_no_locals_and_no_secret(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(logs.sys, "stderr", stream)
    logs.configure_logging("console", "info", [TOKEN])
    try:
        def call(authorization: str) -> None:
            header = f"Bearer {authorization}\nold"          # a local holding the secret
            raise ValueError(f"Invalid header value {header.encode()!r}")
        try:
            call(TOKEN)
        except ValueError:
            structlog.get_logger("test").exception("service.cycle_crashed")
    finally:
        logs.configure_logging("json", "info", [])
    output = stream.getvalue()
    assert "service.cycle_crashed" in output and "ValueError: Invalid header value" in output
    assert TOKEN not in output and "***" in output
    assert "authorization =" not in output and "header =" not in output     # no locals


def test_an_unexpected_crash_prints_its_traceback_with_secrets_masked(syncd, capsys, monkeypatch):
    import sys

    run_command = sys.modules["syncd.cli.run"]       # the module, not the click command of that name

    def crash(*_args, **_kwargs):
        raise RuntimeError(f"bug while holding {syncd.stack.salesforce_client_secret!r}")

    monkeypatch.setattr(run_command, "run_cycle", crash)
    assert syncd.cli("run", "--once") == ExitCode.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: bug while holding" in err
    assert syncd.stack.salesforce_client_secret not in err


class Recorder(http.server.BaseHTTPRequestHandler):
    """A plain-http server that writes down every request it gets."""

    seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append(f"{self.command} {self.path} {self.headers} {self.rfile.read(length)!r}")
        self.send_response(200)
        self.end_headers()

    do_GET = do_PATCH = do_POST  # noqa: N815

    def log_message(self, *_args) -> None:
        pass


def _routable_ipv4() -> str | None:
    """This machine's address on its default route (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))       # no packet is sent for a UDP connect
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture
def plain_http() -> Iterator[tuple[str, list[str]]]:
    """An http:// URL that is not loopback (so syncd must refuse it), and what reached it."""
    address = _routable_ipv4()
    if address is None:            # nowhere to listen: an address that cannot be reached at all
        yield "http://syncd-insecure-redirect.invalid", []
        return
    Recorder.seen = []
    server = http.server.ThreadingHTTPServer((address, 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}", Recorder.seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_307_to_http_from_the_token_endpoint_is_refused_and_the_secret_never_leaves(syncd, plain_http, capsys):
    url, seen = plain_http
    syncd.hubspot.create_contacts(qualified(2))
    syncd.salesforce.inject_fault("POST", "/services/oauth2/token", 307, times=10,
                                  headers={"Location": f"{url}/services/oauth2/token"})
    assert syncd.cli("run", "--once") == ExitCode.REMOTE_UNAVAILABLE
    output = capsys.readouterr()
    logged = [json.loads(line) for line in output.out.splitlines() if line.startswith("{")]
    failed = [line for line in logged if line["event"] == "run.failed"]
    assert failed and {line["code"] for line in failed} == {"INSECURE_REDIRECT"}
    assert not [line for line in logged if line["event"] == "remote.retry"]      # refused, not retried
    assert seen == []
    assert syncd.stack.salesforce_client_secret not in output.out + output.err


def test_a_redirect_to_http_from_hubspot_is_refused_before_the_records_are_sent(syncd, plain_http, capsys):
    url, seen = plain_http
    syncd.hubspot.create_contacts(qualified(2))
    syncd.hubspot.inject_fault("POST", "/search", 307, times=10, headers={"Location": f"{url}/crm/v3/search"})
    assert syncd.cli("run", "--once") == ExitCode.REMOTE_UNAVAILABLE
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (failed,) = [line for line in logged if line["event"] == "run.failed" and line["leg"] == "forward"]
    assert failed["code"] == "INSECURE_REDIRECT" and seen == []
    assert sum(1 for e in syncd.hubspot.requests.entries() if e.path.endswith("/search")) == 1
