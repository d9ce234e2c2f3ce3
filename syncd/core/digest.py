"""One stable fingerprint for "would this write the same thing again?"."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``: equal digests mean equal content.

    Text that is not valid Unicode (a lone surrogate from a remote system) is hashed by its
    escaped form rather than crashing the run: the record it belongs to is judged, not the run."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "backslashreplace")).hexdigest()
