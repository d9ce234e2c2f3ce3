"""The HubSpot emulator, driven by the real hubspot-api-client SDK over TLS (and raw ``requests``).

Fixtures are prefixed ``hs_`` (the Salesforce emulator's tests share this folder).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import hubspot
import pytest
import requests
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException, UnauthorizedException
from hubspot.crm.properties import PropertyCreate
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException

from emulators.hubspot import HubSpotEmulator
from emulators.server import EmulatorServer
from emulators.tls import TLSMaterial, make_tls_material

TOKEN = "pat-emulator-token"
UTC = dt.timezone.utc
T0 = dt.datetime(2024, 1, 31, 10, 0, tzinfo=UTC)


def ms(when: dt.datetime) -> str:
    return str(int(when.timestamp() * 1000))


class HsClock:
    """A settable clock for the emulator (lastmodifieddate, search lag)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class HsRig:
    emulator: HubSpotEmulator
    server: EmulatorServer
    client: hubspot.HubSpot
    http: Callable[..., requests.Response]
    clock: HsClock


def _client(url: str, tls: TLSMaterial, token: str = TOKEN) -> hubspot.HubSpot:
    return hubspot.HubSpot(access_token=token, host=url, ssl_ca_cert=str(tls.ca_path), retry=None)


@pytest.fixture(scope="session")
def hs_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return make_tls_material(tmp_path_factory.mktemp("hs-tls"))


class HsSwitch:
    """A WSGI app forwarding to the current test's emulator, so one TLS server serves the whole session
    (stopping a werkzeug server costs half a second).  The emulator still logs its own requests."""

    def __init__(self) -> None:
        self.target: HubSpotEmulator | None = None

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        assert self.target is not None, "no HubSpot emulator attached"
        return self.target(environ, start_response)


@pytest.fixture(scope="session")
def hs_shared_server(hs_tls: TLSMaterial) -> Iterator[tuple[EmulatorServer, HsSwitch]]:
    switch = HsSwitch()
    server = EmulatorServer(switch, tls=hs_tls)  # type: ignore[arg-type]
    with server:
        yield server, switch


@pytest.fixture
def hs_make(hs_tls: TLSMaterial, hs_shared_server: tuple[EmulatorServer, HsSwitch]) -> Iterator[Callable[..., HsRig]]:
    """Attach a fresh emulator (constructor kwargs) to the TLS server; returns the SDK client and a raw helper."""
    server, switch = hs_shared_server
    session = requests.Session()

    def make(**kwargs: Any) -> HsRig:
        clock = kwargs.pop("clock", None) or HsClock(T0)
        kwargs.setdefault("rate_limits", False)
        emulator = HubSpotEmulator(clock=clock, **kwargs)
        switch.target = emulator

        def http(method: str, path: str, json_body: Any = None, *, token: str | None = TOKEN,
                 data: str | None = None, params: dict[str, Any] | None = None) -> requests.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            if data is not None:
                headers["Content-Type"] = "application/json"
            return session.request(method, server.url + path, json=json_body, data=data, params=params,
                                   headers=headers, verify=str(hs_tls.ca_path), timeout=30)

        return HsRig(emulator, server, _client(server.url, hs_tls), http, clock)

    yield make
    switch.target = None
    session.close()


@pytest.fixture
def hs(hs_make: Callable[..., HsRig]) -> HsRig:
    return hs_make()


def hs_filter(prop: str, op: str, value: Any = None, *, values: list[str] | None = None,
              high: str | None = None) -> Filter:
    return Filter(property_name=prop, operator=op, value=value, values=values, high_value=high)


def hs_search(rig: HsRig, *groups: list[Filter], **kwargs: Any) -> Any:
    request = PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=g) for g in groups], **kwargs)
    return rig.client.crm.contacts.search_api.do_search(request)


def ids_of(response: Any) -> list[str]:
    return [r.id for r in response.results]


@pytest.fixture
def hs_people(hs: HsRig) -> dict[str, str]:
    """A small, varied contact set; returns email → id."""
    rows = [
        {"email": "ada@acme.com", "firstname": "Ada", "lastname": "Lovelace", "company": "Acme Corp",
         "lifecyclestage": "lead", "hubspotscore": "9", "jobtitle": "Chief Engineer"},
        {"email": "bob@acme.com", "firstname": "Bob", "lastname": "Builder", "company": "Acme Corp",
         "lifecyclestage": "marketingqualifiedlead", "hubspotscore": "10"},
        {"email": "cy@globex.io", "firstname": "Cy", "lastname": "Young", "company": "Globex",
         "lifecyclestage": "customer", "hubspotscore": "100", "jobtitle": "VP Sales"},
        {"email": "dee@initech.com", "firstname": "dee", "lastname": "Dee", "lifecyclestage": "lead"},
    ]
    out = {}
    for i, row in enumerate(rows):
        out[row["email"]] = hs.emulator.create_contact(row, at=T0 + dt.timedelta(minutes=i))
    return out


# ----------------------------------------------------------------------------- auth


def test_missing_or_unknown_or_revoked_token_gets_documented_401_body(hs: HsRig) -> None:
    for token in (None, "pat-wrong"):
        resp = hs.http("POST", "/crm/v3/objects/contacts/search", {}, token=token)
        assert resp.status_code == 401
        body = resp.json()
        assert body["status"] == "error"
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found")
        assert len(body["correlationId"]) == 36
    assert hs.http("POST", "/crm/v3/objects/contacts/search", {}).status_code == 200
    hs.emulator.revoke_token(TOKEN)
    with pytest.raises(UnauthorizedException) as exc:
        hs_search(hs)
    assert exc.value.status == 401


