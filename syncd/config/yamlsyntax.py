"""YAML syntax errors in words an admin can act on.

ruamel.yaml's parser messages are written for YAML implementers ("mapping values are not allowed
here"); these say what to do instead, at the line and column ruamel reports, and never quote the
text around the error (it may hold a secret).
"""

from __future__ import annotations

from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from syncd.core.errors import Problem

__all__ = ["syntax_problem"]


def syntax_problem(exc: YAMLError, source: str, text: str) -> Problem:
    if isinstance(exc, ReaderError):
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else 0
        return Problem(source, "", f"YAML syntax error: the file contains a control character "
                                   f"(U+{char:04X}) that YAML does not allow; remove it",
                       line, column)
    if not isinstance(exc, MarkedYAMLError):
        return Problem(source, "", f"YAML error: {exc}")
    problem, context = exc.problem or "", exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    ctx_line = exc.context_mark.line + 1 if exc.context_mark is not None else None
    if "'\\t'" in problem:
        message = ("found a tab character; YAML needs spaces for indentation (and a space, "
                   "not a tab, after ':' and '-')")
    elif "that cannot start any token" in problem:
        char = problem.split("'")[1] if problem.count("'") >= 2 else "this character"
        message = f"a plain value cannot start with '{char}'; put the value in quotes"
    elif problem == "mapping values are not allowed here":
        message = ("unexpected ':' - put quotes around a value that contains ': ', "
                   "or fix the indentation of this line")
    elif "could not find expected ':'" in problem:
        mark = exc.context_mark or mark
        message = "expected 'key: value' on this line (is the ':' missing?)"
    elif problem.startswith("expected <block end>"):
        message = (f"the indentation of this line does not match the block that starts on line "
                   f"{ctx_line} (or a '- ' list item is mixed with 'key: value' lines)")
    elif "end of stream" in problem and "quoted scalar" in context:
        mark = exc.context_mark or mark
        message = "this quoted value is never closed (missing closing quote)"
    elif "flow sequence" in context or "flow mapping" in context:
        brackets = "[ ]" if "sequence" in context else "{ }"
        message = f"the {brackets} that opens on line {ctx_line} is not closed properly ({problem})"
    elif "expected a single document" in context:
        message = "only one YAML document is allowed per file (remove the second '---')"
    elif "undefined alias" in problem:
        name = problem.split("'")[1] if problem.count("'") >= 2 else "?"
        message = f"'*{name}' refers to an anchor '&{name}' that is not defined earlier"
    elif "unknown escape character" in problem:
        message = ("unknown escape sequence in a double-quoted value; use single quotes, or "
                   "write '\\\\' for a backslash")
    elif "for merging" in problem or "merge key" in problem:
        message = ("'<<' must be followed by a mapping or a list of mappings, e.g. "
                   "'<<: *defaults', and may appear once per mapping")
    else:
        message = problem + (f" ({context})" if context else "")
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return Problem(source, "", f"YAML syntax error: {message}", line, column)
