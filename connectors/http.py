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
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from syncd.core import __version__

USER_AGENT = f"syncd/{__version__}"


class RefusedRedirect(Exception):
    """A redirect to plain http (other than this machine): followed, it would send the request
    and its body unencrypted. Raised by both transports (requests, urllib3); the error table
    reads it as INSECURE_REDIRECT, not retried."""


class _RefusedRedirectRequests(RefusedRedirect, requests.exceptions.InvalidURL):
    pass


class _RefusedRedirectUrllib3(RefusedRedirect, urllib3.exceptions.HTTPError):
    pass


def _loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


def _insecure(base: str, location: str) -> str | None:
    """"scheme://host" of a redirect target syncd must not follow, else None."""
    parts = urlsplit(urljoin(base, location))
    if parts.scheme and parts.scheme != "https" and not _loopback(parts.hostname):
        return f"{parts.scheme}://{parts.hostname}"
    return None


_REFUSAL = "refused a redirect to {}: syncd follows redirects to https only"


class _HttpsRedirectsOnly(Retry):
    """urllib3's retry state (the HubSpot SDK's transport): no retries, redirects to https only.
    urllib3 itself drops the Authorization header when the host changes."""

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  *args: Any, **kwargs: Any) -> Retry:
        location = response.get_redirect_location() if response is not None else None
        if location:
            target = _insecure(url or "", location)
            if target:
                raise _RefusedRedirectUrllib3(_REFUSAL.format(target))
        return super().increment(method, url, response, *args, **kwargs)


# urllib3 would otherwise retry connection errors on its own (and requests' adapter 0 times
# except for "read" on idempotent methods): exactly once means the caller sees every failure.
NO_TRANSPORT_RETRY = _HttpsRedirectsOnly(total=0, connect=0, read=0, redirect=5, status=0, other=0,
                                         raise_on_status=False, raise_on_redirect=True)


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

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """Follow redirects to https only (or to this machine, for emulators). requests itself
        drops the Authorization header when the host changes or https becomes http."""
        target = super().get_redirect_target(resp)
        insecure = _insecure(resp.url, target) if target else None
        if insecure:
            raise _RefusedRedirectRequests(_REFUSAL.format(insecure), response=resp)
        return target
