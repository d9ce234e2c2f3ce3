"""The OAuth side of the Salesforce emulator: connected apps, sessions, and the token endpoint.

Two server-to-server flows, as syncd uses them: client credentials (the app's run-as user, or
the org's integration user) and the JWT bearer flow (RS256 assertion signed with the app's key,
audience login.salesforce.com, test.salesforce.com or the instance URL; ``exp`` in the future).
Errors are OAuth's ``{"error", "error_description"}`` with status 400.

Sessions time out after ``session_ttl`` of *inactivity* on the emulator clock (Salesforce's
session timeout); ``expire_sessions()`` invalidates every token at once.

The server keeps no lock of its own: sessions and users are org state, and the emulator calls
in here holding the org's lock.
"""

from __future__ import annotations

import base64
import datetime as dt
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, Callable

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from werkzeug.wrappers import Request, Response

from emulators.salesforce.errors import RequestError, json_response, method_not_allowed, oauth_error
from emulators.salesforce.ids import id_checksum
from emulators.salesforce.store import RecordStore

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass
class Client:
    client_id: str
    client_secret: str | None
    public_key: Any | None
    username: str | None


@dataclass
class Session:
    token: str
    client_id: str
    user_id: str
    last_used: dt.datetime


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def load_public_key(pem_text: str | bytes) -> Any:
    """A PEM public key, or the key of a PEM certificate."""
    pem = pem_text.encode() if isinstance(pem_text, str) else pem_text
    if b"CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem).public_key()
    return serialization.load_pem_public_key(pem)


class OAuthServer:
    """Connected apps and sessions of one org. ``users`` is the org's record store, where the
    users tokens act as live (a JWT's subject is created there on first use)."""

    def __init__(self, users: RecordStore, *, org_id: str, session_ttl: dt.timedelta,
                 now: Callable[[], dt.datetime]) -> None:
        self.users = users
        self.org_id = org_id
        self.session_ttl = session_ttl
        self.now = now
        self.clients: dict[str, Client] = {}
        self.sessions: dict[str, Session] = {}

    def new_session(self, client_id: str, user_id: str) -> Session:
        token = f"{self.org_id}!AQ{secrets.token_urlsafe(60)}"
        session = Session(token, client_id, user_id, self.now())
        self.sessions[token] = session
        return session

    def authenticate(self, request: Request) -> Session:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        session = self.sessions.get(token) if scheme.lower() in ("bearer", "oauth") else None
        now = self.now()
        if session is not None and now - session.last_used > self.session_ttl:
            del self.sessions[token]
            session = None
        if session is None:
            raise RequestError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        session.last_used = now
        return session

    def token_endpoint(self, request: Request) -> Response:
        if request.method != "POST":
            raise method_not_allowed(request.method, "POST")
        form = request.form
        grant_type = form.get("grant_type", "")
        if grant_type == "client_credentials":
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            if request.authorization and request.authorization.type == "basic":
                client_id = client_id or request.authorization.username
                client_secret = client_secret or request.authorization.password
            client = self.clients.get(client_id or "")
            if client is None:
                return oauth_error("invalid_client_id", "client identifier invalid")
            if client.client_secret is None:
                return oauth_error("invalid_grant", "no client credentials user enabled")
            if not client_secret or not hmac.compare_digest(client.client_secret, client_secret):
                return oauth_error("invalid_client", "invalid client credentials")
            user_id = (self.users.ensure_user(client.username) if client.username
                       else self.users.default_user_id)
            return self._token_response(request, client, user_id)
        if grant_type == JWT_BEARER:
            return self._jwt_grant(request, form.get("assertion") or "")
        return oauth_error("unsupported_grant_type", "grant type not supported")

    def _jwt_grant(self, request: Request, assertion: str) -> Response:
        try:
            header = jwt.get_unverified_header(assertion)
            claims = json.loads(b64url_decode(assertion.split(".")[1]))
            if not isinstance(claims, dict):
                raise ValueError("claims are not an object")
        except (jwt.PyJWTError, ValueError, IndexError, binascii.Error):
            return oauth_error("invalid_grant", "invalid assertion")
        client = self.clients.get(str(claims.get("iss", "")))
        if client is None:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if client.public_key is None or header.get("alg") != "RS256":
            return oauth_error("invalid_grant", "invalid assertion")
        try:
            jwt.PyJWS().decode_complete(assertion, key=client.public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return oauth_error("invalid_grant", "invalid assertion")
        base = request.host_url.rstrip("/")
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        allowed = {base, *LOGIN_AUDIENCES}
        if not any(isinstance(a, str) and a.rstrip("/") in allowed for a in audiences):
            return oauth_error("invalid_grant", "audience is invalid")
        exp = claims.get("exp")
        try:
            exp_value = float(exp)  # Salesforce's own examples send exp as a string
        except (TypeError, ValueError):
            return oauth_error("invalid_grant", "expired authorization code")
        if exp_value <= self.now().timestamp():
            return oauth_error("invalid_grant", "expired authorization code")
        subject = claims.get("sub") or claims.get("prn")
        if not subject or (client.username and subject != client.username):
            return oauth_error("invalid_grant", "user hasn't approved this consumer")
        user_id = self.users.ensure_user(subject)
        return self._token_response(request, client, user_id)

    def _token_response(self, request: Request, client: Client, user_id: str) -> Response:
        session = self.new_session(client.client_id, user_id)
        base = request.host_url.rstrip("/")
        identity = f"{base}/id/{self.org_id}{id_checksum(self.org_id)}/{user_id}"
        issued_at = str(int(self.now().timestamp() * 1000))
        key = (client.client_secret or client.client_id).encode()
        signature = base64.b64encode(
            hmac.new(key, (identity + issued_at).encode(), hashlib.sha256).digest()).decode()
        return json_response(200, {
            "access_token": session.token,
            "signature": signature,
            "scope": "api",
            "instance_url": base,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }, {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"})
