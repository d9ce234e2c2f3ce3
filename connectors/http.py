"""The transport under both SDKs: timeouts, trust, and no retries of its own.

Why a requests.Session subclass: requests lets ``REQUESTS_CA_BUNDLE`` win over ``Session.verify``
(it merges the environment into each request), so a CA bundle configured for syncd would be
silently ignored on machines that set that variable. Here the configured bundle is passed per
request, which wins. Verification can only ever be narrowed to a bundle, never switched off.

The transport retries nothing (``NO_TRANSPORT_RETRY``): a failure surfaces at once, goes through
the error table (``connectors.errors``) and the one retry policy (``connectors.retry``) decides.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from syncd.core import __version__

USER_AGENT = f"syncd/{__version__}"
# urllib3 would otherwise retry connection errors on its own (and requests' adapter 0 times
# except for "read" on idempotent methods): exactly once means the caller sees every failure.
NO_TRANSPORT_RETRY = Retry(total=0, connect=0, read=0, redirect=5, status=0, other=0, raise_on_status=False,
                           raise_on_redirect=True)


class SyncdSession(requests.Session):
    def __init__(self, *, ca_bundle: str | None = None, timeout: float = 30.0, pool_size: int = 16) -> None:
        super().__init__()
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(max_retries=NO_TRANSPORT_RETRY, pool_connections=4, pool_maxsize=pool_size)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        if kwargs.get("verify") is False:
            raise ValueError("TLS verification cannot be disabled in syncd")
        if self.ca_bundle:
            kwargs["verify"] = self.ca_bundle
        return super().request(method, url, *args, **kwargs)