def test_a_token_without_a_scope_gets_the_documented_403_and_the_token_info_endpoint_lists_its_scopes(
        hs: HsRig) -> None:
    info = hs.http("POST", "/oauth/v2/private-apps/get/access-token-info", {"tokenKey": TOKEN}, token=None)
    assert info.status_code == 200 and "crm.objects.contacts.write" in info.json()["scopes"]
    assert set(info.json()) == {"userId", "hubId", "appId", "scopes"}
    assert hs.http("POST", "/__emulator/tokens/scopes", {"token": TOKEN, "scopes": [
        "crm.objects.contacts.read", "crm.schemas.contacts.read"]}, token=None).status_code == 200
    assert hs.http("POST", "/crm/v3/objects/contacts/search", {}).status_code == 200
    assert hs.http("GET", "/crm/v3/properties/contacts").status_code == 200
    refused = hs.http("POST", "/crm/v3/objects/contacts/batch/update", {"inputs": []})
    body = refused.json()
    assert refused.status_code == 403 and body["category"] == "MISSING_SCOPES"
    assert body["message"].startswith("This app hasn't been granted all required scopes")
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]
    listed = hs.http("POST", "/oauth/v2/private-apps/get/access-token-info", {"tokenKey": TOKEN}).json()
    assert listed["scopes"] == ["crm.objects.contacts.read", "crm.schemas.contacts.read"]
    unknown = hs.http("POST", "/oauth/v2/private-apps/get/access-token-info", {"tokenKey": "pat-nope"}, token=None)
    assert unknown.status_code == 401 and unknown.json()["category"] == "INVALID_AUTHENTICATION"
    hs.emulator.reset()
    assert hs.http("POST", "/crm/v3/objects/contacts/batch/update", {"inputs": []}).status_code != 403


# ----------------------------------------------------------------------------- search operators


def test_eq_neq_in_not_in_compare_strings_case_insensitively(hs: HsRig, hs_people: dict[str, str]) -> None:
    assert ids_of(hs_search(hs, [hs_filter("email", "EQ", "ADA@acme.com")])) == [hs_people["ada@acme.com"]]
    neq = ids_of(hs_search(hs, [hs_filter("lifecyclestage", "NEQ", "lead")]))
    assert neq == [hs_people["bob@acme.com"], hs_people["cy@globex.io"]]
    in_ = ids_of(hs_search(hs, [hs_filter("firstname", "IN", values=["dee", "cy"])]))
    assert in_ == [hs_people["cy@globex.io"], hs_people["dee@initech.com"]]
    not_in = ids_of(hs_search(hs, [hs_filter("lifecyclestage", "NOT_IN", values=["lead", "customer"])]))
    assert not_in == [hs_people["bob@acme.com"]]


def test_number_filters_compare_numerically_including_hs_object_id(hs: HsRig) -> None:
    ids = hs.emulator.create_contacts([{"email": f"n{i}@x.com", "hubspotscore": str(i)} for i in range(1, 13)])
    assert ids[8:11] == ["9", "10", "11"]
    # As strings "10" < "9"; as numbers it is not.
    assert ids_of(hs_search(hs, [hs_filter("hs_object_id", "GT", "9")])) == ["10", "11", "12"]
    assert ids_of(hs_search(hs, [hs_filter("hs_object_id", "LTE", "2")])) == ["1", "2"]
    assert ids_of(hs_search(hs, [hs_filter("hubspotscore", "GTE", "11")])) == ["11", "12"]
    assert ids_of(hs_search(hs, [hs_filter("hubspotscore", "LT", "3")])) == ["1", "2"]
    assert ids_of(hs_search(hs, [hs_filter("hubspotscore", "BETWEEN", "9", high="10")])) == ["9", "10"]
    assert ids_of(hs_search(hs, [hs_filter("hs_object_id", "IN", values=["3", "12", "99"])])) == ["3", "12"]


def test_datetime_filters_accept_epoch_millis_and_iso_values(hs: HsRig) -> None:
    early = hs.emulator.create_contact({"email": "early@x.com"}, at=T0)
    late = hs.emulator.create_contact({"email": "late@x.com"}, at=T0 + dt.timedelta(hours=2))
    cut = T0 + dt.timedelta(hours=1)
    assert ids_of(hs_search(hs, [hs_filter("createdate", "GT", ms(cut))])) == [late]
    assert ids_of(hs_search(hs, [hs_filter("lastmodifieddate", "LT", "2024-01-31T11:00:00.000Z")])) == [early]
    assert ids_of(hs_search(hs, [hs_filter("createdate", "BETWEEN", ms(T0), high=ms(T0))])) == [early]
    assert ids_of(hs_search(hs, [hs_filter("lastmodifieddate", "GTE", "2024-01-31")])) == [early, late]
    props = hs_search(hs, [hs_filter("hs_object_id", "EQ", early)]).results[0].properties
    assert props["createdate"] == "2024-01-31T10:00:00.000Z"
    assert props["lastmodifieddate"] == "2024-01-31T10:00:00.000Z"


