"""The one requests.Session syncd uses for Salesforce: timeouts, retries, and trust.

Why a subclass: requests lets ``REQUESTS_CA_BUNDLE`` win over ``Session.verify`` (it merges the
environment into each request), so a CA bundle configured for syncd would be silently ignored on
machines that set that variable. Here the configured bundle is passed per request, which wins.
Verification can only ever be narrowed to a bundle, never switched off.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from syncd import __version__

USER_AGENT = f"syncd/{__version__}"


def retry_policy(max_retries: int) -> Retry:
    """Connection errors and gateway failures, with jittered exponential backoff and Retry-After.

    Every method is retried: the writes syncd sends are idempotent (upsert by external id,
    update by Id), so repeating one after a lost response cannot create a duplicate.
    """
    return Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        backoff_factor=0.5,
        backoff_max=30,
        backoff_jitter=0.5,
        status_forcelist=(502, 503, 504),
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class SyncdSession(requests.Session):
    def __init__(self, *, ca_bundle: str | None = None, timeout: float = 30.0, max_retries: int = 5) -> None:
        super().__init__()
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(max_retries=retry_policy(max_retries))
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        if kwargs.get("verify") is False:
            raise ValueError("TLS verification cannot be disabled in syncd")
        if self.ca_bundle:
            kwargs["verify"] = self.ca_bundle
        return super().request(method, url, *args, **kwargs)
