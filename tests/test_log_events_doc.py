"""docs/log-events.md lists every event the product logs, and nothing it does not."""

from __future__ import annotations

import re
from pathlib import Path

from tests.daemon import documented_events

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for folder in ("syncd", "connectors", "state") for p in (ROOT / folder).rglob("*.py")]
# Where an event name is written: a log call, exit_now(signum, "..."), a `killed_event="..."`
# argument (the line a second signal logs), or a command's output object.
EMITTED = re.compile(r"""(?:log\.(?:debug|info|warning|error|exception|critical)\(\s*|exit_now\(\w+,\s*"""
                     r"""|\w*_event=\s*|"event":\s*)"([a-z_]+\.[a-z_.]+)\"""")


def emitted_events() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in SOURCES:
        for name in EMITTED.findall(path.read_text()):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_every_event_the_code_emits_is_documented():
    missing = {name: where for name, where in emitted_events().items() if name not in documented_events()}
    assert not missing, f"add these to docs/log-events.md: {missing}"


def test_every_documented_event_is_still_emitted_somewhere():
    code = "\n".join(path.read_text() for path in SOURCES)
    stale = [name for name in documented_events() if f'"{name}"' not in code]
    assert not stale, f"docs/log-events.md lists events nothing logs any more: {stale}"
