"""The server both emulators run on: HTTP/1.1 keep-alive over TLS, per-request latency, and
certificates that survive a test moving the clock."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import threading
import time
from pathlib import Path

import pytest
import time_machine

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.server import EmulatorServer
from emulators.tls import TLSMaterial, make_tls_material

TOKEN = "pat-emulator-token"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return make_tls_material(tmp_path_factory.mktemp("server-tls"))


def _connection(server: EmulatorServer, tls: TLSMaterial) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(tls.ca_path))
    return http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)


def _get(conn: http.client.HTTPSConnection, path: str) -> tuple[int, dict, http.client.HTTPResponse]:
    conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    response = conn.getresponse()
    body = json.loads(response.read() or b"{}")
    return response.status, body, response


def test_one_connection_serves_many_requests_over_tls(tls: TLSMaterial) -> None:
    """The real APIs keep connections alive; a client must not pay a TLS handshake per call."""
    emulator = HubSpotEmulator(rate_limits=False)
    emulator.create_contacts([{"email": f"k{i}@example.com"} for i in range(3)])
    with EmulatorServer(emulator, tls) as server:
        conn = _connection(server, tls)
        sockets = []
        for contact_id in ("1", "2", "3"):
            status, body, response = _get(conn, f"/crm/v3/objects/contacts/{contact_id}")
            assert (status, body["id"]) == (200, contact_id)
            assert response.getheader("Connection", "").lower() != "close"
            assert not response.will_close
            sockets.append(conn.sock)
        conn.close()
    assert sockets[0] is not None and all(s is sockets[0] for s in sockets)
    assert len(emulator.requests.entries()) == 3


@pytest.mark.parametrize("make", [lambda s: HubSpotEmulator(rate_limits=False, latency_seconds=s),
                                  lambda s: SalesforceEmulator(latency_seconds=s)], ids=["hubspot", "salesforce"])
def test_latency_delays_api_calls_but_not_control_calls(tls: TLSMaterial, make) -> None:
    emulator = make(0.25)
    with EmulatorServer(emulator, tls) as server:
        conn = _connection(server, tls)
        started = time.perf_counter()
        _get(conn, "/crm/v3/objects/contacts/1" if isinstance(emulator, HubSpotEmulator) else "/services/data/")
        api_seconds = time.perf_counter() - started
        started = time.perf_counter()
        conn.request("GET", "/__emulator/latency")
        latency = json.loads(conn.getresponse().read())
        control_seconds = time.perf_counter() - started
        conn.request("POST", "/__emulator/latency", body=json.dumps({"seconds": 0}))
        assert json.loads(conn.getresponse().read()) == {"seconds": 0.0}
        conn.close()
    assert latency == {"seconds": 0.25}
    assert api_seconds >= 0.25
    assert control_seconds < 0.25
    assert emulator.latency_seconds == 0.0


def test_delayed_responses_overlap_for_concurrent_clients(tls: TLSMaterial) -> None:
    """The delay is slept outside the emulator's lock: four clients wait once, not four times."""
    emulator = HubSpotEmulator(rate_limits=False, latency_seconds=0.4)
    emulator.create_contact({"email": "one@example.com"})
    statuses: list[int] = []

    def call() -> None:
        conn = _connection(server, tls)
        statuses.append(_get(conn, "/crm/v3/objects/contacts/1")[0])
        conn.close()

    with EmulatorServer(emulator, tls) as server:
        started = time.perf_counter()
        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    assert statuses == [200] * 4
    assert elapsed < 4 * 0.4 * 0.75


@pytest.mark.parametrize("years", [1, -1], ids=["clock-a-year-ahead", "clock-a-year-behind"])
def test_certificates_made_under_a_moved_clock_verify_against_the_real_one(tmp_path: Path, years: int) -> None:
    """time-machine moves Python's clock (the generator) but not OpenSSL's (the verifier)."""
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365 * years), tick=True):
        material = make_tls_material(tmp_path / "tls")
    emulator = HubSpotEmulator(rate_limits=False)
    with EmulatorServer(emulator, material) as server:
        status, _, _ = _get(_connection(server, material), "/crm/v3/objects/contacts?limit=1")
    assert status == 200
