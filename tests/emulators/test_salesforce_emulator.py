"""The Salesforce emulator over real HTTPS, driven by simple-salesforce and plain requests.

Fixtures are defined here (prefixed ``sf_``) rather than in a shared conftest.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any, Iterator

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from emulators.salesforce import JWT_BEARER, SalesforceEmulator, SalesforceEmulatorError
from emulators.salesforce.ids import id_checksum, make_id
from emulators.salesforce.schema import FieldDef
from emulators.server import EmulatorServer
from emulators.tls import TLSMaterial, make_tls_material

CLIENT_ID = "syncd-connected-app"
CLIENT_SECRET = "s3cret-value"
JWT_CLIENT_ID = "syncd-jwt-app"
JWT_USERNAME = "integration@acme.example"
VERSION = "62.0"
UPSERT_PATH = "composite/sobjects/Lead/HubSpot_Contact_Id__c"


# --- fixtures -----------------------------------------------------------------------------

class SfClock:
    """Real time plus a manual offset, so JWT ``exp`` values made from real time still work."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc) + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += dt.timedelta(**kwargs)


@pytest.fixture(scope="session")
def sf_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return make_tls_material(tmp_path_factory.mktemp("sf-tls"))


@pytest.fixture(scope="session")
def sf_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def sf_module_clock() -> SfClock:
    return SfClock()


@pytest.fixture(scope="module")
def sf_module_server(sf_module_clock: SfClock, sf_rsa_key: rsa.RSAPrivateKey,
                     sf_tls: TLSMaterial) -> Iterator[EmulatorServer]:
    """One server per module (stopping one costs the server's 0.5 s poll interval); every
    test gets it reset."""
    emulator = SalesforceEmulator(clock=sf_module_clock)
    emulator.register_client(CLIENT_ID, client_secret=CLIENT_SECRET)
    public_pem = sf_rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    emulator.register_client(JWT_CLIENT_ID, jwt_public_key_pem=public_pem, username=JWT_USERNAME)
    with EmulatorServer(emulator, tls=sf_tls) as server:
        yield server


@pytest.fixture
def sf_clock(sf_module_clock: SfClock) -> SfClock:
    sf_module_clock.offset = dt.timedelta()
    return sf_module_clock


@pytest.fixture
def sf_server(sf_module_server: EmulatorServer, sf_clock: SfClock) -> EmulatorServer:
    sf_module_server.app.reset()
    return sf_module_server


@pytest.fixture
def sf_emulator(sf_server: EmulatorServer) -> SalesforceEmulator:
    emulator = sf_server.app
    assert isinstance(emulator, SalesforceEmulator)
    return emulator


