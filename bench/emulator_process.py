"""The emulators in their own process (``python -m emulators serve``), so the benchmark measures
syncd's CPU and memory alone, and a client for their control API (``/__emulator/...``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent


class EmulatorProcess:
    def __init__(self, directory: Path, *, latency_ms: float, hubspot_limits: str, seed_contacts: int,
                 mapping: Path | None = None) -> None:
        cmd = [sys.executable, "-m", "emulators", "serve", "--dir", str(directory), "--latency-ms", str(latency_ms),
               "--hubspot-limits", hubspot_limits, "--seed-contacts", str(seed_contacts)]
        if mapping is not None:
            cmd += ["--mapping", str(mapping)]
        self._proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator process exited with {self._proc.wait()} before it was ready")
        self.info: dict[str, Any] = json.loads(line)
        self.config = Path(self.info["config"])
        self._http = requests.Session()
        self._http.trust_env = False
        self._http.verify = self.info["ca_bundle"]

    def _url(self, system: str, path: str) -> str:
        return f"{self.info[system + '_url']}/__emulator{path}"

    def control(self, system: str, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, self._url(system, path), json=body, timeout=600)
        if response.status_code >= 400:
            raise RuntimeError(f"{system} control {method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def request_log(self, system: str) -> list[dict[str, Any]]:
        body = self.control(system, "GET", "/requests")
        return body["results"] if system == "hubspot" else body

    def clear_request_logs(self) -> None:
        for system in ("hubspot", "salesforce"):
            self.control(system, "DELETE", "/requests")

    def calls_by_endpoint(self) -> dict[str, Counter[str]]:
        return {"hubspot": Counter(classify_hubspot(e) for e in self.request_log("hubspot")),
                "salesforce": Counter(classify_salesforce(e) for e in self.request_log("salesforce"))}

    def stop(self) -> None:
        self._http.close()
        self._proc.terminate()  # SIGTERM: the process stops its servers and exits
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> "EmulatorProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def classify_hubspot(entry: dict[str, Any]) -> str:
    """The endpoint of one logged HubSpot request; answers refused by rate limits count apart."""
    if entry["status"] == 429:
        return "rate_limited"
    method, path = entry["method"], entry["path"]
    if path.endswith("/search"):
        return "search"
    if "/properties/" in path:
        return "properties"
    for action in ("read", "update", "create", "upsert", "archive"):
        if path.endswith(f"/batch/{action}"):
            return f"batch_{action}"
    if method == "GET" and "/objects/contacts/" in path:
        return "get_one"
    return f"{method} {path}"


def classify_salesforce(entry: dict[str, Any]) -> str:
    method, path, query = entry["method"], entry["path"], entry.get("query", "")
    if path == "/services/oauth2/token":
        return "token"
    if "/query" in path:
        if path.rstrip("/").endswith(("/query", "/queryAll")):
            text = requests.utils.unquote(query).replace("+", " ")
            if "FROM Opportunity WHERE IsDeleted" in text:
                return "deleted_opportunities"
            return "email_lookup" if " Email " in f" {text} " and "SystemModstamp" not in text else (
                "outcome_query" if "SystemModstamp" in text else "other_query")
        return "query_more"
    if method == "PATCH" and "/composite/sobjects/" in path:
        return "upsert"
    if method == "PATCH" and path.rstrip("/").endswith("/composite/sobjects"):
        return "update_by_id"          # Leads syncd already knows, written by Id (and converted Contacts)
    if "/composite/sobjects" in path:
        return f"collections_{method.lower()}"
    if method == "PATCH" and "/sobjects/Lead/" in path:
        return "upsert_one"
    return f"{method} {path.split('/v', 1)[-1][:40]}"
