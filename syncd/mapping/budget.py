"""What rendering one contact's templates may cost: CPU time, output, and the size of the values built.

An admin's template runs once per contact, thousands of times a second, in the planner's worker
threads (so no SIGALRM). The sandbox keeps it from calling anything unsafe, but not from running
for hours (``{% for i in range(100000) %}{% for j in range(100000) %}``, or the same over a long
property's characters) or from building a gigabyte (``'x' * 10**10``). ``RenderBudget`` is the
meter, one per contact, shared by all its templates; ``syncd.mapping.templates`` calls it from
the hooks where a template can spend:

- every step of every ``{% for %}`` loop, every call (methods, macros, ``loop()``) and every
  filter or test applied item by item (``map``, ``select``): ``tick``, which looks at the clock
  (the thread's CPU time) and at the stop request every ``CHECK_EVERY`` steps;
- every chunk of output: ``output``;
- values a template makes bigger than its inputs (``*``, ``**``, ``%``, a ``{% set %}``, what a
  call returns, padding filters and methods): checked before they are built where the size is
  known in advance, after otherwise.

Over budget a template raises ``BudgetExceeded`` (the record is rejected, the others go on); a
stop request raises ``RenderStopped`` (nobody's fault: the run ends, nothing is rejected).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

DEFAULT_SECONDS = 1.0              # CPU time for all of one contact's templates
DEFAULT_OUTPUT = 65_536            # characters one template may write (or its field's max_length)
VALUES_PER_OUTPUT = 16             # a value a template builds may be this many times the output limit ...
INT_BITS = 65_536                  # ... and a number this many bits (str() refuses 4,300 digits anyway)
CHECK_EVERY = 64                   # steps between two looks at the clock and the stop request

Clock = Callable[[], float]


class TemplateFailure(Exception):
    """A template could not produce this contact's value (the message says why): reject the record."""


class BudgetExceeded(TemplateFailure):
    """A template went over its render budget."""


class RenderStopped(Exception):
    """The run was asked to stop while a template rendered: not the record's fault."""


def _never() -> bool:
    return False