@pytest.fixture
def sf_http(sf_tls: TLSMaterial) -> Iterator[requests.Session]:
    """A session that verifies against the emulator CA (trust_env off: REQUESTS_CA_BUNDLE
    would otherwise win over ``verify``)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sf_tls.ca_path)
    yield session
    session.close()


def _client_credentials(http: requests.Session, url: str) -> requests.Response:
    return http.post(f"{url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET})


@pytest.fixture
def sf_token(sf_server: EmulatorServer, sf_http: requests.Session) -> str:
    response = _client_credentials(sf_http, sf_server.url)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def sf(sf_server: EmulatorServer, sf_token: str, sf_http: requests.Session) -> Salesforce:
    return Salesforce(instance_url=sf_server.url, session_id=sf_token, version=VERSION,
                      session=sf_http)


@pytest.fixture
def sf_api(sf_server: EmulatorServer, sf_token: str, sf_http: requests.Session):
    """Plain-requests access to /services/data/vXX.X/<path>."""
    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {sf_token}", **kwargs.pop("headers", {})}
        version = kwargs.pop("version", VERSION)
        return sf_http.request(method, f"{sf_server.url}/services/data/v{version}/{path}",
                               headers=headers, **kwargs)
    return call


def _lead(n: int | str, **fields: Any) -> dict[str, Any]:
    record = {"attributes": {"type": "Lead"}, "HubSpot_Contact_Id__c": str(n),
              "LastName": f"Last{n}", "Company": "Acme", "Email": f"lead{n}@example.com"}
    record.update(fields)
    return record


def _upsert(sf: Salesforce, records: list[dict[str, Any]], all_or_none: bool = False,
            path: str = UPSERT_PATH) -> list[dict[str, Any]]:
    return sf.restful(path, method="PATCH", json={"allOrNone": all_or_none, "records": records})


def _jwt(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    claims = {"iss": JWT_CLIENT_ID, "sub": JWT_USERNAME, "aud": "https://login.salesforce.com",
              "exp": str(int(time.time()) + 180)}  # a string, as simple-salesforce sends it
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256")


# --- OAuth --------------------------------------------------------------------------------

def test_client_credentials_token_has_salesforce_shape_without_expires_in(
        sf_server: EmulatorServer, sf_http: requests.Session) -> None:
    response = _client_credentials(sf_http, sf_server.url)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at",
                         "signature", "scope"}
    assert body["instance_url"] == sf_server.url
    assert body["token_type"] == "Bearer" and body["scope"] == "api"
    assert body["issued_at"].isdigit()


def test_client_credentials_accepts_http_basic_client_authentication(
        sf_server: EmulatorServer, sf_http: requests.Session) -> None:
    response = sf_http.post(f"{sf_server.url}/services/oauth2/token",
                            data={"grant_type": "client_credentials"},
                            auth=(CLIENT_ID, CLIENT_SECRET))
    assert response.status_code == 200
    assert response.json()["access_token"]


@pytest.mark.parametrize("form, error", [
    ({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"},
     ("invalid_client", "invalid client credentials")),
    ({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
     ("invalid_client_id", "client identifier invalid")),
    ({"grant_type": "client_credentials", "client_id": JWT_CLIENT_ID, "client_secret": "x"},
     ("invalid_grant", "no client credentials user enabled")),
    ({"grant_type": "password", "username": "u", "password": "p"},
     ("unsupported_grant_type", "grant type not supported")),
    ({}, ("unsupported_grant_type", "grant type not supported")),
])
def test_token_endpoint_errors_are_400_oauth_errors(
        sf_server: EmulatorServer, sf_http: requests.Session, form: dict[str, str],
        error: tuple[str, str]) -> None:
    response = sf_http.post(f"{sf_server.url}/services/oauth2/token", data=form)
    assert response.status_code == 400
    assert response.json() == {"error": error[0], "error_description": error[1]}


@pytest.mark.parametrize("audience", ["https://login.salesforce.com",
                                      "https://test.salesforce.com", "SERVER"])
def test_jwt_bearer_grant_issues_a_token_that_works(
        sf_server: EmulatorServer, sf_http: requests.Session, sf_rsa_key: rsa.RSAPrivateKey,
        audience: str) -> None:
    assertion = _jwt(sf_rsa_key, aud=sf_server.url if audience == "SERVER" else audience)
    response = sf_http.post(f"{sf_server.url}/services/oauth2/token",
                            data={"grant_type": JWT_BEARER, "assertion": assertion})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "expires_in" not in body and body["instance_url"] == sf_server.url
    sf = Salesforce(instance_url=body["instance_url"], session_id=body["access_token"],
                    version=VERSION, session=sf_http)
    assert sf.query(format_soql("SELECT Id, Name FROM User WHERE Username = {}",
                                JWT_USERNAME))["totalSize"] == 1


@pytest.mark.parametrize("case, error", [
    ("other key", ("invalid_grant", "invalid assertion")),
    ("expired", ("invalid_grant", "expired authorization code")),
    ("no exp", ("invalid_grant", "expired authorization code")),
    ("bad aud", ("invalid_grant", "audience is invalid")),
    ("unknown iss", ("invalid_client_id", "client identifier invalid")),
    ("wrong sub", ("invalid_grant", "user hasn't approved this consumer")),
    ("HS256", ("invalid_grant", "invalid assertion")),
    ("garbage", ("invalid_grant", "invalid assertion")),
    ("tampered", ("invalid_grant", "invalid assertion")),
])
def test_jwt_bearer_grant_rejects_bad_assertions(
        sf_server: EmulatorServer, sf_http: requests.Session, sf_rsa_key: rsa.RSAPrivateKey,
        case: str, error: tuple[str, str]) -> None:
    if case == "other key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assertion = _jwt(other)
    elif case == "expired":
        assertion = _jwt(sf_rsa_key, exp=int(time.time()) - 5)
    elif case == "no exp":
        assertion = _jwt(sf_rsa_key, exp=None)
    elif case == "bad aud":
        assertion = _jwt(sf_rsa_key, aud="https://evil.example.com")
    elif case == "unknown iss":
        assertion = _jwt(sf_rsa_key, iss="who-is-this")
    elif case == "wrong sub":
        assertion = _jwt(sf_rsa_key, sub="someone.else@acme.example")
    elif case == "HS256":
        assertion = jwt.encode({"iss": JWT_CLIENT_ID, "sub": JWT_USERNAME,
                                "aud": "https://login.salesforce.com",
                                "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256")
    elif case == "garbage":
        assertion = "not-a-jwt"
    else:
        head, _, sig = _jwt(sf_rsa_key).split(".")
        forged = jwt.utils.base64url_encode(
            b'{"iss":"%s","sub":"root@acme.example","aud":"https://login.salesforce.com",'
            b'"exp":"9999999999"}' % JWT_CLIENT_ID.encode()).decode()
        assertion = f"{head}.{forged}.{sig}"
    response = sf_http.post(f"{sf_server.url}/services/oauth2/token",
                            data={"grant_type": JWT_BEARER, "assertion": assertion})
    assert response.status_code == 400
    assert response.json() == {"error": error[0], "error_description": error[1]}


def test_jwt_expiry_is_checked_against_the_emulator_clock(
        sf_server: EmulatorServer, sf_http: requests.Session, sf_rsa_key: rsa.RSAPrivateKey,
        sf_clock: SfClock) -> None:
    sf_clock.advance(minutes=10)
    response = sf_http.post(f"{sf_server.url}/services/oauth2/token",
                            data={"grant_type": JWT_BEARER, "assertion": _jwt(sf_rsa_key)})
    assert response.json()["error_description"] == "expired authorization code"


# --- sessions and limits --------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc"])
def test_data_calls_without_a_valid_token_get_401_invalid_session_id(
        sf_server: EmulatorServer, sf_http: requests.Session, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = sf_http.get(f"{sf_server.url}/services/data/v{VERSION}/limits", headers=headers)
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid",
                                "errorCode": "INVALID_SESSION_ID"}]


def test_expire_sessions_makes_existing_tokens_fail_with_401(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    sf.query("SELECT Id FROM Lead")
    sf_emulator.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead")


def test_session_times_out_after_ttl_of_inactivity_on_the_emulator_clock(
        sf: Salesforce, sf_clock: SfClock) -> None:
    sf_clock.advance(seconds=7000)
    sf.query("SELECT Id FROM Lead")          # still alive, and the use extends it
    sf_clock.advance(seconds=7000)
    sf.query("SELECT Id FROM Lead")
    sf_clock.advance(seconds=7201)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead")


def test_every_data_response_carries_sforce_limit_info(
        sf: Salesforce, sf_api, sf_emulator: SalesforceEmulator) -> None:
    sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"].used == 1
    assert sf.api_usage["api-usage"].total == 100_000
    bad = sf_api("GET", "query", params={"q": "SELECT nope FROM Lead"})
    assert bad.status_code == 400
    assert bad.headers["Sforce-Limit-Info"] == "api-usage=2/100000"


def test_exceeding_the_daily_allocation_gives_403_request_limit_exceeded(
        sf: Salesforce, sf_api, sf_emulator: SalesforceEmulator) -> None:
    sf_emulator.set_api_limit(3)
    for _ in range(3):
        assert sf_api("GET", "limits").status_code == 200
    refused = sf_api("GET", "limits")
    assert refused.status_code == 403
    assert refused.json() == [{"message": "TotalRequests Limit exceeded.",
                               "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=3/3"


def test_api_usage_is_a_rolling_24_hour_window(sf_server: EmulatorServer,
                                               sf_http: requests.Session,
                                               sf_emulator: SalesforceEmulator,
                                               sf_clock: SfClock) -> None:
    def status() -> int:  # a fresh token each time: sessions time out after 2 h idle
        headers = {"Authorization": f"Bearer {sf_emulator.issue_token()}"}
        return sf_http.get(f"{sf_server.url}/services/data/v{VERSION}/limits",
                           headers=headers).status_code

    sf_emulator.set_api_limit(2)
    assert status() == 200
    sf_clock.advance(hours=12)
    assert [status(), status()] == [200, 403]
    sf_clock.advance(hours=12, seconds=1)  # the first call has left the window
    assert [status(), status()] == [200, 403]


def test_limits_resource_reports_daily_api_requests(sf: Salesforce,
                                                    sf_emulator: SalesforceEmulator) -> None:
    sf_emulator.set_api_limit(500)
    sf.query("SELECT Id FROM Lead")
    assert sf.limits()["DailyApiRequests"] == {"Max": 500, "Remaining": 498}


def test_versions_listing_needs_no_auth(sf_server: EmulatorServer,
                                        sf_http: requests.Session) -> None:
    versions = sf_http.get(f"{sf_server.url}/services/data/").json()
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    assert {"label": "Summer '19", "url": "/services/data/v46.0", "version": "46.0"} in versions


# --- describe -------------------------------------------------------------------------------

def test_describe_lead_reports_schema_attributes(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    ext = fields["HubSpot_Contact_Id__c"]
    assert (ext["type"], ext["length"], ext["externalId"], ext["unique"], ext["idLookup"]) \
        == ("string", 50, True, True, True)
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["createable"]
    assert fields["Company"]["length"] == 255
    source = fields["LeadSource"]
    assert source["restrictedPicklist"] is True
    assert [v["value"] for v in source["picklistValues"]][:3] == ["Web", "Phone Inquiry",
                                                                  "Partner Referral"]
    assert all(v["active"] for v in source["picklistValues"])
    opp = fields["ConvertedOpportunityId"]
    assert (opp["referenceTo"], opp["relationshipName"], opp["updateable"]) \
        == (["Opportunity"], "ConvertedOpportunity", False)
    assert fields["IsConverted"]["createable"] is False
    assert fields["Pain_Points__c"]["length"] == 32768
    contact = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert contact["HubSpot_Contact_Id__c"]["unique"] is False
    assert "Unqualified_Reason__c" not in contact


def test_describe_unknown_object_is_404_not_found(sf_api) -> None:
    response = sf_api("GET", "sobjects/Nope__c/describe")
    assert response.status_code == 404
    assert response.json() == [{"message": "The requested resource does not exist",
                                "errorCode": "NOT_FOUND"}]


def test_added_field_is_described_writable_and_queryable(
        sf_tls: TLSMaterial, sf_http: requests.Session) -> None:
    emulator = SalesforceEmulator()  # its own org: the shared one keeps the demo schema
    emulator.add_field("Lead", FieldDef("Score__c", "double", precision=5, scale=0))
    with EmulatorServer(emulator, tls=sf_tls) as server:
        sf = Salesforce(instance_url=server.url, session_id=emulator.issue_token(),
                        version=VERSION, session=sf_http)
        _check_added_field(sf)


def _check_added_field(sf: Salesforce) -> None:
    assert "Score__c" in [f["name"] for f in sf.Lead.describe()["fields"]]
    _upsert(sf, [_lead(1, Score__c=42)])
    assert sf.query("SELECT Score__c FROM Lead WHERE Score__c > 40")["records"][0]["Score__c"] \
        == 42.0


# --- query ----------------------------------------------------------------------------------

def _seed_leads(emulator: SalesforceEmulator, n: int) -> None:
    for i in range(n):
        emulator.insert("Lead", {"LastName": f"L{i:05d}", "Company": "Acme",
                                 "HubSpot_Contact_Id__c": str(i)})


def test_query_all_pages_through_more_than_2000_rows(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    _seed_leads(sf_emulator, 2500)
    first = sf.query("SELECT Id, LastName FROM Lead ORDER BY LastName")
    assert (first["totalSize"], first["done"], len(first["records"])) == (2500, False, 2000)
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (second["done"], len(second["records"])) == (True, 500)
    assert "nextRecordsUrl" not in second
    everything = sf.query_all("SELECT Id, LastName FROM Lead ORDER BY LastName")
    names = [r["LastName"] for r in everything["records"]]
    assert names == [f"L{i:05d}" for i in range(2500)]
    assert sf_emulator.requests.count(path_contains="/query/01g") == 2


def test_batch_size_header_sets_the_page_size_within_200_to_2000(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    _seed_leads(sf_emulator, 1000)
    sf_emulator.requests.clear()
    records = sf.query_all("SELECT Id FROM Lead",
                           headers={"Sforce-Query-Options": "batchSize=300"})["records"]
    assert len(records) == 1000 and len({r["Id"] for r in records}) == 1000
    assert sf_emulator.requests.count(method="GET", path_contains="/query") == 4
    small = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=10"})
    assert len(small["records"]) == 200


def test_query_more_with_an_unknown_locator_is_invalid_query_locator(sf_api) -> None:
    response = sf_api("GET", "query/01gDm0000000000AAA-2000")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_includes_deleted_rows_and_query_does_not(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    keep = sf_emulator.insert("Lead", {"LastName": "Keep", "Company": "Acme"})
    gone = sf_emulator.insert("Lead", {"LastName": "Gone", "Company": "Acme"})
    sf.Lead.delete(gone)
    assert [r["Id"] for r in sf.query("SELECT Id FROM Lead")["records"]] == [keep]
    rows = sf.query_all("SELECT Id, IsDeleted FROM Lead ORDER BY LastName",
                        include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(gone, True), (keep, False)]


def test_parent_relationship_fields_come_back_nested_or_null(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    converted = sf_emulator.insert("Lead", {"LastName": "Won", "Company": "Acme"})
    sf_emulator.insert("Lead", {"LastName": "Open", "Company": "Beta"})
    ids = sf_emulator.convert_lead(converted, opportunity={"StageName": "Closed Won",
                                                           "Amount": 5000})
    rows = sf.query("SELECT LastName, ConvertedOpportunity.StageName, "
                    "ConvertedOpportunity.Amount FROM Lead ORDER BY LastName")["records"]
    assert rows[0]["ConvertedOpportunity"] is None
    opp = rows[1]["ConvertedOpportunity"]
    assert (opp["StageName"], opp["Amount"]) == ("Closed Won", 5000.0)
    assert opp["attributes"] == {"type": "Opportunity",
                                 "url": f"/services/data/v{VERSION}/sobjects/Opportunity/"
                                        f"{ids['opportunity_id']}"}


@pytest.mark.parametrize("query, code, fragment", [
    ("SELECT Id, Bogus__c FROM Lead", "INVALID_FIELD", "No such column 'Bogus__c' on entity "
                                                       "'Lead'"),
    ("SELECT Id FROM Leed", "INVALID_TYPE", "sObject type 'Leed' is not supported"),
    ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY", "ERROR at Row:1"),
    ("SELECT Id FROM Lead WHERE Email = 'o'brien@example.com'", "MALFORMED_QUERY", ""),
    (r"SELECT Id FROM Lead WHERE Company = 'a\qb'", "MALFORMED_QUERY", ""),
    ("SELECT Id FROM Lead WHERE Company = '" + "x" * 4001 + "'", "MALFORMED_QUERY", "4000"),
])
def test_query_errors_are_400_with_salesforce_error_codes(sf_api, query: str, code: str,
                                                          fragment: str) -> None:
    response = sf_api("GET", "query", params={"q": query})
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == code
    assert fragment in error["message"]


def test_simple_salesforce_surfaces_malformed_query(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query("SELECT Id FROM Lead WHERE Company = 'unterminated")
    assert info.value.content[0]["errorCode"] == "MALFORMED_QUERY"


TRICKY = ["o'brien@example.com", "x\\' OR Email != \\'", "x' OR Company != '", "back\\slash",
          "quote\"d", "new\nline", "tab\tbed", "50% off", "under_score", "%", "_", "'", "\\",
          "\\'", "''", "emoji 🎉 ünïcödé"]


def test_format_soql_escaped_values_match_exactly_the_record_holding_them(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    ids = {value: sf_emulator.insert("Lead", {"LastName": "X", "Company": value})
           for value in TRICKY}
    for value, rid in ids.items():
        rows = sf.query(format_soql("SELECT Id, Company FROM Lead WHERE Company = {}", value))
        assert [(r["Id"], r["Company"]) for r in rows["records"]] == [(rid, value)], value
    email = sf_emulator.insert("Lead", {"LastName": "O", "Company": "c",
                                        "Email": "o'brien@example.com"})
    rows = sf.query(format_soql("SELECT Id FROM Lead WHERE Email = {}", "o'brien@example.com"))
    assert [r["Id"] for r in rows["records"]] == [email]


def test_unescaped_quote_never_widens_the_result_set(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    for value in TRICKY[:3]:
        sf_emulator.insert("Lead", {"LastName": "X", "Company": value})
    injected = "x' OR Company != '"
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Id FROM Lead WHERE Company = 'o'brien@example.com'")
    # Spliced in raw, this value closes the literal early: the query must not return everything.
    raw = sf.query(f"SELECT Id FROM Lead WHERE Company = '{injected}'")  # valid SOQL, sadly
    escaped = sf.query(format_soql("SELECT Id FROM Lead WHERE Company = {}", injected))
    assert escaped["totalSize"] == 1
    assert raw["totalSize"] == 3  # documents why format_soql is mandatory


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1,
                     max_size=60))
def test_any_value_formatted_with_format_soql_matches_exactly_its_records(
        sf: Salesforce, sf_emulator: SalesforceEmulator, value: str) -> None:
    rid = sf_emulator.insert("Lead", {"LastName": "P", "Company": "c",
                                      "HubSpot_Source_Detail__c": value})
    expected = {r["Id"] for r in sf_emulator.all("Lead")
                if (r["HubSpot_Source_Detail__c"] or "").casefold() == value.casefold()}
    assert rid in expected
    rows = sf.query_all(format_soql(
        "SELECT Id FROM Lead WHERE HubSpot_Source_Detail__c = {}", value))["records"]
    assert {r["Id"] for r in rows} == expected
    like = sf.query_all(format_soql(
        "SELECT Id FROM Lead WHERE HubSpot_Source_Detail__c LIKE '%{:like}%'", value))["records"]
    assert rid in {r["Id"] for r in like}
    assert all(value.casefold() in (sf_emulator.get("Lead", r["Id"])["HubSpot_Source_Detail__c"]
                                    or "").casefold() for r in like)


def test_datetime_filters_compare_instants(sf: Salesforce,
                                           sf_emulator: SalesforceEmulator) -> None:
    rid = sf_emulator.insert("Lead", {"LastName": "T", "Company": "c",
                                      "CreatedDate": "2024-01-31T10:00:00.000+0000"},
                             validate=False)
    assert sf.Lead.get(rid)["CreatedDate"] == "2024-01-31T10:00:00.000+0000"
    hit = sf.query("SELECT Id FROM Lead WHERE CreatedDate = 2024-01-31T11:00:00+01:00")
    assert hit["totalSize"] == 1
    miss = sf.query("SELECT Id FROM Lead WHERE CreatedDate > 2024-01-31T10:30:00+00:00")
    assert miss["totalSize"] == 0


def test_count_query(sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    _seed_leads(sf_emulator, 5)
    result = sf.query("SELECT COUNT() FROM Lead WHERE LastName != 'L00000'")
    assert (result["totalSize"], result["done"], result["records"]) == (4, True, [])


# --- sObject Collections: upsert ----------------------------------------------------------

def test_upsert_creates_then_updates_by_external_id_in_request_order(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    created = _upsert(sf, [_lead(1), _lead(2)])
    assert [(r["success"], r["created"], r["errors"]) for r in created] \
        == [(True, True, []), (True, True, [])]
    mixed = _upsert(sf, [_lead(3), _lead(1, Title="CTO")])
    assert [(r["created"], r["success"]) for r in mixed] == [(True, True), (False, True)]
    assert mixed[1]["id"] == created[0]["id"]
    assert sf_emulator.get("Lead", created[0]["id"])["Title"] == "CTO"
    assert len(sf_emulator.all("Lead")) == 3


def test_upsert_matches_text_external_ids_case_insensitively(sf: Salesforce) -> None:
    first = _upsert(sf, [_lead("AbC")])[0]
    again = _upsert(sf, [_lead("aBc", Title="x")])[0]
    assert (again["created"], again["id"]) == (False, first["id"])


def test_upsert_of_12000_leads_takes_60_calls(sf: Salesforce,
                                              sf_emulator: SalesforceEmulator) -> None:
    started = time.monotonic()
    for batch in range(60):
        results = _upsert(sf, [_lead(batch * 200 + i) for i in range(200)])
        assert all(r["success"] for r in results)
    assert sf_emulator.requests.count(method="PATCH", path_contains=UPSERT_PATH) == 60
    assert len(sf_emulator.all("Lead")) == 12_000
    found = sf.query(format_soql("SELECT Id FROM Lead WHERE HubSpot_Contact_Id__c IN {}",
                                 ["17", "11999"]))
    assert found["totalSize"] == 2
    assert time.monotonic() - started < 20


def test_upsert_with_more_than_200_records_is_rejected_whole(sf_api,
                                                             sf_emulator: SalesforceEmulator
                                                             ) -> None:
    response = sf_api("PATCH", UPSERT_PATH,
                      json={"allOrNone": False, "records": [_lead(i) for i in range(201)]})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert sf_emulator.all("Lead") == []


@pytest.mark.parametrize("field", ["Company", "UTM_Source__c", "Nope__c"])
def test_upsert_on_a_field_that_is_not_an_external_id_is_400(sf_api, field: str) -> None:
    response = sf_api("PATCH", f"composite/sobjects/Lead/{field}",
                      json={"records": [_lead(1)]})
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == "INVALID_FIELD"
    assert "is not an External ID or indexed field for Lead" in error["message"]


def test_collections_upsert_needs_api_version_46(sf_api) -> None:
    assert sf_api("PATCH", UPSERT_PATH, version="45.0",
                  json={"records": [_lead(1)]}).status_code == 404
    assert sf_api("PATCH", UPSERT_PATH, version="46.0",
                  json={"records": [_lead(1)]}).status_code == 200


def test_upsert_reports_duplicate_external_id_when_several_records_match(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    first = sf_emulator.insert("Contact", {"LastName": "A", "HubSpot_Contact_Id__c": "42"})
    second = sf_emulator.insert("Contact", {"LastName": "B", "HubSpot_Contact_Id__c": "42"})
    [result] = _upsert(sf, [{"attributes": {"type": "Contact"}, "HubSpot_Contact_Id__c": "42",
                             "LastName": "C"}],
                       path="composite/sobjects/Contact/HubSpot_Contact_Id__c")
    assert result["success"] is False and result["id"] is None
    [error] = result["errors"]
    assert error["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    assert first in error["message"] and second in error["message"]


def test_upsert_reports_duplicate_external_ids_inside_one_request(sf: Salesforce) -> None:
    results = _upsert(sf, [_lead(7), _lead(8), _lead(7, Email="other@example.com")])
    assert [r["success"] for r in results] == [False, True, False]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"


def test_upsert_by_email_id_lookup_field(sf: Salesforce) -> None:
    first = _upsert(sf, [_lead(1)])[0]
    result = _upsert(sf, [{"attributes": {"type": "Lead"}, "Email": "LEAD1@example.com",
                           "Title": "VP"}], path="composite/sobjects/Lead/Email")[0]
    assert (result["created"], result["id"]) == (False, first["id"])


def test_upsert_record_without_the_external_id_value_fails_alone(sf: Salesforce) -> None:
    record = _lead(1)
    del record["HubSpot_Contact_Id__c"]
    results = _upsert(sf, [record, _lead(2)])
    assert results[0]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert results[1]["success"] is True


def test_all_or_none_rolls_back_every_record_when_one_fails(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    existing = _upsert(sf, [_lead(1)])[0]["id"]
    before = sf_emulator.get("Lead", existing)
    results = _upsert(sf, [_lead(1, Title="changed"), _lead(2), _lead(3, LastName=None)],
                      all_or_none=True)
    assert [r["success"] for r in results] == [False, False, False]
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK", "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING"]
    assert [r["created"] for r in results] == [False, False, False]
    assert sf_emulator.get("Lead", existing) == before
    assert len(sf_emulator.all("Lead")) == 1
    assert sf.query("SELECT Id FROM Lead WHERE HubSpot_Contact_Id__c = '2'")["totalSize"] == 0
    again = _upsert(sf, [_lead(2)])[0]  # the index was rolled back too
    assert again["created"] is True


def test_without_all_or_none_good_records_are_saved_and_bad_ones_reported(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    results = _upsert(sf, [_lead(1), _lead(2, Email="not-an-email"), _lead(3)])
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["id"] is None
    assert results[1]["errors"] == [{"statusCode": "INVALID_EMAIL_ADDRESS",
                                     "message": "Email: invalid email address: not-an-email",
                                     "fields": ["Email"]}]
    assert len(sf_emulator.all("Lead")) == 2


# --- per-record validation ----------------------------------------------------------------

@pytest.mark.parametrize("fields, code, field_names, message", [
    ({"LastName": None, "Company": None}, "REQUIRED_FIELD_MISSING", ["LastName", "Company"],
     "Required fields are missing: [LastName, Company]"),
    ({"Company": "A" * 256}, "STRING_TOO_LONG", ["Company"],
     "Company: data value too large: " + "A" * 77 + "... (max length=255)"),
    ({"HubSpot_Contact_Id__c": "9" * 51}, "STRING_TOO_LONG", ["HubSpot_Contact_Id__c"], None),
    ({"Email": "nobody@"}, "INVALID_EMAIL_ADDRESS", ["Email"], None),
    ({"Email": "two@@example.com"}, "INVALID_EMAIL_ADDRESS", ["Email"], None),
    ({"LeadSource": "Carrier Pigeon"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
     ["LeadSource"], "Lead Source: bad value for restricted picklist field: Carrier Pigeon"),
    ({"Status": "Maybe"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"], None),
    ({"IsConverted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsConverted"], None),
    ({"ConvertedDate": "2024-01-01"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["ConvertedDate"],
     None),
    ({"Conversion_Count__c": 1e19}, "NUMBER_OUTSIDE_VALID_RANGE", ["Conversion_Count__c"],
     None),
    ({"OwnerId": "bogus"}, "MALFORMED_ID", ["OwnerId"], None),
    ({"OwnerId": make_id("00Q", 9)}, "FIELD_INTEGRITY_EXCEPTION", ["OwnerId"], None),
    ({"OwnerId": make_id("005", 99999)}, "INVALID_CROSS_REFERENCE_KEY", ["OwnerId"], None),
])
def test_per_record_validation_errors(sf: Salesforce, fields: dict[str, Any], code: str,
                                      field_names: list[str], message: str | None) -> None:
    [result] = _upsert(sf, [_lead(1, **fields)])
    assert result["success"] is False and result["created"] is False
    [error] = result["errors"]
    assert (error["statusCode"], error["fields"]) == (code, field_names)
    if message is not None:
        assert error["message"] == message


def test_valid_values_pass_validation(sf: Salesforce) -> None:
    [result] = _upsert(sf, [_lead(1, Email="o'brien+tag@sub.example.co.uk", LeadSource="Web",
                                  Unqualified_Reason__c="No Budget", Industry="Not In List",
                                  Company="A" * 255, Conversion_Count__c="3",
                                  NumberOfEmployees=12.0, Description="d" * 32000)])
    assert result["success"] is True, result


def test_lead_restricted_picklist_accepts_every_documented_value(sf: Salesforce) -> None:
    sources = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Advertisement",
               "Email", "Social Media", "Search", "Event", "Other"]
    results = _upsert(sf, [_lead(i, LeadSource=s) for i, s in enumerate(sources)])
    assert all(r["success"] for r in results)


def test_unique_field_rejects_duplicates_with_duplicate_value(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    first = sf_emulator.insert("Lead", {"LastName": "A", "Company": "c",
                                        "HubSpot_Contact_Id__c": "u1"})
    results = sf.restful("composite/sobjects", method="POST", json={"records": [
        _lead("U1"), _lead("u2")]})
    assert results[0]["errors"] == [{
        "statusCode": "DUPLICATE_VALUE",
        "message": f"duplicate value found: HubSpot_Contact_Id__c duplicates value on record "
                   f"with id: {first}",
        "fields": ["HubSpot_Contact_Id__c"]}]
    assert results[1]["success"] is True


def test_unknown_field_fails_the_whole_request_with_invalid_field(
        sf_api, sf_emulator: SalesforceEmulator) -> None:
    response = sf_api("PATCH", UPSERT_PATH, json={"records": [_lead(1), _lead(2, Nope__c=1)]})
    assert response.status_code == 400
    assert response.json() == [{"message": "No such column 'Nope__c' on sobject of type Lead",
                                "errorCode": "INVALID_FIELD"}]
    assert sf_emulator.all("Lead") == []


@pytest.mark.parametrize("field, value", [
    ("Page_Views__c", "many"), ("NumberOfEmployees", 1.5), ("NumberOfEmployees", True),
    ("Company", ["a"]), ("Company", {"a": 1}),
])
def test_values_of_the_wrong_json_type_are_json_parser_errors(sf_api, field: str,
                                                              value: Any) -> None:
    response = sf_api("PATCH", UPSERT_PATH, json={"records": [_lead(1, **{field: value})]})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_dates_and_booleans_are_type_checked(sf: Salesforce,
                                             sf_emulator: SalesforceEmulator) -> None:
    opp = {"attributes": {"type": "Opportunity"}, "Name": "o", "StageName": "Prospecting",
           "CloseDate": "2024-02-30"}
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.restful("composite/sobjects", method="POST", json={"records": [opp]})
    assert info.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    lead = sf_emulator.insert("Lead", {"LastName": "x", "Company": "c"})
    with pytest.raises(SalesforceMalformedRequest):
        sf.Lead.update(lead, {"IsDeleted": "perhaps"})


def test_malformed_json_body_is_json_parser_error(sf_api) -> None:
    response = sf_api("PATCH", UPSERT_PATH, data="{not json",
                      headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_records_without_a_type_attribute_are_rejected(sf_api) -> None:
    response = sf_api("POST", "composite/sobjects", json={"records": [{"LastName": "x"}]})
    assert response.status_code == 400
    assert response.json()[0] == {"message": "Must send a concrete entity type.",
                                  "errorCode": "INVALID_TYPE"}


# --- converted leads ------------------------------------------------------------------------

def test_converted_lead_cannot_be_updated_by_any_route(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    lead_id = _upsert(sf, [_lead(1)])[0]["id"]
    sf_emulator.convert_lead(lead_id)
    expected = [{"statusCode": "CANNOT_UPDATE_CONVERTED_LEAD",
                 "message": "cannot reference converted lead", "fields": []}]
    assert _upsert(sf, [_lead(1, Title="x")])[0]["errors"] == expected
    update = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Lead"}, "Id": lead_id, "Title": "x"}]})
    assert update[0]["errors"] == expected and update[0]["id"] == lead_id
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Lead.update(lead_id, {"Title": "x"})
    assert info.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    with pytest.raises(SalesforceEmulatorError) as control:
        sf_emulator.update("Lead", lead_id, {"Title": "x"})
    assert control.value.status_code == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert sf_emulator.get("Lead", lead_id)["Title"] is None


def test_convert_lead_creates_account_contact_and_opportunity(
        sf: Salesforce, sf_emulator: SalesforceEmulator, sf_clock: SfClock) -> None:
    lead_id = _upsert(sf, [_lead(1, FirstName="Ada", Title="CTO", LeadSource="Web",
                                 UTM_Source__c="google", Unqualified_Reason__c="Other")])[0]["id"]
    sf_clock.advance(days=3)
    ids = sf_emulator.convert_lead(lead_id, opportunity={"Amount": 1200,
                                                         "StageName": "Prospecting"})
    lead = sf_emulator.get("Lead", lead_id)
    assert (lead["IsConverted"], lead["Status"]) == (True, "Closed - Converted")
    assert lead["ConvertedDate"] == sf_clock().date().isoformat()
    assert (lead["ConvertedAccountId"], lead["ConvertedContactId"],
            lead["ConvertedOpportunityId"]) == (ids["account_id"], ids["contact_id"],
                                                ids["opportunity_id"])
    assert lead["SystemModstamp"] > lead["CreatedDate"]
    assert sf_emulator.get("Account", ids["account_id"])["Name"] == "Acme"
    contact = sf_emulator.get("Contact", ids["contact_id"])
    assert (contact["FirstName"], contact["LastName"], contact["Title"], contact["Email"],
            contact["UTM_Source__c"], contact["HubSpot_Contact_Id__c"], contact["AccountId"]) \
        == ("Ada", "Last1", "CTO", "lead1@example.com", "google", "1", ids["account_id"])
    opp = sf_emulator.get("Opportunity", ids["opportunity_id"])
    assert (opp["Amount"], opp["StageName"], opp["AccountId"], opp["LeadSource"]) \
        == (1200.0, "Prospecting", ids["account_id"], "Web")
    with pytest.raises(SalesforceEmulatorError):
        sf_emulator.convert_lead(lead_id)
    no_opp = sf_emulator.convert_lead(sf_emulator.insert("Lead", {"LastName": "B",
                                                                  "Company": "Beta"}))
    assert no_opp["opportunity_id"] is None


def test_opportunity_is_closed_and_is_won_follow_stage_name(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    opp = sf.Opportunity.create({"Name": "Deal", "StageName": "Negotiation/Review",
                                 "CloseDate": "2024-03-01"})["id"]
    row = sf.Opportunity.get(opp)
    assert (row["IsClosed"], row["IsWon"], row["Probability"]) == (False, False, 90.0)
    sf_emulator.update("Opportunity", opp, {"StageName": "Closed Won"})
    row = sf.Opportunity.get(opp)
    assert (row["IsClosed"], row["IsWon"], row["Probability"]) == (True, True, 100.0)
    sf.Opportunity.update(opp, {"StageName": "Closed Lost", "Loss_Reason__c": "Price"})
    won = sf.query("SELECT Id FROM Opportunity WHERE IsWon = true")["totalSize"]
    closed = sf.query("SELECT Id, Loss_Reason__c FROM Opportunity WHERE IsClosed = true")
    assert (won, closed["records"][0]["Loss_Reason__c"]) == (0, "Price")
    [bad] = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Opportunity"}, "Name": "x", "StageName": "Won-ish",
         "CloseDate": "2024-01-01"}]})
    assert bad["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


# --- collections: create / update / delete ------------------------------------------------

def test_collection_create_update_and_delete(sf: Salesforce,
                                             sf_emulator: SalesforceEmulator) -> None:
    created = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False,
                         "records": [_lead(1), {"attributes": {"type": "Account"},
                                                "Name": "Acme"}]})
    assert [r["success"] for r in created] == [True, True]
    lead_id, account_id = created[0]["id"], created[1]["id"]
    assert lead_id.startswith("00Q") and account_id.startswith("001")
    updated = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Lead"}, "Id": lead_id, "Title": "CEO"},
        {"attributes": {"type": "Account"}, "Id": account_id[:15], "Name": "Acme Inc"}]})
    assert updated == [{"id": lead_id, "success": True, "errors": []},
                       {"id": account_id, "success": True, "errors": []}]
    assert sf_emulator.get("Account", account_id)["Name"] == "Acme Inc"
    deleted = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": f"{lead_id},{account_id}"})
    assert [r["success"] for r in deleted] == [True, True]
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": lead_id})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_collection_update_per_record_id_errors(sf: Salesforce,
                                                sf_emulator: SalesforceEmulator) -> None:
    live = sf_emulator.insert("Lead", {"LastName": "a", "Company": "c"})
    dead = sf_emulator.insert("Lead", {"LastName": "b", "Company": "c"})
    sf_emulator.delete("Lead", dead)
    contact = sf_emulator.insert("Contact", {"LastName": "c"})
    missing = "00QDm000000ZZZZ"
    missing = missing + id_checksum(missing)

    def rec(rid: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": "Lead"}, "Title": "t"}
        if rid is not None:
            out["Id"] = rid
        return out

    results = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        rec(live), rec("bogus"), rec(dead), rec(missing), rec(None), rec(contact)]})
    assert [r["errors"][0]["statusCode"] if r["errors"] else "OK" for r in results] == [
        "OK", "MALFORMED_ID", "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY",
        "MISSING_ARGUMENT", "MALFORMED_ID"]


def test_collection_limits_are_200_records(sf_api) -> None:
    create = sf_api("POST", "composite/sobjects", json={"records": [_lead(i)
                                                                     for i in range(201)]})
    assert (create.status_code, create.json()[0]["errorCode"]) == (400, "EXCEEDED_ID_LIMIT")
    delete = sf_api("DELETE", "composite/sobjects",
                    params={"ids": ",".join(["00QDm0000000001AAA"] * 201)})
    assert (delete.status_code, delete.json()[0]["errorCode"]) == (400, "EXCEEDED_ID_LIMIT")


def test_collection_create_rejects_ids_and_rolls_back_with_all_or_none(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True,
                         "records": [_lead(1), _lead(2, Id=make_id("00Q", 1))]})
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK", "INVALID_FIELD_FOR_INSERT_UPDATE"]
    assert [r["id"] for r in results] == [None, None]
    assert sf_emulator.all("Lead") == []


# --- single records -----------------------------------------------------------------------

def test_single_record_crud_through_simple_salesforce(sf: Salesforce,
                                                      sf_emulator: SalesforceEmulator,
                                                      sf_clock: SfClock) -> None:
    result = sf.Lead.create({"LastName": "Lovelace", "FirstName": "Ada", "Company": "AE"})
    assert result == {"id": result["id"], "success": True, "errors": []}
    lead_id = result["id"]
    row = sf.Lead.get(lead_id)
    assert row["attributes"] == {"type": "Lead",
                                 "url": f"/services/data/v{VERSION}/sobjects/Lead/{lead_id}"}
    assert (row["Name"], row["Status"], row["IsConverted"], row["IsDeleted"]) \
        == ("Ada Lovelace", "Open - Not Contacted", False, False)
    assert row["CreatedDate"] == row["LastModifiedDate"] == row["SystemModstamp"]
    assert row["OwnerId"].startswith("005")
    sf_clock.advance(seconds=61)
    assert sf.Lead.update(lead_id, {"Title": "Countess"}) == 204
    after = sf.Lead.get(lead_id)
    assert after["Title"] == "Countess"
    assert after["SystemModstamp"] > row["SystemModstamp"]
    assert after["LastModifiedDate"] == after["SystemModstamp"]
    assert after["CreatedDate"] == row["CreatedDate"]
    assert sf.Lead.get(lead_id[:15])["Id"] == lead_id
    assert sf.Lead.delete(lead_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Lead.get(lead_id)
    assert gone.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as never:
        sf.Lead.get(make_id("00Q", 99999))
    assert never.value.content[0]["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Lead.delete(lead_id)
    assert info.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_single_create_error_is_a_400_error_list(sf_api) -> None:
    response = sf_api("POST", "sobjects/Lead", json={"LastName": "x"})
    assert response.status_code == 400
    assert response.json() == [{"message": "Required fields are missing: [Company]",
                                "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Company"]}]


def test_single_upsert_and_get_by_external_id(sf: Salesforce) -> None:
    first = sf.Lead.upsert("HubSpot_Contact_Id__c/a%2Fb", {"LastName": "x", "Company": "c"})
    assert first == 201
    assert sf.Lead.upsert("HubSpot_Contact_Id__c/a%2Fb", {"Title": "t"}) == 200
    row = sf.Lead.get_by_custom_id("HubSpot_Contact_Id__c", "a/b")  # quotes it itself
    assert (row["HubSpot_Contact_Id__c"], row["Title"]) == ("a/b", "t")


def test_ids_are_18_characters_with_prefix_and_valid_checksum(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    ids = {
        "Lead": sf.Lead.create({"LastName": "x", "Company": "c"})["id"],
        "Contact": sf.Contact.create({"LastName": "x"})["id"],
        "Account": sf.Account.create({"Name": "x"})["id"],
        "Opportunity": sf.Opportunity.create({"Name": "x", "StageName": "Prospecting",
                                              "CloseDate": "2024-01-01"})["id"],
    }
    prefixes = {"Lead": "00Q", "Contact": "003", "Account": "001", "Opportunity": "006"}
    for sobject, rid in ids.items():
        assert len(rid) == 18 and rid.startswith(prefixes[sobject])
        assert rid[15:] == id_checksum(rid[:15])
    assert sf_emulator.default_user_id.startswith("005")


# --- control API --------------------------------------------------------------------------

def test_request_log_counts_api_calls(sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    sf_emulator.requests.clear()
    _upsert(sf, [_lead(i) for i in range(200)])
    _upsert(sf, [_lead(i) for i in range(200, 250)])
    sf.query("SELECT Id FROM Lead")
    assert sf_emulator.requests.count(method="PATCH", path_contains="composite/sobjects") == 2
    assert sf_emulator.requests.count(status=200) == 3
    assert sf_emulator.api_usage == 3


def test_injected_faults_answer_the_next_matching_requests(
        sf: Salesforce, sf_api, sf_emulator: SalesforceEmulator) -> None:
    lock_error = [{"message": "unable to obtain exclusive access to this record",
                   "errorCode": "UNABLE_TO_LOCK_ROW"}]
    sf_emulator.inject_fault("PATCH", "composite/sobjects", 400, lock_error)
    sf_emulator.inject_fault(None, "/query", 503, "Service Unavailable", times=2,
                             headers={"Retry-After": "1"})
    first = sf_api("PATCH", UPSERT_PATH, json={"records": [_lead(1)]})
    assert (first.status_code, first.json()) == (400, lock_error)
    assert sf_api("PATCH", UPSERT_PATH, json={"records": [_lead(1)]}).status_code == 200
    for _ in range(2):
        busy = sf_api("GET", "query", params={"q": "SELECT Id FROM Lead"})
        assert (busy.status_code, busy.headers["Retry-After"]) == (503, "1")
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 1
    assert sf_emulator.requests.count(status=503) == 2


def test_reset_clears_data_tokens_and_the_request_log(
        sf: Salesforce, sf_emulator: SalesforceEmulator) -> None:
    _upsert(sf, [_lead(1)])
    sf_emulator.reset()
    assert sf_emulator.all("Lead") == [] and len(sf_emulator.requests.entries()) == 0
    assert sf_emulator.api_usage == 0
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead")


def test_control_api_validates_like_the_api(sf_emulator: SalesforceEmulator) -> None:
    with pytest.raises(SalesforceEmulatorError) as info:
        sf_emulator.insert("Lead", {"LastName": "x"})
    assert info.value.errors[0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceEmulatorError):
        sf_emulator.insert("Lead", {"LastName": "x", "Company": "c", "Nope": 1})
    rid = sf_emulator.insert("Lead", {"LastName": "x", "Company": "c", "IsConverted": True},
                             validate=False)
    assert sf_emulator.get("Lead", rid)["IsConverted"] is True
    assert sf_emulator.find("Lead", company="C")[0]["Id"] == rid


def test_control_endpoints_over_http(sf_server: EmulatorServer, sf_http: requests.Session,
                                     sf_emulator: SalesforceEmulator) -> None:
    base = f"{sf_server.url}/__emulator"
    created = sf_http.post(f"{base}/sobjects/Lead", json={"LastName": "Http", "Company": "c",
                                                          "HubSpot_Contact_Id__c": "h1"})
    assert created.status_code == 201
    lead_id = created.json()["id"]
    assert sf_http.get(f"{base}/sobjects/Lead/{lead_id}").json()["LastName"] == "Http"
    assert sf_http.patch(f"{base}/sobjects/Lead/{lead_id}",
                         json={"Title": "T"}).status_code == 204
    bad = sf_http.post(f"{base}/sobjects/Lead", json={"LastName": "x"})
    assert (bad.status_code, bad.json()[0]["errorCode"]) == (400, "REQUIRED_FIELD_MISSING")
    converted = sf_http.post(f"{base}/leads/{lead_id}/convert",
                             json={"opportunity": {"StageName": "Closed Won"}}).json()
    assert converted["opportunity_id"].startswith("006")
    assert sf_http.get(f"{base}/sobjects/Opportunity").json()[0]["IsWon"] is True
    token = sf_http.post(f"{base}/tokens", json={}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    query_url = f"{sf_server.url}/services/data/v{VERSION}/query"
    assert sf_http.get(query_url, params={"q": "SELECT Id FROM Lead"},
                       headers=auth).status_code == 200
    assert sf_http.post(f"{base}/faults", json={"method": "GET", "path_contains": "/query",
                                                "status": 503, "body": "down"}
                        ).status_code == 204
    assert sf_http.get(query_url, params={"q": "SELECT Id FROM Lead"},
                       headers=auth).status_code == 503
    assert sf_http.post(f"{base}/api-limit", json={"limit": 1}).json()["usage"] == 1
    assert sf_http.get(query_url, params={"q": "SELECT Id FROM Lead"},
                       headers=auth).status_code == 403
    assert sf_http.post(f"{base}/expire-sessions").status_code == 204
    assert sf_http.get(query_url, params={"q": "SELECT Id FROM Lead"},
                       headers=auth).status_code == 401
    log = sf_http.get(f"{base}/requests").json()
    assert [e["status"] for e in log] == [200, 503, 403, 401]
    assert all(not e["path"].startswith("/__emulator") for e in log)
    assert sf_http.post(f"{base}/reset").status_code == 204
    assert sf_http.get(f"{base}/sobjects/Lead").json() == []
    assert sf_http.get(f"{base}/requests").json() == []
    assert sf_emulator.api_limit == 100_000


def test_concurrent_upserts_from_several_threads_are_all_applied(
        sf_server: EmulatorServer, sf_token: str, sf_tls: TLSMaterial,
        sf_emulator: SalesforceEmulator) -> None:
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            with requests.Session() as http:
                http.trust_env = False
                http.verify = str(sf_tls.ca_path)
                client = Salesforce(instance_url=sf_server.url, session_id=sf_token,
                                    version=VERSION, session=http)
                for batch in range(3):
                    start = offset * 1000 + batch * 100
                    results = _upsert(client, [_lead(start + i) for i in range(100)])
                    assert all(r["success"] for r in results)
        except BaseException as e:  # noqa: BLE001 - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(sf_emulator.all("Lead")) == 1200
    assert sf_emulator.api_usage == 12


def test_unknown_paths_and_methods(sf_api) -> None:
    assert sf_api("GET", "nope").status_code == 404
    response = sf_api("PUT", f"sobjects/Lead/{make_id('00Q', 1)}", json={})
    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


def test_a_request_uri_over_16kb_is_refused_with_414(sf_server, sf_emulator, sf_http):
    token = sf_emulator.issue_token()
    headers = {"Authorization": f"Bearer {token}"}
    emails = ",".join(f"'{'x' * 60}{i}@example.com'" for i in range(300))
    response = sf_http.get(f"{sf_server.url}/services/data/v62.0/query", headers=headers,
                           params={"q": f"SELECT Id FROM Lead WHERE Email IN ({emails})"})
    assert response.status_code == 414 and response.json()[0]["errorCode"] == "URI_TOO_LONG"
    short = sf_http.get(f"{sf_server.url}/services/data/v62.0/query", headers=headers,
                        params={"q": "SELECT Id FROM Lead WHERE Email IN ('a@example.com')"})
    assert short.status_code == 200