def test_has_property_and_token_operators(hs: HsRig, hs_people: dict[str, str]) -> None:
    no_title = hs_search(hs, [hs_filter("jobtitle", "NOT_HAS_PROPERTY")])
    assert ids_of(no_title) == [hs_people["bob@acme.com"], hs_people["dee@initech.com"]]
    assert len(ids_of(hs_search(hs, [hs_filter("jobtitle", "HAS_PROPERTY")]))) == 2
    acme = ids_of(hs_search(hs, [hs_filter("email", "CONTAINS_TOKEN", "*@acme.com")]))
    assert acme == [hs_people["ada@acme.com"], hs_people["bob@acme.com"]]
    assert ids_of(hs_search(hs, [hs_filter("jobtitle", "CONTAINS_TOKEN", "engineer")])) == [hs_people["ada@acme.com"]]
    not_acme = ids_of(hs_search(hs, [hs_filter("company", "NOT_CONTAINS_TOKEN", "acme")]))
    assert not_acme == [hs_people["cy@globex.io"], hs_people["dee@initech.com"]]


def test_free_text_query_matches_word_prefixes_and_ands_with_filters(hs: HsRig, hs_people: dict[str, str]) -> None:
    acme = ids_of(hs_search(hs, query="acm"))
    assert acme == [hs_people["ada@acme.com"], hs_people["bob@acme.com"]]
    assert ids_of(hs_search(hs, [hs_filter("firstname", "EQ", "bob")], query="acme")) == [hs_people["bob@acme.com"]]
    assert hs_search(hs, query="zzz").total == 0


def test_filter_groups_are_ored_and_filters_within_a_group_anded(hs: HsRig, hs_people: dict[str, str]) -> None:
    result = hs_search(
        hs,
        [hs_filter("company", "EQ", "Acme Corp"), hs_filter("lifecyclestage", "EQ", "lead")],
        [hs_filter("hubspotscore", "GT", "50")],
    )
    assert ids_of(result) == [hs_people["ada@acme.com"], hs_people["cy@globex.io"]]
    assert result.total == 2


def test_unknown_filter_property_or_bad_operator_value_is_a_400(hs: HsRig) -> None:
    with pytest.raises(ApiException) as exc:
        hs_search(hs, [hs_filter("no_such_prop", "EQ", "x")])
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["category"] == "VALIDATION_ERROR"
    resp = hs.http("POST", "/crm/v3/objects/contacts/search",
                   {"filterGroups": [{"filters": [{"propertyName": "hubspotscore", "operator": "GT",
                                                   "value": "many"}]}]})
    assert resp.status_code == 400


# ----------------------------------------------------------------------------- sort, paging, properties


def test_sort_orders_typed_values_and_default_is_ascending_id(hs: HsRig, hs_people: dict[str, str]) -> None:
    assert ids_of(hs_search(hs)) == list(hs_people.values())
    by_score = hs_search(hs, sorts=[{"propertyName": "hubspotscore", "direction": "DESCENDING"}])
    # numeric, not lexicographic ("9" > "100" as strings); contacts without a score last
    assert ids_of(by_score) == [hs_people["cy@globex.io"], hs_people["bob@acme.com"], hs_people["ada@acme.com"],
                                hs_people["dee@initech.com"]]
    by_name = hs_search(hs, sorts=[{"propertyName": "firstname", "direction": "ASCENDING"}])
    assert [r.properties["firstname"] for r in by_name.results] == ["Ada", "Bob", "Cy", "dee"]
    with pytest.raises(ApiException) as exc:
        hs_search(hs, sorts=[{"propertyName": "firstname"}, {"propertyName": "lastname"}])
    assert exc.value.status == 400


def test_after_pages_through_results_and_last_page_has_no_paging(hs: HsRig) -> None:
    hs.emulator.create_contacts([{"email": f"p{i}@x.com", "firstname": f"P{i}"} for i in range(25)])
    first = hs_search(hs)
    assert first.total == 25 and len(first.results) == 10  # default limit 10
    assert set(first.results[0].properties) == {"createdate", "email", "firstname", "hs_object_id",
                                                "lastmodifieddate", "lastname"}
    assert first.results[0].properties["lastname"] is None  # empty → null
    seen, after = [], None
    while True:
        page = hs_search(hs, limit=10, after=after, properties=["email", "not_a_property"])
        seen += ids_of(page)
        assert "not_a_property" not in page.results[0].properties
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == [str(i) for i in range(1, 26)]
    assert hs.http("POST", "/crm/v3/objects/contacts/search", {"after": "20", "limit": 10}).json().get(
        "paging") is None


def test_limit_above_200_is_rejected_with_400(hs: HsRig) -> None:
    assert hs_search(hs, limit=200).total == 0
    with pytest.raises(ApiException) as exc:
        hs_search(hs, limit=201)
    assert exc.value.status == 400
    body = json.loads(exc.value.body)
    assert body["category"] == "VALIDATION_ERROR" and "200" in body["message"] and body["correlationId"]


def test_paging_past_10000_results_is_rejected(hs: HsRig) -> None:
    hs.emulator.create_contacts([{"email": f"m{i}@x.com"} for i in range(10_050)])
    page = hs_search(hs, limit=200, after="9800")
    assert len(page.results) == 200 and page.total == 10_050
    assert page.paging.next.after == "10000"  # HubSpot still hands out the next cursor...
    with pytest.raises(ApiException) as exc:  # ...which then fails
        hs_search(hs, limit=200, after=page.paging.next.after)
    assert exc.value.status == 400
    assert "10000" in json.loads(exc.value.body)["message"]
    with pytest.raises(ApiException):
        hs_search(hs, limit=100, after="9950")


