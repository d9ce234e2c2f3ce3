"""A Salesforce emulator served over TLS on loopback, with simple_salesforce logged in to it: for
the emulator's own tests that drive it through the real SDK (SOQL, queryAll, deletes, merges)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from emulators.salesforce import SalesforceEmulator
from emulators.server import EmulatorServer
from emulators.tls import make_tls_material


@dataclass
class ServedOrg:
    emulator: SalesforceEmulator
    server: EmulatorServer
    sf: Salesforce
    http: requests.Session          # trusts the emulator's CA only (trust_env off: REQUESTS_CA_BUNDLE is ignored)


@contextmanager
def served_org(tls_dir: Path, clock: Any) -> Iterator[ServedOrg]:
    """Sessions last a year: these tests move the clock by days."""
    emulator = SalesforceEmulator(clock=clock, session_ttl_seconds=365 * 86400)
    emulator.register_client("syncd", client_secret="s3cret")
    tls = make_tls_material(tls_dir)
    with EmulatorServer(emulator, tls) as server:
        http = requests.Session()
        http.trust_env = False
        http.verify = str(tls.ca_path)
        token = http.post(f"{server.url}/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": "syncd", "client_secret": "s3cret"}).json()
        try:
            yield ServedOrg(emulator, server, Salesforce(instance_url=server.url, session_id=token["access_token"],
                                                         version="62.0", session=http), http)
        finally:
            http.close()
