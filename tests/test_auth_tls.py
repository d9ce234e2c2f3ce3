"""Authentication flows and TLS trust against the emulators: verification is never off."""

from __future__ import annotations

import certifi
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.http import SyncdSession
from connectors.trust import trust_bundle
from syncd.core.errors import ExitCode
from tests.conftest import qualified


def _jwt_config(syncd, tmp_path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    key_file = tmp_path / "sf-key.pem"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    syncd.salesforce.register_client("jwt-app", jwt_public_key_pem=public.decode(),
                                     username="integration@example.com")
    config = syncd.stack.config_path
    text = config.read_text()
    start = text.index("  auth:\n")
    end = text.index("tls:\n")
    config.write_text(text[:start] + "  auth:\n    flow: jwt_bearer\n    client_id: jwt-app\n"
                      "    username: integration@example.com\n"
                      f"    private_key_file: {key_file}\n" + text[end:])


def test_jwt_bearer_flow_syncs_and_logs_in_again_when_the_session_expires(syncd, tmp_path):
    _jwt_config(syncd, tmp_path)
    syncd.hubspot.create_contacts(qualified(3))
    syncd.salesforce.inject_fault("PATCH", "/composite/sobjects", 401,
                                  [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    result = syncd.run()
    assert result.exit_code == ExitCode.OK and len(syncd.leads()) == 3
    assert syncd.salesforce.requests.count(path_contains="/oauth2/token", status=200) == 2


def test_jwt_bearer_with_an_unknown_user_fails_authentication_with_exit_5(syncd, tmp_path):
    _jwt_config(syncd, tmp_path)
    config = syncd.stack.config_path
    config.write_text(config.read_text().replace("integration@example.com", "someone-else@example.com"))
    syncd.hubspot.create_contacts(qualified(1))
    result = syncd.run()
    assert result.exit_code == ExitCode.REMOTE_UNAVAILABLE and result.error.code == "invalid_grant"


def test_the_configured_ca_wins_over_a_global_requests_ca_bundle(syncd, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())   # public roots only: no emulator CA
    syncd.hubspot.create_contacts(qualified(2))
    assert syncd.run().exit_code == ExitCode.OK and len(syncd.leads()) == 2


def test_without_the_emulator_ca_the_connection_is_refused_not_trusted(syncd):
    config = syncd.stack.config_path
    text = config.read_text()
    config.write_text(text[:text.index("tls:\n")] + text[text.index("state:\n"):])
    syncd.hubspot.create_contacts(qualified(1))
    result = syncd.run(env={"SYNCD_HUBSPOT__MAX_RETRIES": "0"})
    assert result.exit_code == ExitCode.REMOTE_UNAVAILABLE
    assert syncd.salesforce_writes() == 0


def test_the_trust_bundle_keeps_the_public_roots_and_adds_the_extra_ca(syncd, tmp_path):
    path = trust_bundle(syncd.stack.tls.ca_path, tmp_path)
    text = open(path, "rb").read()
    assert open(certifi.where(), "rb").read().strip() in text
    assert syncd.stack.tls.ca_path.read_bytes() in text
    assert trust_bundle(None, tmp_path) is None


def test_the_session_refuses_to_switch_verification_off():
    with pytest.raises(ValueError, match="cannot be disabled"):
        SyncdSession(ca_bundle=None).get("https://127.0.0.1:9/", verify=False)
