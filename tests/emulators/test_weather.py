"""Weather (emulators/weather.py): a seeded mix of faults both emulators deal per request, over
the Python and the HTTP control API. Deterministic for a seed, close to the rate, every kind
really happens in its system's dialect (a drop is a closed connection, before or after the
request took effect), and control calls never meet it."""

from __future__ import annotations

import http.client
import json
import ssl
from collections import Counter
from pathlib import Path

import pytest
import requests

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.server import EmulatorServer
from emulators.tls import TLSMaterial, make_tls_material
from emulators.weather import Forecast, Weather

TOKEN = "pat-emulator-token"
ALL = {"429": 1, "503": 1, "drop": 1, "concurrency": 1}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return make_tls_material(tmp_path_factory.mktemp("weather-tls"))


def _draws(weather: Weather, requests_: list[tuple[str, str]]) -> list[str | None]:
    return [weather.draw(method, path) for method, path in requests_]


REQUESTS = [("POST", "/crm/v3/objects/contacts/search")] * 300 + [("POST", "/crm/v3/objects/contacts/batch/read")] * 300
HUBSPOT = ("429", "503", "drop")


def test_the_same_seed_deals_the_same_faults_whatever_the_interleaving():
    """Which requests of each endpoint meet a fault, and the sequence of kinds dealt, are fixed
    by the seed: searches and batch reads sent in another interleaving meet the same weather."""
    in_order, interleaved, other = (Weather(HUBSPOT) for _ in range(3))
    for weather, seed in ((in_order, 7), (interleaved, 7), (other, 8)):
        weather.set(Forecast(seed, 0.2, ALL))
    alternating = REQUESTS[::2] + REQUESTS[1::2]
    first, second = _draws(in_order, REQUESTS), _draws(interleaved, alternating)
    assert _per_endpoint(REQUESTS, first) == _per_endpoint(alternating, second)
    assert [kind for kind in first if kind] == [kind for kind in second if kind]
    assert first != _draws(other, REQUESTS)


def _per_endpoint(sent: list[tuple[str, str]], got: list[str | None]) -> dict[tuple[str, str], list[bool]]:
    """For each endpoint, whether its 1st, 2nd, ... request met a fault."""
    faulted: dict[tuple[str, str], list[bool]] = {}
    for request, kind in zip(sent, got):
        faulted.setdefault(request, []).append(kind is not None)
    return faulted


def test_every_kind_comes_once_a_deck_of_faults_was_dealt_and_in_proportion_to_its_weight():
    weather = Weather(HUBSPOT)
    weather.set(Forecast(5, 1.0, ALL))                  # every request meets a fault
    assert len(weather.deck()) == 4
    assert set(_draws(weather, REQUESTS[:4])) == {"429", "503", "drop-before", "drop-after"}
    weather.set(Forecast(5, 1.0, {"503": 3, "429": 1}))
    assert Counter(_draws(weather, REQUESTS[:400])) == {"503": 300, "429": 100}


@pytest.mark.parametrize(("kinds", "expected"), [
    (("429", "503", "drop"), {"429", "503", "drop-before", "drop-after"}),
    (("503", "concurrency", "drop"), {"503", "concurrency", "drop-before", "drop-after"}),
], ids=["hubspot", "salesforce"])
def test_roughly_the_rate_and_only_the_kinds_the_system_has(kinds, expected):
    weather = Weather(kinds)
    weather.set(Forecast(11, 0.2, ALL))
    dealt = Counter(kind for kind in _draws(weather, REQUESTS * 4) if kind)
    assert 0.17 < sum(dealt.values()) / len(REQUESTS * 4) < 0.23
    assert set(dealt) == expected
    assert dealt == weather.dealt


@pytest.mark.parametrize("bad", [{"rate": 1.5}, {"rate": 0.2, "mix": {"hail": 1}}, {"rate": 0.2, "mix": {"503": -1}}])
def test_a_forecast_that_makes_no_sense_is_refused(bad):
    with pytest.raises(ValueError):
        Forecast(1, **bad)


def _hubspot(tls: TLSMaterial) -> tuple[HubSpotEmulator, EmulatorServer]:
    emulator = HubSpotEmulator(rate_limits=False)
    emulator.create_contacts([{"email": f"w{i}@example.com"} for i in range(3)])
    return emulator, EmulatorServer(emulator, tls).start()


def _get(server: EmulatorServer, tls: TLSMaterial, path: str, **kwargs) -> requests.Response:
    return requests.get(server.url + path, headers={"Authorization": f"Bearer {TOKEN}"}, verify=str(tls.ca_path),
                        timeout=10, **kwargs)


