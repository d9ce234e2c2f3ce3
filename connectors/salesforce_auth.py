"""Salesforce OAuth 2.0 server-to-server flows: client credentials and JWT bearer.

Both post to ``<login_url>/services/oauth2/token`` (a My Domain or sandbox login URL works).
Salesforce does not say when a token expires; the connector re-authenticates when a call
answers 401 INVALID_SESSION_ID.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import jwt
import requests

from syncd.core.errors import AuthenticationFailed, RemoteUnavailable

SYSTEM = "Salesforce"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str

    def __repr__(self) -> str:  # never print the token
        return f"Token(instance_url={self.instance_url!r}, access_token='***')"


def jwt_audience(login_url: str) -> str:
    """The `aud` claim Salesforce expects: the login server, test.salesforce.com for sandboxes."""
    host = login_url.lower()
    if "test.salesforce.com" in host or ".sandbox." in host:
        return "https://test.salesforce.com"
    return "https://login.salesforce.com"


@dataclass
class SalesforceAuth:
    login_url: str
    flow: Literal["client_credentials", "jwt_bearer"]
    client_id: str
    session: requests.Session
    client_secret: str | None = None
    username: str | None = None
    private_key: str | None = None   # PEM text

    def _assertion(self) -> str:
        claims = {"iss": self.client_id, "sub": self.username, "aud": jwt_audience(self.login_url),
                  "exp": int(time.time()) + 180}
        return jwt.encode(claims, self.private_key, algorithm="RS256")

    def fetch_token(self) -> Token:
        if self.flow == "client_credentials":
            data = {"grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self.client_secret or ""}
        else:
            data = {"grant_type": JWT_GRANT, "assertion": self._assertion()}
        url = self.login_url.rstrip("/") + "/services/oauth2/token"
        try:
            response = self.session.post(url, data=data, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise RemoteUnavailable(SYSTEM, f"cannot reach the login server {self.login_url}: "
                                            f"{type(exc).__name__}") from None
        if response.status_code >= 500:
            raise RemoteUnavailable(SYSTEM, "the login server failed", status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            error = body.get("error", "unknown_error")
            description = body.get("error_description", "no description")
            raise AuthenticationFailed(
                SYSTEM, f"{self.flow} login refused: {description}", status=response.status_code, code=error)
        return Token(body["access_token"], body["instance_url"])
