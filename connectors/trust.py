"""Which certificate authorities syncd trusts: the public roots plus the operator's extra CAs.

`tls.ca_bundle` adds trust (a corporate TLS proxy's CA); it does not replace the public roots,
because requests and urllib3 treat a CA file as the *only* trust when one is given. So syncd
writes one file holding certifi's roots followed by the configured CAs, and hands that to both
SDKs. Verification itself is never optional.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import certifi


def trust_bundle(extra_ca: Path | str | None, directory: Path) -> str | None:
    """Path of a PEM file with the public roots and ``extra_ca``; None when there is no extra CA
    (then each SDK keeps its default, and requests honours REQUESTS_CA_BUNDLE)."""
    if not extra_ca:
        return None
    extra = Path(extra_ca).read_bytes()
    public = Path(certifi.where()).read_bytes()
    digest = hashlib.sha256(public + extra).hexdigest()[:16]
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"ca-bundle-{digest}.pem"
    if not target.exists():
        partial = target.with_suffix(".tmp")
        partial.write_bytes(public.rstrip(b"\n") + b"\n" + extra)
        partial.replace(target)   # atomic: a concurrent reader never sees half a file
    return str(target)
