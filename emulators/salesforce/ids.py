"""Salesforce record ids: 15-character case-sensitive ids, and the 18-character form with its
case checksum that the API returns."""

from __future__ import annotations

import re
from typing import Any

_ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID15 = re.compile(r"[0-9A-Za-z]{15}")


def id_checksum(id15: str) -> str:
    """The 3-character suffix that turns a case-sensitive 15-char id into the 18-char form."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += _CHECKSUM_CHARS[bits]
    return suffix


def normalize_id(value: Any) -> str | None:
    """The 18-char form of a 15- or 18-char record id, or None when ``value`` isn't one."""
    if not isinstance(value, str):
        return None
    if len(value) == 15 and _ID15.fullmatch(value):
        return value + id_checksum(value)
    if len(value) == 18 and _ID15.fullmatch(value[:15]):
        if value[15:].upper() == id_checksum(value[:15]):
            return value[:15] + id_checksum(value[:15])
    return None


def make_id(key_prefix: str, sequence: int, pod: str = "Dm0000") -> str:
    """An 18-char id: 3-char key prefix, 6-char pod/reserved part, 6-char base62 counter."""
    digits = ""
    n = sequence
    for _ in range(6):
        n, r = divmod(n, 62)
        digits = _ID_CHARS[r] + digits
    id15 = key_prefix + pod + digits
    return id15 + id_checksum(id15)