def test_hubspot_answers_429_with_its_burst_limit_body_and_headers_and_503_with_an_html_page(tls):
    emulator, server = _hubspot(tls)
    try:
        emulator.set_weather(3, 1.0, {"429": 1})
        limited = _get(server, tls, "/crm/v3/objects/contacts/1")
        emulator.set_weather(3, 1.0, {"503": 1})
        unavailable = _get(server, tls, "/crm/v3/objects/contacts/1")
    finally:
        server.stop()
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING" and limited.json()["errorType"] == "RATE_LIMIT"
    assert "X-HubSpot-RateLimit-Remaining" in limited.headers
    assert unavailable.status_code == 503 and unavailable.headers["Content-Type"].startswith("text/html")
    assert [(e.status, e.weather) for e in emulator.requests.entries()] == [(429, "429"), (503, "503")]


def test_a_drop_closes_the_connection_unanswered_before_or_after_the_write_took_effect(tls):
    emulator, server = _hubspot(tls)
    update = {"inputs": [{"id": "1", "properties": {"firstname": "Applied"}}]}
    outcomes = []
    try:
        for seed in range(40):                      # each seed decides the first request alone
            emulator.set_weather(seed, 1.0, {"drop": 1})
            with pytest.raises(requests.ConnectionError):
                requests.post(server.url + "/crm/v3/objects/contacts/batch/update", json=update,
                              headers={"Authorization": f"Bearer {TOKEN}"}, verify=str(tls.ca_path), timeout=10)
            outcomes.append(emulator.requests.entries()[-1])
            if {e.weather for e in outcomes} == {"drop-before", "drop-after"}:
                break
            update["inputs"][0]["properties"]["firstname"] = f"Applied{seed}"
        emulator.clear_weather()
        assert _get(server, tls, "/crm/v3/objects/contacts/1").status_code == 200   # the sky has cleared
    finally:
        server.stop()
    before = [e for e in outcomes if e.weather == "drop-before"]
    after = [e for e in outcomes if e.weather == "drop-after"]
    assert before and after
    assert all(e.status == 0 for e in before) and all(e.status == 200 for e in after)
    history = emulator.get_contact("1")["propertiesWithHistory"]["firstname"]
    assert len(history) == len(after)               # exactly the writes dropped after took effect


def _salesforce(tls: TLSMaterial) -> tuple[SalesforceEmulator, EmulatorServer, str]:
    emulator = SalesforceEmulator()
    emulator.register_client("weather", client_secret="s3cret")
    return emulator, EmulatorServer(emulator, tls).start(), emulator.issue_token("weather")


def test_salesforce_answers_503_concurrency_and_a_login_hiccup_in_its_own_shapes(tls):
    emulator, server, token = _salesforce(tls)
    query = "/services/data/v62.0/query?q=SELECT+Id+FROM+Lead"
    try:
        answers = {}
        for kind in ("503", "concurrency"):
            emulator.set_weather(5, 1.0, {kind: 1})
            answers[kind] = requests.get(server.url + query, headers={"Authorization": f"Bearer {token}"},
                                         verify=str(tls.ca_path), timeout=10)
        login = requests.post(server.url + "/services/oauth2/token", verify=str(tls.ca_path), timeout=10,
                              data={"grant_type": "client_credentials", "client_id": "weather",
                                    "client_secret": "s3cret"})
    finally:
        server.stop()
    assert answers["503"].status_code == 503 and answers["503"].json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert answers["concurrency"].status_code == 403
    assert answers["concurrency"].json() == [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                                              "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert login.status_code == 503 and login.headers["Content-Type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        json.loads(login.text)


def test_control_calls_never_meet_weather_and_the_http_control_api_sets_reads_and_clears_it(tls):
    emulator, server, _ = _salesforce(tls)
    context = ssl.create_default_context(cafile=str(tls.ca_path))

    def control(method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
        conn.request(method, "/__emulator" + path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        result = response.status, response.read()
        conn.close()
        return result

    try:
        status, body = control("POST", "/weather", {"seed": 7, "rate": 1.0, "mix": ALL})
        assert status == 200 and json.loads(body)["forecast"] == {"seed": 7, "rate": 1.0, "mix": ALL}
        assert json.loads(body)["kinds"] == ["503", "concurrency", "drop"]
        for _ in range(30):                         # every API request meets weather; these never do
            assert control("GET", "/health")[0] == 200
            assert control("POST", "/sobjects/Lead", {"LastName": "Calm", "Company": "Sky"})[0] == 201
        assert emulator.count("Lead") == 30 and emulator.requests.entries() == []
        assert control("POST", "/weather", {"rate": 2})[0] == 400
        assert control("DELETE", "/weather")[0] == 200
        assert json.loads(control("GET", "/weather")[1])["forecast"] is None
    finally:
        server.stop()


def test_reset_clears_the_weather():
    for emulator in (HubSpotEmulator(), SalesforceEmulator()):
        emulator.set_weather(1, 0.5)
        emulator.reset()
        assert emulator.weather.forecast is None