def test_search_body_over_3000_characters_is_rejected(hs: HsRig) -> None:
    values = [f"someone{i}@example.com" for i in range(150)]
    body = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "IN", "values": values}]}]}
    assert len(json.dumps(body)) > 3000
    resp = hs.http("POST", "/crm/v3/objects/contacts/search", body)
    assert resp.status_code == 400
    assert resp.json()["category"] == "VALIDATION_ERROR" and "3000" in resp.json()["message"]
    body["filterGroups"][0]["filters"][0]["values"] = values[:50]
    assert hs.http("POST", "/crm/v3/objects/contacts/search", body).status_code == 200


def test_filter_group_and_filter_count_limits(hs: HsRig) -> None:
    f = hs_filter("email", "HAS_PROPERTY")
    assert hs_search(hs, *([[f] * 6] * 3)).total == 0  # 3 groups x 6 = 18 filters: allowed
    for groups in ([[f]] * 6, [[f] * 7], [[f] * 5] * 4):  # 6 groups; 7 in a group; 20 in total
        with pytest.raises(ApiException) as exc:
            hs_search(hs, *groups)
        assert exc.value.status == 400
        assert json.loads(exc.value.body)["category"] == "VALIDATION_ERROR"


def test_paging_by_object_id_in_a_time_window_visits_each_contact_once(hs: HsRig) -> None:
    start, end = T0, T0 + dt.timedelta(minutes=5)
    inside: list[str] = []
    for chunk in range(5):  # interleave ids of in-window and out-of-window contacts
        hs.emulator.create_contacts([{"email": f"before{chunk}-{i}@x.com"} for i in range(300)],
                                    at=start - dt.timedelta(seconds=1))
        inside += hs.emulator.create_contacts([{"email": f"in{chunk}-{i}@x.com"} for i in range(1000)],
                                              at=start)  # 5,000 share one lastmodifieddate
        hs.emulator.create_contacts([{"email": f"after{chunk}-{i}@x.com"} for i in range(300)], at=end)
    visited: list[str] = []
    last = "0"
    calls = 0
    while True:
        page = hs_search(
            hs,
            [hs_filter("lastmodifieddate", "GTE", ms(start)), hs_filter("lastmodifieddate", "LT", ms(end)),
             hs_filter("hs_object_id", "GT", last)],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}], limit=200,
            properties=["email", "lastmodifieddate"])
        calls += 1
        if not page.results:
            break
        visited += ids_of(page)
        last = page.results[-1].id
    assert len(visited) == len(set(visited)) == 5000
    assert visited == inside
    assert calls == 26


def test_search_pages_quickly_through_12000_contacts(hs: HsRig) -> None:
    hs.emulator.create_contacts([{"email": f"v{i}@x.com", "lifecyclestage": "lead"} for i in range(12_000)], at=T0)
    began = time.monotonic()
    last, seen, calls = 0, 0, 0
    while True:
        body = {"filterGroups": [{"filters": [
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)},
            {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 200,
            "properties": ["email"]}
        results = hs.http("POST", "/crm/v3/objects/contacts/search", body).json()["results"]
        calls += 1
        if not results:
            break
        seen += len(results)
        last = int(results[-1]["id"])
    assert (seen, calls) == (12_000, 61)
    assert time.monotonic() - began < 15


def test_search_lag_hides_fresh_edits_that_batch_read_already_sees(hs_make: Callable[..., HsRig]) -> None:
    rig = hs_make(search_lag_seconds=5)
    cid = rig.emulator.create_contact({"email": "lag@x.com", "lifecyclestage": "lead"}, at=T0 - dt.timedelta(hours=1))
    assert ids_of(hs_search(rig, [hs_filter("email", "EQ", "lag@x.com")])) == [cid]
    rig.client.crm.contacts.basic_api.update(cid, SimplePublicObjectInput(properties={"lifecyclestage": "customer"}))
    assert hs_search(rig, [hs_filter("email", "EQ", "lag@x.com")]).total == 0
    read = rig.client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[{"id": cid}], properties=["lifecyclestage"]))
    assert read.results[0].properties["lifecyclestage"] == "customer"
    rig.clock.advance(seconds=5)
    assert ids_of(hs_search(rig, [hs_filter("lifecyclestage", "EQ", "customer")])) == [cid]


def test_archived_contacts_leave_search_and_batch_read_reports_them_missing(hs: HsRig,
                                                                           hs_people: dict[str, str]) -> None:
    gone = hs_people["bob@acme.com"]
    hs.client.crm.contacts.basic_api.archive(gone)
    assert gone not in ids_of(hs_search(hs))
    read = hs.client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(inputs=[{"id": gone}]))
    assert read.results == [] and read.errors[0].context == {"ids": [gone]}
    with pytest.raises(NotFoundException):
        hs.client.crm.contacts.basic_api.get_by_id(gone)


# ----------------------------------------------------------------------------- batch read


