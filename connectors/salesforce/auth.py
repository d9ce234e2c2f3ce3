"""Salesforce OAuth 2.0 server-to-server flows: client credentials and JWT bearer.

Both post to ``<login_url>/services/oauth2/token`` (a My Domain or sandbox login URL works).
Salesforce does not say when a token expires; the client logs in again when a call answers 401
INVALID_SESSION_ID. The token call goes through the same error table and retry policy as every
other call (a login server hiccup is retried, a refused secret is not), and it never follows a
redirect: a redirect would re-send the client secret to an address nobody configured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
import requests

from connectors.errors import SALESFORCE, UNEXPECTED, remote_error, transport_error
from connectors.retry import RetryPolicy
from syncd.core.errors import AuthenticationFailed

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str
    user_id: str | None = None          # the integration user (from the identity URL)

    def __repr__(self) -> str:  # never print the token
        return f"Token(instance_url={self.instance_url!r}, access_token='***')"


def jwt_audience(login_url: str) -> str:
    """The `aud` claim Salesforce expects: the login server, test.salesforce.com for sandboxes."""
    host = login_url.lower()
    if "test.salesforce.com" in host or ".sandbox." in host:
        return "https://test.salesforce.com"
    return "https://login.salesforce.com"


def _identity_user(identity: Any) -> str | None:
    """``https://login.salesforce.com/id/<org id>/<user id>`` -> the user id."""
    if not isinstance(identity, str) or "/id/" not in identity:
        return None
    user = identity.rstrip("/").rsplit("/", 1)[-1]
    return user if user.startswith("005") else None


@dataclass
class SalesforceAuth:
    login_url: str
    flow: Literal["client_credentials", "jwt_bearer"]
    client_id: str
    session: requests.Session
    client_secret: str | None = None
    username: str | None = None
    private_key: str | None = None   # PEM text
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    def _assertion(self) -> str:
        claims = {"iss": self.client_id, "sub": self.username, "aud": jwt_audience(self.login_url),
                  "exp": int(time.time()) + 180}
        return jwt.encode(claims, self.private_key, algorithm="RS256")

    def fetch_token(self) -> Token:
        return self.policy.call("login", self._fetch_once)

    def _fetch_once(self) -> Token:
        if self.flow == "client_credentials":
            data = {"grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self.client_secret or ""}
        else:
            data = {"grant_type": JWT_GRANT, "assertion": self._assertion()}
        url = self.login_url.rstrip("/") + "/services/oauth2/token"
        what = f"login at {self.login_url}"
        try:
            response = self.session.post(url, data=data, headers={"Accept": "application/json"},
                                         allow_redirects=False)
        except requests.RequestException as exc:
            raise transport_error(SALESFORCE, what, exc) from None
        if 300 <= response.status_code < 400:
            raise AuthenticationFailed(SALESFORCE, f"{what}: the login server redirected to "
                                                   f"{response.headers.get('Location', '?')}; configure that "
                                                   "address as salesforce.login_url", status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status_code >= 500:
                raise remote_error(SALESFORCE, what, status=response.status_code, message="the login server failed")
            raise remote_error(SALESFORCE, what, code=UNEXPECTED,
                               message=f"HTTP {response.status_code} with a body that is not a JSON object")
        if response.status_code == 200 and isinstance(body.get("access_token"), str) \
                and isinstance(body.get("instance_url"), str):
            return Token(body["access_token"], body["instance_url"], _identity_user(body.get("id")))
        code = body.get("error") if isinstance(body.get("error"), str) else None
        description = body.get("error_description") or "no description"
        if response.status_code == 200:
            raise remote_error(SALESFORCE, what, code=UNEXPECTED, message="the token answer lacks access_token")
        raise remote_error(SALESFORCE, what, status=response.status_code, code=code or "unknown_error",
                           message=f"{self.flow} login refused: {description}")