class RenderBudget:
    """The budget of one contact's templates. ``where`` names the template being rendered."""

    __slots__ = ("clock", "countdown", "inputs", "output_limit", "seconds", "started", "stop", "value_limit", "where")

    def __init__(self, seconds: float = DEFAULT_SECONDS, output: int = DEFAULT_OUTPUT, *,
                 clock: Clock = time.thread_time, stop: Callable[[], bool] | None = None,
                 inputs: Mapping[str, Any] | None = None) -> None:
        self.seconds = seconds
        self.output_limit = output
        self.value_limit = output * VALUES_PER_OUTPUT
        self.clock = clock
        self.stop = stop or _never
        self.countdown = CHECK_EVERY
        self.started: float | None = None   # the clock starts at the first look (a few steps in)
        self.where = "a"
        self.inputs = inputs                # the contact's values: a value may always be as big as they are

    # -- time ---------------------------------------------------------------------------------
    def tick(self) -> None:
        self.countdown -= 1
        if self.countdown <= 0:
            self.check()

    def check(self) -> None:
        self.countdown = CHECK_EVERY
        if self.stop():
            raise RenderStopped(f"{self.where} template was stopped: the run is stopping")
        now = self.clock()
        if self.started is None:
            self.started = now
        elif now - self.started > self.seconds:
            raise BudgetExceeded(f"{self.where} template ran out of time: over {_seconds(self.seconds)} of CPU "
                                 f"time for one contact (template_budget.seconds)")

    def bounded(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """``iterable``, one step of the budget per item."""
        for item in iterable:
            self.countdown -= 1
            if self.countdown <= 0:
                self.check()
            yield item

    # -- size ---------------------------------------------------------------------------------
    def output_over(self, limit: int) -> BudgetExceeded:
        return BudgetExceeded(f"{self.where} template wrote more than {limit:,} characters "
                              f"(template_budget.output_characters)")

    def too_big(self, size: int) -> BudgetExceeded:
        return BudgetExceeded(f"{self.where} template would build a value of {size:,} characters or items, over "
                              f"{self._value_limit():,} (16 x template_budget.output_characters)")

    def too_long(self, bits: int) -> BudgetExceeded:
        return BudgetExceeded(f"{self.where} template would build a number of {bits:,} bits, over {INT_BITS:,}")

    def _value_limit(self) -> int:
        largest = max((len(v) for v in (self.inputs or {}).values() if isinstance(v, str)), default=0)
        return max(self.value_limit, 2 * largest)

    def size(self, size: int) -> None:
        """A value of ``size`` items or characters is about to be built (or was)."""
        if size > self.value_limit and size > self._value_limit():
            raise self.too_big(size)

    def value(self, value: Any) -> Any:
        """``value`` itself, when it is not too big."""
        if isinstance(value, (str, list, tuple, dict, bytes)) and len(value) > self.value_limit:
            self.size(len(value))
        elif isinstance(value, int) and value.bit_length() > INT_BITS:
            raise self.too_long(value.bit_length())
        return value


def _seconds(seconds: float) -> str:
    return f"{seconds:g} s"


# -- operators whose result can be far bigger than their operands --------------------------------
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACES = re.compile(r"\{[^{}]*?:([^{}]*)\}")


def format_widths(text: str, printf: bool) -> int:
    """The widest field a format string asks for (``%09999d``, ``{:>9999}``); 0 when none."""
    widest = 0
    if printf:
        for width, precision in _PRINTF.findall(text):
            widest = max(widest, *(int(n) for n in (width, precision) if n.isdigit()), 0)
    else:
        for spec in _BRACES.findall(text):
            widest = max(widest, *(int(n) for n in re.findall(r"\d+", spec)), 0)
    return widest


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_binop(budget: RenderBudget, operator: str, left: Any, right: Any) -> None:
    """Before ``left <operator> right`` (``*``, ``**``, ``%``): refuse what would be too big."""
    if operator == "**":
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1 \
                and right * abs(left).bit_length() > INT_BITS:
            raise budget.too_long(right * abs(left).bit_length())
    elif operator == "*":
        if _is_int(left) and _is_int(right):
            if left.bit_length() + right.bit_length() > INT_BITS:
                raise budget.too_long(left.bit_length() + right.bit_length())
        elif _is_int(right) and hasattr(left, "__len__"):
            budget.size(len(left) * right)
        elif _is_int(left) and hasattr(right, "__len__"):
            budget.size(len(right) * left)
    elif operator == "%" and isinstance(left, str) and "%" in left:
        budget.size(format_widths(left, printf=True))


# -- calls: str methods that pad to a width, or replace ------------------------------------------
_PADDING = frozenset({"ljust", "rjust", "center", "zfill"})


def replaced_size(text: str, old: Any, new: Any, count: Any = None) -> int:
    """How long ``text.replace(old, new, count)`` would be."""
    if not (isinstance(old, str) and isinstance(new, str)):
        return len(text)
    times = len(text) + 1 if old == "" else text.count(old)
    if _is_int(count) and count >= 0:
        times = min(times, count)
    return len(text) + times * (len(new) - len(old))


def check_call(budget: RenderBudget, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Before a call from a template: refuse a str method asked to build too much."""
    owner = getattr(func, "__self__", None)
    name = getattr(func, "__name__", "")
    if isinstance(owner, str):
        if name in _PADDING and args and _is_int(args[0]):
            budget.size(args[0])
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            if _is_int(tabsize):
                budget.size(len(owner) + owner.count("\t") * tabsize)
        elif name == "replace" and len(args) >= 2:
            budget.size(replaced_size(owner, *args[:3]))
    elif _is_int(owner) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if _is_int(length):
            budget.size(length)
    elif name in ("format", "format_map"):       # the sandbox's wrapper of str.format
        wrapped = getattr(getattr(func, "__wrapped__", None), "__self__", None)
        if isinstance(wrapped, str):
            budget.size(format_widths(wrapped, printf=False))