def test_batch_read_returns_207_with_object_not_found_for_missing_ids(hs: HsRig, hs_people: dict[str, str]) -> None:
    ada = hs_people["ada@acme.com"]
    read = hs.client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": ada}, {"id": "987654"}, {"id": "nope"}], properties=["email"]))
    assert type(read).__name__ == "BatchResponseSimplePublicObjectWithErrors"  # SDK returns, no raise
    assert ids_of(read) == [ada] and read.num_errors == 1
    assert read.errors[0].category == "OBJECT_NOT_FOUND"
    assert read.errors[0].context == {"ids": ["987654", "nope"]}
    raw = hs.http("POST", "/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": "987654"}]})
    assert raw.status_code == 207
    assert raw.json()["errors"][0]["message"].startswith("Could not get some CONTACT objects")
    ok = hs.http("POST", "/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": ada}]})
    assert ok.status_code == 200 and ok.json()["status"] == "COMPLETE" and "errors" not in ok.json()
    by_email = hs.client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": "cy@globex.io"}], id_property="email", properties=["firstname"]))
    assert by_email.results[0].properties["firstname"] == "Cy"


def test_batch_read_input_limits_are_100_and_50_with_history(hs: HsRig) -> None:
    ids = hs.emulator.create_contacts([{"email": f"b{i}@x.com"} for i in range(101)])
    read = hs.client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[{"id": i} for i in ids[:100]], properties=["email"]))
    assert len(read.results) == 100
    with pytest.raises(ApiException) as exc:
        hs.client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(inputs=[{"id": i} for i in ids],
                                                                                 properties=["email"]))
    assert exc.value.status == 400
    history = {"inputs": [{"id": i} for i in ids[:51]], "properties": ["email"], "propertiesWithHistory": ["email"]}
    resp = hs.http("POST", "/crm/v3/objects/contacts/batch/read", history)
    assert resp.status_code == 400
    assert resp.json()["message"].startswith(
        "The maximum number of inputs supported in a batch request for property histories is 50")
    history["inputs"] = history["inputs"][:50]
    assert hs.http("POST", "/crm/v3/objects/contacts/batch/read", history).status_code == 200


def test_batch_read_returns_property_history_newest_first(hs: HsRig) -> None:
    cid = hs.emulator.create_contact({"email": "h@x.com", "lifecyclestage": "subscriber"})
    hs.clock.advance(minutes=1)
    hs.client.crm.contacts.basic_api.update(cid, SimplePublicObjectInput(properties={"lifecyclestage": "lead"}))
    resp = hs.http("POST", "/crm/v3/objects/contacts/batch/read",
                   {"inputs": [{"id": cid}], "properties": ["email"], "propertiesWithHistory": ["lifecyclestage"]})
    result = resp.json()["results"][0]
    history = result["propertiesWithHistory"]["lifecyclestage"]
    assert [h["value"] for h in history] == ["lead", "subscriber"]
    assert history[0]["timestamp"] == "2024-01-31T10:01:00.000Z"
    assert history[0]["sourceType"] == "INTEGRATION" and isinstance(history[0]["sourceId"], str)
    assert {"value", "timestamp", "sourceType", "sourceId"} <= set(history[1])
    sdk = hs.client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": cid}], properties=["email"], properties_with_history=["lifecyclestage"]))
    assert sdk.results[0].properties_with_history["lifecyclestage"][0].value == "lead"


# ----------------------------------------------------------------------------- batch writes


def test_batch_update_bumps_lastmodifieddate_and_appends_history(hs: HsRig, hs_people: dict[str, str]) -> None:
    ada = hs_people["ada@acme.com"]
    hs.clock.advance(hours=3)
    result = hs.client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(
        inputs=[{"id": ada, "properties": {"hs_lead_status": "CONNECTED", "utm_source": "newsletter"}}]))
    assert type(result).__name__ == "BatchResponseSimplePublicObject"
    props = result.results[0].properties
    assert props["hs_lead_status"] == "CONNECTED"
    assert props["lastmodifieddate"] == "2024-01-31T13:00:00.000Z"
    stored = hs.emulator.get_contact(ada)
    assert stored["updatedAt"] == "2024-01-31T13:00:00.000Z"
    assert stored["propertiesWithHistory"]["hs_lead_status"][0]["value"] == "CONNECTED"
    assert stored["propertiesWithHistory"]["lastmodifieddate"][0]["value"] == "2024-01-31T13:00:00.000Z"
    recent = hs_search(hs, [hs_filter("lastmodifieddate", "GTE", ms(T0 + dt.timedelta(hours=1)))])
    assert ids_of(recent) == [ada]


