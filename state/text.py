"""Text from remote systems, made storable in any state database.

HubSpot and Salesforce hold strings that SQLite and PostgreSQL refuse: a lone UTF-16 surrogate
(``"Bad\\ud800"``, which neither database can encode) and NUL (which PostgreSQL text cannot hold).
State keeps such text for people (attribution, rejection messages, outcome reasons), not for
matching, so the offending characters become U+FFFD instead of failing the commit that records a
remote write already made.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def storable(value: str | None, size: int | None = None) -> str | None:
    """``value`` with lone surrogates and NUL replaced by U+FFFD, cut to ``size`` characters."""
    if not value:
        return value
    if size is not None:
        value = value[:size]
    if not value.isascii():
        # surrogatepass keeps a well-formed pair (joined into one character on the way back);
        # a lone surrogate does not decode and is replaced.
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value.replace("\x00", REPLACEMENT) if "\x00" in value else value
