"""Where a value sits in a settings or mapping file, as a path of keys and list indexes."""

from __future__ import annotations

import re

Loc = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def render_loc(loc: Loc) -> str:
    """``('fields', 3, 'to')`` -> ``fields[3].to``; odd keys as ``map["Closed Won"]``."""
    out = ""
    for segment in loc:
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif _PLAIN_KEY.match(segment):
            out += f".{segment}" if out else segment
        else:
            out += '["' + segment.replace('"', '\\"') + '"]'
    return out