@pytest.mark.parametrize("properties, code", [
    ({"favourite_colour": "blue"}, "PROPERTY_DOESNT_EXIST"),
    ({"lifecyclestage": "hot"}, "INVALID_OPTION"),
    ({"hubspotscore_custom_number": "1"}, "PROPERTY_DOESNT_EXIST"),
    ({"first_conversion_date": "yesterday"}, "READ_ONLY_VALUE"),
    ({"email": "not-an-email"}, "INVALID_EMAIL"),
])
def test_batch_update_with_invalid_values_is_a_validation_error_and_changes_nothing(
        hs: HsRig, hs_people: dict[str, str], properties: dict[str, str], code: str) -> None:
    ada, bob = hs_people["ada@acme.com"], hs_people["bob@acme.com"]
    before = hs.emulator.get_contact(ada)
    with pytest.raises(ApiException) as exc:
        hs.client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
            {"id": bob, "properties": {"firstname": "Robert"}}, {"id": ada, "properties": properties}]))
    assert exc.value.status == 400
    body = json.loads(exc.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    assert json.loads(body["message"].split(": ", 1)[1])[0]["error"] == code
    assert [e["code"] for e in body["errors"]] == [code]
    assert hs.emulator.get_contact(ada) == before
    assert hs.emulator.get_contact(bob)["properties"]["firstname"] == "Bob"


def test_number_and_date_properties_are_validated_by_type(hs: HsRig) -> None:
    for prop in ({"name": "deal_size", "type": "number", "fieldType": "number"},
                 {"name": "renewal_day", "type": "date", "fieldType": "date"}):
        hs.http("POST", "/crm/v3/properties/contacts", {**prop, "label": prop["name"], "groupName": "syncd_demo"})
    cid = hs.emulator.create_contact({"email": "t@x.com"})
    url = f"/crm/v3/objects/contacts/{cid}"
    bad_number = hs.http("PATCH", url, {"properties": {"deal_size": "lots"}})
    assert bad_number.status_code == 400 and bad_number.json()["errors"][0]["code"] == "INVALID_INTEGER"
    not_midnight = hs.http("PATCH", url, {"properties": {"renewal_day": ms(T0)}})
    assert not_midnight.status_code == 400 and "not midnight" in not_midnight.json()["message"]
    ok = hs.http("PATCH", url, {"properties": {"deal_size": "12.50", "renewal_day": ms(dt.datetime(2024, 2, 1, tzinfo=UTC))}})
    assert ok.status_code == 200
    assert ok.json()["properties"] == {**ok.json()["properties"], "deal_size": "12.5", "renewal_day": "2024-02-01"}


def test_batch_update_returns_207_for_missing_ids_and_applies_the_rest(hs: HsRig, hs_people: dict[str, str]) -> None:
    cy = hs_people["cy@globex.io"]
    result = hs.client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": cy, "properties": {"lifecyclestage": "evangelist"}},
        {"id": "555555", "properties": {"lifecyclestage": "customer"}}]))
    assert type(result).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert ids_of(result) == [cy] and result.num_errors == 1
    assert result.errors[0].category == "OBJECT_NOT_FOUND" and result.errors[0].context == {"ids": ["555555"]}
    assert hs.emulator.get_contact(cy)["properties"]["lifecyclestage"] == "evangelist"
    dup = hs.http("POST", "/crm/v3/objects/contacts/batch/update",
                  {"inputs": [{"id": cy, "properties": {}}, {"id": cy, "properties": {}}]})
    assert dup.status_code == 400 and "Duplicate IDs" in dup.json()["message"]
    too_many = hs.http("POST", "/crm/v3/objects/contacts/batch/update",
                       {"inputs": [{"id": str(i), "properties": {}} for i in range(101)]})
    assert too_many.status_code == 400


def test_batch_create_allocates_ascending_ids_and_rejects_existing_email(hs: HsRig) -> None:
    created = hs.client.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        {"properties": {"email": "new1@x.com", "firstname": "N1"}},
        {"properties": {"email": "new2@x.com", "utm_campaign": "spring"}}]))
    ids = [int(r.id) for r in created.results]
    assert ids == sorted(ids) and created.status == "COMPLETE"
    assert created.results[1].properties["utm_campaign"] == "spring"
    resp = hs.http("POST", "/crm/v3/objects/contacts/batch/create", {"inputs": [{"properties": {"email": "NEW1@x.com"}}]})
    assert resp.status_code == 409 and resp.json()["category"] == "CONFLICT"
    assert resp.json()["message"] == f"Contact already exists. Existing ID: {ids[0]}"


def test_batch_upsert_by_email_updates_existing_and_creates_new(hs: HsRig, hs_people: dict[str, str]) -> None:
    result = hs.client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        {"id": "ada@acme.com", "idProperty": "email", "properties": {"hs_lead_status": "OPEN"}},
        {"id": "zed@new.io", "idProperty": "email", "properties": {"firstname": "Zed"}}]))
    by_new = {r.new: r for r in result.results}
    assert by_new[False].id == hs_people["ada@acme.com"]
    assert hs.emulator.get_contact(by_new[True].id)["properties"]["email"] == "zed@new.io"
    bad = hs.http("POST", "/crm/v3/objects/contacts/batch/upsert",
                  {"inputs": [{"id": "x", "idProperty": "firstname", "properties": {}}]})
    assert bad.status_code == 400 and "non-unique" in bad.json()["message"]


# ----------------------------------------------------------------------------- basic API


def test_basic_create_get_update_archive_and_list_paging(hs: HsRig) -> None:
    basic = hs.client.crm.contacts.basic_api
    made = basic.create(SimplePublicObjectInputForCreate(properties={"email": "crud@x.com", "city": "Oslo"}))
    got = basic.get_by_id(made.id, properties=["city", "no_such_property"], properties_with_history=["city"])
    assert got.properties["city"] == "Oslo" and "no_such_property" not in got.properties
    assert got.properties_with_history["city"][0].value == "Oslo"
    assert basic.get_by_id("crud@x.com", id_property="email").id == made.id
    updated = basic.update(made.id, SimplePublicObjectInput(properties={"city": ""}))
    assert updated.properties["city"] is None
    with pytest.raises(ApiException) as exc:
        basic.create(SimplePublicObjectInputForCreate(properties={"email": "crud@x.com"}))
    assert exc.value.status == 409
    hs.emulator.create_contacts([{"email": f"l{i}@x.com"} for i in range(14)])
    pages, after = [], None
    while True:
        page = basic.get_page(limit=10, after=after, properties=["email"])
        pages.append(ids_of(page))
        if page.paging is None:
            break
        after = page.paging.next.after
    assert [len(p) for p in pages] == [10, 5]
    basic.archive(made.id)
    with pytest.raises(NotFoundException):
        basic.get_by_id(made.id)
    assert hs.http("GET", "/crm/v3/objects/contacts", params={"limit": 101}).status_code == 400


