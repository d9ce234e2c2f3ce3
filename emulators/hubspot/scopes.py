"""Private-app scopes: which scope each endpoint needs, HubSpot's 403 ``MISSING_SCOPES`` answer,
and the access-token introspection endpoint for private apps.

A private app's token carries the scopes an admin ticked in its settings. A call whose endpoint
needs a scope the token lacks is answered 403 with category ``MISSING_SCOPES``; the body names
the scopes in ``errors[].context.requiredGranularScopes`` (HubSpot's shape, as its SDK issues
report it). ``POST /oauth/v2/private-apps/get/access-token-info`` with ``{"tokenKey": token}``
answers ``{userId, hubId, appId, scopes}``; it needs no scope (the documented way to list a
private app's scopes). An unknown ``tokenKey`` is answered 401 like any refused token.
"""

from __future__ import annotations

import re

from werkzeug.wrappers import Response

from emulators.hubspot.errors import AUTH_MESSAGE, error_response, json_response

CONTACTS_READ = "crm.objects.contacts.read"
CONTACTS_WRITE = "crm.objects.contacts.write"
SCHEMAS_READ = "crm.schemas.contacts.read"
SCHEMAS_WRITE = "crm.schemas.contacts.write"
# What a token has unless a test says otherwise: every scope the emulated endpoints need.
ALL_SCOPES = frozenset({"oauth", CONTACTS_READ, CONTACTS_WRITE, SCHEMAS_READ, SCHEMAS_WRITE})

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
MISSING_MESSAGE = ("This app hasn't been granted all required scopes to make this call. Read more about required "
                   "scopes here: https://developers.hubspot.com/scopes.")

_OBJECTS = re.compile(r"/crm/v3/objects/(?:contacts|0-1)(?:/.*)?")
_PROPERTIES = re.compile(r"/crm/v3/properties/(?:contacts|0-1)(?:/.*)?")
_READS = re.compile(r".*/(?:search|batch/read)")


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs (None: an endpoint the emulator does not scope)."""
    path = path.rstrip("/")
    reading = method == "GET" or (method == "POST" and _READS.fullmatch(path) is not None)
    if _OBJECTS.fullmatch(path):
        return CONTACTS_READ if reading else CONTACTS_WRITE
    if _PROPERTIES.fullmatch(path):
        return SCHEMAS_READ if reading else SCHEMAS_WRITE
    return None


def missing_scopes(scope: str) -> Response:
    return error_response(403, MISSING_MESSAGE, "MISSING_SCOPES",
                          errors=[{"message": "One or more of the following scopes are required.",
                                   "context": {"requiredGranularScopes": [scope]}}],
                          links={"scopes": "https://developers.hubspot.com/scopes"})


def token_info(token: str | None, scopes: frozenset[str] | None, *, hub_id: int, app_id: int) -> Response:
    """The introspection answer for ``token`` (``scopes`` None: not a valid token)."""
    if not token or scopes is None:
        return error_response(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
    return json_response(200, {"userId": 1000001, "hubId": hub_id, "appId": app_id, "scopes": sorted(scopes)})
