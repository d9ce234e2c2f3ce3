"""Jinja templates in the mapping (the handoff brief, computed fields), sandboxed and on a budget.

Admins write templates; the sandbox keeps a template from calling anything unsafe, and the render
budget (``syncd.mapping.budget``) from running or growing without end: every loop step, call and
item-by-item filter is metered, output is counted chunk by chunk, and a failure of any kind is
one ``TemplateFailure`` for the record. Contact properties are top-level variables
(``{{ firstname }}``), so the properties a template needs can be found statically and read from
HubSpot without the admin listing them twice.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import (StrictUndefined, TemplateAssertionError, TemplateError, TemplateSyntaxError, filters, meta, nodes,
                    pass_context)
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from syncd.mapping.budget import (BudgetExceeded, RenderBudget, RenderStopped, TemplateFailure, check_binop,
                                  check_call, format_widths, replaced_size)

__all__ = ["BudgetExceeded", "RenderBudget", "RenderStopped", "TemplateFailure", "analyse", "render"]

# Where a render's budget travels in the template's context: not a name a template can write.
BUDGET = "syncd render budget"
_LOOP = "syncd budget: loop"      # wraps every {% for %}'s iterable
_VALUE = "syncd budget: value"    # checks every {% set %}

# Names a template may use that are not contact properties (each is supplied at render time by
# ``syncd.mapping.transform``).
RESERVED_NAMES = frozenset({"history", "fields", "contact_id"})
# Names a template must not use: ``now`` would change every Lead on every cycle (the digest of a
# rendered field would never be the same twice), so it is refused rather than left undefined.
REFUSED_NAMES = {"now": "`now` is not available in templates: a value that changes on every run would rewrite "
                        "every Lead each cycle; use a contact property such as lastmodifieddate"}


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


def _budget(context: Context) -> RenderBudget | None:
    return context.parent.get(BUDGET)


class _BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with every call, item-by-item filter or test, and size-making operator metered."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget(__context)
        if budget is None:
            return SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        budget.tick()
        check_call(budget, __obj, args, kwargs)
        if isinstance(__obj, LoopContext) and args:     # loop(children): a recursive loop's next level
            args = (budget.bounded(args[0]), *args[1:])
        return budget.value(SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget(context)
        if budget is not None:
            check_binop(budget, operator, left, right)
        return self.binop_table[operator](left, right)

    def call_filter(self, name: str, value: Any, args: Any = None, kwargs: Any = None,  # type: ignore[override]
                    context: Context | None = None, eval_ctx: Any = None) -> Any:
        if context is not None and (budget := _budget(context)) is not None:
            budget.tick()                                 # map('...'): once per item
        return super().call_filter(name, value, args, kwargs, context, eval_ctx)

    def call_test(self, name: str, value: Any, args: Any = None, kwargs: Any = None,  # type: ignore[override]
                  context: Context | None = None, eval_ctx: Any = None) -> Any:
        if context is not None and (budget := _budget(context)) is not None:
            budget.tick()                                 # select('...'): once per item
        return super().call_test(name, value, args, kwargs, context, eval_ctx)


@pass_context
def _loop(context: Context, iterable: Any) -> Any:
    budget = _budget(context)
    return iterable if budget is None else budget.bounded(iterable)


@pass_context
def _value(context: Context, value: Any) -> Any:
    budget = _budget(context)
    return value if budget is None else budget.value(value)


def _size(context: Context, size: int) -> None:
    budget = _budget(context)
    if budget is not None and isinstance(size, int):
        budget.size(size)


# Jinja's filters whose output size is set by an argument, checked before they build it. As
# pass_context filters they are also never run at compile time (constant folding).
@pass_context
def _center(context: Context, value: Any, width: int = 80) -> str:
    _size(context, width)
    return filters.do_center(value, width)


@pass_context
def _indent(context: Context, s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    _size(context, len(text) + (text.count("\n") + 1) * (len(width) if isinstance(width, str) else width))
    return filters.do_indent(s, width, first, blank)


@pass_context
def _batch(context: Context, value: Any, linecount: int, fill_with: Any = None) -> Any:
    if fill_with is not None:
        _size(context, linecount)
    return filters.do_batch(value, linecount, fill_with)


@pass_context
def _slice(context: Context, value: Any, slices: int, fill_with: Any = None) -> Any:
    _size(context, slices)
    return filters.sync_do_slice(value, slices, fill_with)


@pass_context
def _replace(context: Context, s: Any, old: str, new: str, count: int | None = None) -> str:
    _size(context, replaced_size(str(s), old, new, count))
    return filters.do_replace(context.eval_ctx, s, old, new, count)


@pass_context
def _format(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
    if isinstance(value, str):
        _size(context, format_widths(value, printf=True))
    return filters.do_format(value, *args, **kwargs)


def _make_environment() -> ImmutableSandboxedEnvironment:
    # No trim_blocks: a line ending in {% endif %} keeps its line break. Empty lines are
    # dropped after rendering instead (see render), so optional lines leave no gaps.
    env = _BudgetedEnvironment(
        undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=True, autoescape=False
    )
    env.filters["date"] = _date_filter
    env.filters["humanize"] = _humanize_filter
    env.filters.update({"center": _center, "indent": _indent, "batch": _batch, "slice": _slice,
                        "replace": _replace, "format": _format, _LOOP: _loop, _VALUE: _value})
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
    try:
        names = meta.find_undeclared_variables(ast) - RESERVED_NAMES
    except TemplateAssertionError:
        # An unknown filter stops Jinja's own walk; ``problems`` reports it, and meanwhile every
        # name read is taken for a property (so the mapping still loads far enough to be checked).
        names = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"} - RESERVED_NAMES
    history: set[str] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if isinstance(target, nodes.Name) and target.name == "history":
            if isinstance(node, nodes.Getattr):
                history.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                history.add(node.arg.value)
    return TemplateInfo(frozenset(names), frozenset(history))


def did_you_mean(name: str, known: Any) -> str:
    """" (did you mean 'x'?)" when a known name is close to ``name``, else ""."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


