"""The private app's scopes: what syncd's calls need, and what the token carries.

HubSpot lists a private app token's scopes at ``POST /oauth/v2/private-apps/get/access-token-info``
(body ``{"tokenKey": token}``; the call itself needs no scope), so one call says every scope that
is missing, instead of a probe per endpoint. The call goes through the client like every other:
limiter, error table (a refused token is ``AuthenticationFailed``), retry policy.
"""

from __future__ import annotations

from connectors.hubspot.client import HubSpotClient

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"

# The scope each of syncd's HubSpot calls needs, and which calls (README "Set up HubSpot once").
CONTACTS_READ = "crm.objects.contacts.read"      # search, batch read, the recycle bin: the forward leg
CONTACTS_WRITE = "crm.objects.contacts.write"    # batch update: the back leg writes outcomes
SCHEMAS_READ = "crm.schemas.contacts.read"       # the properties API: mapping check, back leg's check
SCHEMAS_WRITE = "crm.schemas.contacts.write"     # create properties: `syncd setup hubspot` only

NEEDED_BY = {
    CONTACTS_READ: "reading contacts (the forward leg)",
    SCHEMAS_READ: "reading contact properties (the mapping check)",
    CONTACTS_WRITE: "writing Sales outcomes to contacts (the back leg)",
    SCHEMAS_WRITE: "creating the feedback properties (`syncd setup hubspot`)",
}


def needed_scopes(*, back_leg: bool) -> tuple[list[str], list[str]]:
    """The scopes every run needs, and those only `setup hubspot` needs (a warning when missing)."""
    needed = [CONTACTS_READ, SCHEMAS_READ] + ([CONTACTS_WRITE] if back_leg else [])
    return needed, [SCHEMAS_WRITE] if back_leg else []


def token_scopes(client: HubSpotClient) -> list[str]:
    """The scopes the client's token carries (one call; a refused token raises AuthenticationFailed)."""
    api = client.sdk.crm.properties.core_api.api_client
    body = client.call("read the token's scopes", lambda: api.call_api(
        TOKEN_INFO_PATH, "POST", header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body={"tokenKey": client.sdk.access_token}, auth_settings=["oauth2"], _preload_content=False,
        _request_timeout=client.timeout), lists=("scopes",))
    return [str(scope) for scope in body["scopes"]]
