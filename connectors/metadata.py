"""What each system says about its own shape, read rarely: Salesforce ``describe`` per object and
HubSpot's contact property definitions, kept in memory for a few minutes.

The mapping check (``syncd.mapping.live_check``) runs before each cycle of the daemon and each
``run --once``; the cache makes that one describe per object (and one properties read) per TTL,
not one per cycle. Both reads go through each system's client: limiter, error table, retry policy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.properties import ContactProperties
from connectors.salesforce.client import SalesforceClient

DEFAULT_TTL_SECONDS = 300.0
# The describe attributes the check reads; the rest of a describe (URLs, labels...) is not kept.
_KEPT = ("name", "type", "length", "picklistValues", "restrictedPicklist", "createable", "updateable", "nillable",
         "defaultedOnCreate", "externalId", "calculated")
# What the object itself allows the integration user (object permissions), for `syncd doctor`.
_OBJECT_KEPT = ("name", "createable", "updateable", "queryable", "deletable")


class _Ttl:
    """One value per key, read again once it is ``ttl`` seconds old (``clock``: monotonic seconds)."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl, self.clock = ttl, clock
        self._values: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, read: Callable[[], Any]) -> Any:
        with self._lock:
            cached = self._values.get(key)
            if cached is not None and self.clock() - cached[0] < self.ttl:
                return cached[1]
        value = read()
        with self._lock:
            self._values[key] = (self.clock(), value)
        return value


class Metadata:
    """Both systems' metadata, cached for ``ttl`` seconds."""

    def __init__(self, salesforce: SalesforceClient, hubspot: HubSpotClient, *, ttl: float = DEFAULT_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.salesforce, self.hubspot = salesforce, hubspot
        self._cache = _Ttl(ttl, clock)

    def _describe(self, sobject: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        def read() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
            body = self.salesforce.call(f"describe {sobject}", lambda sf: getattr(sf, sobject).describe())
            body = body if isinstance(body, dict) else {}
            fields = {f["name"]: {k: f.get(k) for k in _KEPT if k in f}
                      for f in body.get("fields") or [] if isinstance(f, dict) and "name" in f}
            return {k: body.get(k) for k in _OBJECT_KEPT if k in body}, fields
        return self._cache.get(f"salesforce:{sobject}", read)

    def salesforce_fields(self, sobject: str) -> dict[str, dict[str, Any]]:
        """``describe`` of one object: field name -> its describe entry (the attributes in ``_KEPT``)."""
        return self._describe(sobject)[1]

    def salesforce_object(self, sobject: str) -> dict[str, Any]:
        """What ``describe`` says the integration user may do with the object (``_OBJECT_KEPT``)."""
        return self._describe(sobject)[0]

    def salesforce_versions(self) -> list[str]:
        """The API versions the org serves (``GET /services/data/``), e.g. ``["61.0", "62.0"]``."""
        def read(sf: Any) -> Any:
            root = sf.base_url.split("/services/data/")[0]
            return sf._call_salesforce("GET", f"{root}/services/data/").json()
        body = self.salesforce.call("list API versions", read)
        return [str(v.get("version")) for v in body if isinstance(v, dict)] if isinstance(body, list) else []

    def hubspot_properties(self) -> dict[str, dict[str, Any]]:
        """Every contact property definition, by internal name."""
        return self._cache.get("hubspot:contacts", lambda: ContactProperties(self.hubspot).properties())