def problems(source: str) -> list[TemplateProblem]:
    """Filters and tests the environment lacks, and refused names: found before any render.

    Jinja reports an unknown filter only when compiling and an unknown test only when the test
    runs (so ``{% if x is defind %}`` would pass a parse and reject every contact). A template
    that does not parse is ``analyse``'s to report."""
    try:
        ast = ENVIRONMENT.parse(source)
    except TemplateSyntaxError:
        return []
    found: list[TemplateProblem] = []
    public_filters = {n for n in ENVIRONMENT.filters if not n.startswith("syncd ")}
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        kind, known = ("filter", public_filters) if isinstance(node, nodes.Filter) else ("test", ENVIRONMENT.tests)
        if node.name not in known:
            found.append(TemplateProblem(f"unknown {kind} '{node.name}'{did_you_mean(node.name, known)}",
                                         node.lineno))
    for node in ast.find_all(nodes.Name):
        if node.ctx == "load" and node.name in REFUSED_NAMES:
            found.append(TemplateProblem(REFUSED_NAMES[node.name], node.lineno))
            break
    return found


def _metered(ast: nodes.Template) -> nodes.Template:
    """Every loop's iterable goes through the budget, and every value a {% set %} stores."""
    for loop in list(ast.find_all(nodes.For)):
        loop.iter = nodes.Filter(loop.iter, _LOOP, [], [], None, None, lineno=loop.lineno)
    for assign in list(ast.find_all(nodes.Assign)):
        assign.node = nodes.Filter(assign.node, _VALUE, [], [], None, None, lineno=assign.lineno)
    for block in list(ast.find_all(nodes.AssignBlock)):
        block.filter = nodes.Filter(block.filter, _VALUE, [], [], None, None, lineno=block.lineno)
    ast.set_environment(ENVIRONMENT)
    return ast


@functools.lru_cache(maxsize=512)
def _compiled(source: str):  # noqa: ANN202 - jinja2.Template
    return ENVIRONMENT.from_string(_metered(ENVIRONMENT.parse(source)))


def _tidy(text: str) -> str:
    """Drop empty lines and trailing spaces: optional lines leave no gaps."""
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def _known_start(raw: str) -> str:
    """What the tidy text of ``raw`` + anything after it is sure to begin with."""
    lines = raw.splitlines(keepends=True)
    partial = lines.pop() if lines and lines[-1].splitlines()[0] == lines[-1] else ""
    known = _tidy("".join(lines))
    if partial.strip():
        known = f"{known}\n{partial.rstrip()}" if known else partial.rstrip()
    return known


def render(source: str, variables: dict[str, Any], budget: RenderBudget | None = None, *,
           where: str = "the", keep: int | None = None) -> str:
    """Render within ``budget`` (a fresh default one if None), then tidy (``_tidy``).

    A template may write ``budget.output_limit`` characters, or ``keep`` when that is more. With
    ``keep`` (the field's max_length: the rest would be cut anyway) rendering stops once the text
    is sure to be longer than ``keep`` and returns its start, so cutting it gives what cutting the
    whole would. Any failure, the budget's or the template's, raises ``TemplateFailure`` naming
    ``where`` (e.g. "the brief"); a stop request raises ``RenderStopped``."""
    budget = budget if budget is not None else RenderBudget()
    budget.where = where
    limit = max(budget.output_limit, keep or 0)
    chunks: list[str] = []
    written = 0
    try:
        stream = _compiled(source).generate(variables, **{BUDGET: budget})
        try:
            for chunk in stream:
                chunks.append(chunk)
                written += len(chunk)
                if written > limit:
                    start = _known_start("".join(chunks))
                    if keep and len(start) > keep:
                        return start
                    raise budget.output_over(limit)
        finally:
            stream.close()
    except (TemplateFailure, RenderStopped):
        raise
    except TemplateError as exc:
        raise TemplateFailure(f"{where} template failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - OverflowError, MemoryError, RecursionError, TypeError from data ...
        raise TemplateFailure(f"{where} template failed: {type(exc).__name__}: {exc}") from None
    return _tidy("".join(chunks))
