"""Jinja templates in the mapping (the handoff brief, computed fields), sandboxed.

Admins write templates; the sandbox keeps a template from calling anything unsafe. Contact
properties are top-level variables (``{{ firstname }}``), so the properties a template needs can
be found statically and read from HubSpot without the admin listing them twice.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Names a template may use that are not contact properties.
RESERVED_NAMES = frozenset({"history", "fields", "now", "contact_id"})


def _parse_timestamp(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value
    text = str(value)
    if text.isdigit():  # HubSpot sometimes stores ms epoch
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.timezone.utc)
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _date_filter(value: Any, fmt: str = "%d %b %Y") -> str:
    parsed = _parse_timestamp(value)
    return parsed.strftime(fmt) if parsed else ("" if value is None else str(value))


# HubSpot's internal lifecycle-stage values, as people say them.
_LABELS = {
    "marketingqualifiedlead": "MQL", "salesqualifiedlead": "SQL", "subscriber": "Subscriber",
    "lead": "Lead", "opportunity": "Opportunity", "customer": "Customer", "evangelist": "Evangelist",
    "other": "Other",
}


def _humanize_filter(value: Any) -> str:
    """ORGANIC_SEARCH -> Organic search, marketingqualifiedlead -> MQL (internal values read badly)."""
    if value in (None, ""):
        return ""
    if str(value) in _LABELS:
        return _LABELS[str(value)]
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:].lower() if text.isupper() else text


def _make_environment() -> ImmutableSandboxedEnvironment:
    # No trim_blocks: a line ending in {% endif %} keeps its line break. Empty lines are
    # dropped after rendering instead (see render), so optional lines leave no gaps.
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=True, autoescape=False
    )
    env.filters["date"] = _date_filter
    env.filters["humanize"] = _humanize_filter
    return env


ENVIRONMENT = _make_environment()


@dataclass(frozen=True)
class TemplateInfo:
    properties: frozenset[str]          # contact properties the template reads
    history_properties: frozenset[str]  # properties whose history it reads (history.<name>)


class TemplateProblem(ValueError):
    def __init__(self, message: str, lineno: int | None) -> None:
        super().__init__(message)
        self.lineno = lineno


@functools.lru_cache(maxsize=512)
def analyse(source: str) -> TemplateInfo:
    """Parse a template and list what it reads; raise TemplateProblem on a syntax error."""
    try:
        ast = ENVIRONMENT.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error: {exc.message}", exc.lineno) from None
    names = meta.find_undeclared_variables(ast) - RESERVED_NAMES
    history: set[str] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if isinstance(target, nodes.Name) and target.name == "history":
            if isinstance(node, nodes.Getattr):
                history.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                history.add(node.arg.value)
    return TemplateInfo(frozenset(names), frozenset(history))


@functools.lru_cache(maxsize=512)
def _compiled(source: str):  # noqa: ANN202 - jinja2.Template
    return ENVIRONMENT.from_string(source)


def render(source: str, variables: dict[str, Any]) -> str:
    """Render, then drop empty lines and trailing spaces: optional lines leave no gaps."""
    text = _compiled(source).render(**variables)
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())