def test_unknown_route_gets_hubspot_style_404(hs: HsRig) -> None:
    resp = hs.http("GET", "/crm/v3/objects/contacts/1/nonsense/deeper")
    assert resp.status_code == 404
    assert resp.json()["status"] == "error" and resp.json()["correlationId"]


# ----------------------------------------------------------------------------- properties API


def test_properties_api_lists_standard_definitions_and_groups(hs: HsRig) -> None:
    core = hs.client.crm.properties.core_api
    names = {p.name: p for p in core.get_all("contacts").results}
    for name in ("email", "lifecyclestage", "hs_analytics_source", "first_conversion_date", "pain_points",
                 "hs_object_id", "numemployees", "utm_source"):
        assert name in names
    stage = core.get_by_name("contacts", "lifecyclestage")
    assert stage.type == "enumeration" and [o.value for o in stage.options][:3] == [
        "subscriber", "lead", "marketingqualifiedlead"]
    assert {o.value for o in names["hs_analytics_source"].options} >= {"ORGANIC_SEARCH", "AI_REFERRALS"}
    assert names["pain_points"].field_type == "textarea"
    assert names["first_conversion_date"].type == "datetime"
    groups = {g.name for g in hs.client.crm.properties.groups_api.get_all("contacts").results}
    assert {"contactinformation", "analyticsinformation", "emailinformation", "conversioninformation"} <= groups
    assert hs.client.crm.properties.groups_api.get_by_name("contacts", "emailinformation").label
    assert hs.http("GET", "/crm/v3/properties/contacts/does_not_exist").status_code == 404


def test_creating_an_existing_property_is_409_and_new_ones_are_usable(hs: HsRig) -> None:
    core = hs.client.crm.properties.core_api
    with pytest.raises(PropertiesApiException) as exc:
        core.create("contacts", PropertyCreate(name="utm_source", label="UTM", type="string", field_type="text",
                                               group_name="syncd_demo"))
    assert exc.value.status == 409
    assert json.loads(exc.value.body)["category"] == "OBJECT_ALREADY_EXISTS"
    bad = hs.http("POST", "/crm/v3/properties/contacts",
                  {"name": "x_bad", "label": "X", "type": "string", "fieldType": "select", "groupName": "syncd_demo"})
    assert bad.status_code == 400
    bad_group = hs.http("POST", "/crm/v3/properties/contacts",
                        {"name": "x_bad", "label": "X", "type": "string", "fieldType": "text", "groupName": "nope"})
    assert bad_group.status_code == 400
    made = core.create("contacts", PropertyCreate(
        name="sf_lead_id", label="Salesforce Lead ID", type="enumeration", field_type="select",
        group_name="sales_properties", options=[{"label": "A", "value": "a"}]))
    assert made.name == "sf_lead_id"
    cid = hs.emulator.create_contact({"email": "p@x.com"})
    ok = hs.http("PATCH", f"/crm/v3/objects/contacts/{cid}", {"properties": {"sf_lead_id": "a"}})
    assert ok.status_code == 200
    assert hs.http("PATCH", f"/crm/v3/objects/contacts/{cid}", {"properties": {"sf_lead_id": "b"}}).status_code == 400
    batch = hs.http("POST", "/crm/v3/properties/contacts/batch/create", {"inputs": [
        {"name": "sync_state", "label": "Sync state", "type": "string", "fieldType": "text", "groupName": "syncd_demo"},
        {"name": "utm_medium", "label": "dup", "type": "string", "fieldType": "text", "groupName": "syncd_demo"}]})
    assert batch.status_code == 207 and batch.json()["errors"][0]["category"] == "OBJECT_ALREADY_EXISTS"
    read = hs.http("POST", "/crm/v3/properties/contacts/batch/read",
                   {"inputs": [{"name": "sync_state"}, {"name": "nope"}], "archived": False})
    assert read.status_code == 207 and [p["name"] for p in read.json()["results"]] == ["sync_state"]


# ----------------------------------------------------------------------------- rate limits


