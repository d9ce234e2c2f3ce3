"""Both emulators, started together with credentials and a syncd config that points at them.

Used by `syncd demo`, by `python -m emulators` and by the test suite, so all three exercise the
same wiring a user's config does: https URLs, a CA bundle, secrets read from files.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.server import EmulatorServer
from emulators.tls import TLSMaterial, make_tls_material


@dataclass
class Stack:
    directory: Path
    tls: TLSMaterial
    hubspot: HubSpotEmulator
    salesforce: SalesforceEmulator
    hubspot_server: EmulatorServer
    salesforce_server: EmulatorServer
    hubspot_token: str
    salesforce_client_id: str
    salesforce_client_secret: str

    @property
    def config_path(self) -> Path:
        return self.directory / "syncd.yaml"

    def env(self) -> dict[str, str]:
        """Environment for syncd: only the config location; secrets come from files."""
        return {"SYNCD_CONFIG": str(self.config_path)}

    def write_config(self, *, mapping: Path | None = None, agreement: Path | None = None, extra: str = "") -> Path:
        secrets_dir = self.directory / "secrets"
        secrets_dir.mkdir(mode=0o700, exist_ok=True)
        for name, value in (("hubspot_access_token", self.hubspot_token),
                            ("salesforce_client_secret", self.salesforce_client_secret)):
            path = secrets_dir / name
            path.write_text(value + "\n")
            path.chmod(0o600)
        mapping_line = f"mapping: {mapping}\n" if mapping else ""
        mapping_line += f"agreement: {agreement}\n" if agreement else ""
        self.config_path.write_text(
            f"# syncd config for the local emulators (written by emulators.stack)\n"
            f"{mapping_line}"
            f"hubspot:\n"
            f"  base_url: {self.hubspot_server.url}\n"
            f"  access_token_file: {secrets_dir / 'hubspot_access_token'}\n"
            f"salesforce:\n"
            f"  login_url: {self.salesforce_server.url}\n"
            f"  auth:\n"
            f"    flow: client_credentials\n"
            f"    client_id: {self.salesforce_client_id}\n"
            f"    client_secret_file: {secrets_dir / 'salesforce_client_secret'}\n"
            f"tls:\n"
            f"  ca_bundle: {self.tls.ca_path}\n"
            f"state:\n"
            f"  directory: {self.directory / 'state'}\n"
            f"{extra}"
        )
        return self.config_path

    def stop(self) -> None:
        self.hubspot_server.stop()
        self.salesforce_server.stop()


def start_stack(directory: Path, *, hubspot: HubSpotEmulator | None = None,
                salesforce: SalesforceEmulator | None = None) -> Stack:
    directory.mkdir(parents=True, exist_ok=True)
    tls = make_tls_material(directory / "tls")
    token = "pat-demo-" + secrets.token_hex(12)
    client_id, client_secret = "syncd-demo-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    hubspot = hubspot or HubSpotEmulator(access_tokens=())
    hubspot.add_token(token)
    salesforce = salesforce or SalesforceEmulator()
    salesforce.register_client(client_id, client_secret=client_secret)
    hs_server = EmulatorServer(hubspot, tls).start()
    sf_server = EmulatorServer(salesforce, tls).start()
    stack = Stack(directory, tls, hubspot, salesforce, hs_server, sf_server, token, client_id, client_secret)
    stack.write_config()
    return stack