def test_burst_limit_returns_429_ten_secondly_rolling_with_rate_headers(hs_make: Callable[..., HsRig]) -> None:
    rig = hs_make(rate_limits=True, burst_limit=3, daily_limit=1000)
    remaining = []
    for _ in range(3):
        resp = rig.http("GET", "/crm/v3/objects/contacts")
        assert resp.status_code == 200
        assert resp.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert resp.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert resp.headers["X-HubSpot-RateLimit-Daily"] == "1000"
        remaining.append(resp.headers["X-HubSpot-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    assert "Retry-After" not in resp.headers
    limited = rig.http("GET", "/crm/v3/objects/contacts")
    assert limited.status_code == 429
    body = limited.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["status"] == "error" and body["correlationId"]
    with pytest.raises(ApiException) as exc:
        rig.client.crm.contacts.basic_api.get_page()
    assert exc.value.status == 429
    assert rig.http("GET", "/__emulator/health").status_code == 200  # control calls are never limited


def test_search_has_its_own_per_second_limit_and_no_rate_headers(hs_make: Callable[..., HsRig]) -> None:
    rig = hs_make(rate_limits=True, search_limit_per_second=2, burst_limit=50)
    first = rig.http("POST", "/crm/v3/objects/contacts/search", {})
    assert first.status_code == 200
    assert not [h for h in first.headers if h.lower().startswith("x-hubspot-ratelimit")]
    assert rig.http("POST", "/crm/v3/objects/contacts/search", {}).status_code == 200
    with pytest.raises(ApiException) as exc:
        hs_search(rig)
    assert exc.value.status == 429 and json.loads(exc.value.body)["policyName"] == "SECONDLY"
    assert rig.http("GET", "/crm/v3/objects/contacts").status_code == 200  # other endpoints unaffected
    time.sleep(1.05)
    assert rig.http("POST", "/crm/v3/objects/contacts/search", {}).status_code == 200


def test_daily_limit_returns_429_daily(hs_make: Callable[..., HsRig]) -> None:
    rig = hs_make(rate_limits=True, daily_limit=2)
    assert rig.http("GET", "/crm/v3/objects/contacts").headers["X-HubSpot-RateLimit-Daily-Remaining"] == "1"
    assert rig.http("GET", "/crm/v3/objects/contacts").status_code == 200
    resp = rig.http("GET", "/crm/v3/objects/contacts")
    assert resp.status_code == 429 and resp.json()["policyName"] == "DAILY"
    rig.clock.advance(days=1)
    assert rig.http("GET", "/crm/v3/objects/contacts").status_code == 200


# ----------------------------------------------------------------------------- control API, faults, log


def test_injected_fault_answers_only_the_next_matching_requests(hs: HsRig) -> None:
    hs.emulator.inject_fault("POST", "/batch/read", 502, {"status": "error", "message": "Bad gateway"}, times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            hs.client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(inputs=[{"id": "1"}]))
        assert exc.value.status == 502
    assert hs.http("POST", "/crm/v3/objects/contacts/search", {}).status_code == 200
    assert hs.http("POST", "/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": "1"}]}).status_code == 207
    assert hs.emulator.requests.count(path_contains="/batch/read", status=502) == 2


def test_control_http_endpoints_seed_edit_archive_and_reset(hs: HsRig) -> None:
    c = hs.http
    made = c("POST", "/__emulator/contacts", {"properties": {"email": "ctl@x.com", "hs_analytics_source": "PAID_SEARCH"},
                                              "at": "2024-01-01T00:00:00Z"}, token=None)
    cid = made.json()["id"]
    many = c("POST", "/__emulator/contacts", {"contacts": [{"email": "c1@x.com"}, {"email": "c2@x.com"}]}, token=None)
    assert many.status_code == 201 and len(many.json()["ids"]) == 2
    snap = c("GET", f"/__emulator/contacts/{cid}", token=None).json()
    assert snap["properties"]["hs_analytics_source"] == "PAID_SEARCH"
    assert snap["createdAt"] == "2024-01-01T00:00:00.000Z"
    c("PATCH", f"/__emulator/contacts/{cid}", {"properties": {"firstname": "Ctl"}, "at": "2024-01-02T00:00:00Z"},
      token=None)
    assert hs.emulator.get_contact(cid)["updatedAt"] == "2024-01-02T00:00:00.000Z"
    assert c("POST", "/__emulator/clock", {"now": "2024-03-01T12:00:00Z"}, token=None).json()["now"] == \
        "2024-03-01T12:00:00.000Z"
    c("POST", "/__emulator/faults", {"method": "GET", "path_contains": "/objects/contacts", "status": 500},
      token=None)
    assert c("GET", "/crm/v3/objects/contacts").status_code == 500
    c("POST", f"/__emulator/contacts/{cid}/archive", token=None)
    assert [r["id"] for r in c("GET", "/__emulator/contacts", token=None).json()["results"]] == \
        many.json()["ids"]
    logged = c("GET", "/__emulator/requests", token=None).json()["results"]
    assert logged == [{"method": "GET", "path": "/crm/v3/objects/contacts", "status": 500, "query": ""}]
    c("POST", "/__emulator/tokens/revoke", {"token": TOKEN}, token=None)
    assert c("GET", "/crm/v3/objects/contacts").status_code == 401
    assert c("POST", "/__emulator/reset", token=None).status_code == 200
    assert hs.emulator.contacts() == [] and hs.emulator.requests.entries() == []
    assert c("GET", "/crm/v3/objects/contacts").status_code == 200


def test_create_contacts_seeds_12000_quickly_with_ascending_ids(hs: HsRig) -> None:
    rows = [{"email": f"fast{i}@x.com", "firstname": "F", "lifecyclestage": "lead", "utm_source": "ads",
             "hs_analytics_source": "PAID_SEARCH", "num_conversion_events": "1"} for i in range(12_000)]
    began = time.monotonic()
    ids = hs.emulator.create_contacts(rows[:5000], at=T0) + hs.emulator.create_contacts(rows[5000:])
    assert time.monotonic() - began < 1.5
    assert ids == [str(i) for i in range(1, 12_001)]
    with pytest.raises(ValueError):
        hs.emulator.create_contacts([{"email": "fast1@x.com"}])
    with pytest.raises(ValueError):
        hs.emulator.create_contact({"lifecyclestage": "hot"})
