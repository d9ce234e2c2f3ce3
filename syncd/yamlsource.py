"""Load YAML files that admins edit, and explain mistakes in them by file, line, column and key.

Used for ``syncd.yaml`` and for mapping files. Two jobs:

1. ``load_yaml`` / ``load_yaml_text`` parse a file into plain Python data (dict, list, str, int,
   float, bool, None) and remember where every key and value was written (``YamlDocument``).
2. ``validate`` runs a pydantic model over that data and turns every pydantic error into a
   ``Problem`` that names the file, the 1-based line and column and the dotted field path, in
   plain words. All problems are reported together in one ``ConfigError``.

Scalar rules (YAML 1.2 core schema, which is what an admin expects from a modern editor):

- ``on``, ``off``, ``yes``, ``no``, ``y``, ``n`` are *text*, not booleans (they were booleans in
  YAML 1.1, which turned country code ``NO`` into ``false``). Booleans are ``true``/``false``.
- ``010`` is the number 10 (no surprise octal); ``0o10`` and ``0x1F`` are octal and hex.
- ``null``, ``~`` and an empty value are None. ``.inf`` and ``.nan`` are floats.
- Unquoted dates and times (``2024-01-31``) stay *text* exactly as written; pydantic date fields
  parse them, and text fields are not surprised by a ``datetime``.
- Mapping keys are always text, exactly as written (``1:`` gives the key ``"1"``).
- A document may opt back into YAML 1.1 with a ``%YAML 1.1`` directive.

Duplicate keys, tabs used for indentation, a second document, tags such as ``!!binary`` or
``!custom`` and a top level that is not a mapping are errors. Anchors, aliases and ``<<:`` merge
keys work; values reached through an alias are the *same* Python object, so copy before mutating.

Parsing uses ruamel.yaml's pure-Python composer (no C extension is a dependency): roughly
7,000 lines a second; everything after parsing is linear in the size of the file.
"""

from __future__ import annotations

import difflib
import re
import types
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from syncd.core.errors import ConfigError, Problem

__all__ = [
    "Loc",
    "YamlDocument",
    "ErrorInfo",
    "load_yaml",
    "load_yaml_text",
    "validate",
    "explain_validation_error",
    "problems_from_validation_error",
    "render_loc",
]

Loc = tuple[str | int, ...]
Position = tuple[int | None, int | None]
M = TypeVar("M", bound=BaseModel)

_TAG = "tag:yaml.org,2002:"


# --------------------------------------------------------------------------------------------
# The document and its position index


class _Pos:
    """Where one value was written; for mappings and lists, also where its children were."""

    __slots__ = ("line", "column", "keys", "children")

    def __init__(self, node: Node) -> None:
        self.line = node.start_mark.line + 1
        self.column = node.start_mark.column + 1
        self.keys: dict[str, Position] | None = None          # mapping: key -> key position
        self.children: dict[str, _Pos] | list[_Pos] | None = None

    def child(self, segment: str | int) -> _Pos | None:
        if isinstance(self.children, dict):
            return self.children.get(str(segment))          # keys are text; pydantic may say 1
        if isinstance(self.children, list) and isinstance(segment, int):
            return self.children[segment] if 0 <= segment < len(self.children) else None
        return None


class YamlDocument:
    """A parsed YAML file that remembers where every key and value was written."""

    def __init__(self, path: Path, data: Any, root: _Pos | None, source: str | None = None):
        self.path = path
        self.data = data
        self.source = source if source is not None else str(path)  # the name used in messages
        self._root = root

    def __repr__(self) -> str:
        return f"YamlDocument({self.source!r})"

    def _walk(self, loc: Loc) -> tuple[_Pos | None, bool]:
        """Deepest known position along loc, and whether the whole loc was found."""
        pos = self._root
        if pos is None:
            return None, False
        for segment in loc:
            nxt = pos.child(segment)
            if nxt is None:
                return pos, False
            pos = nxt
        return pos, True

    def position(self, loc: Loc) -> Position:
        """1-based (line, column) of the value at loc (keys are str, list indexes int).

        For a missing key: the position of the nearest existing parent value. (None, None) if
        the document is empty.
        """
        pos, _ = self._walk(tuple(loc))
        return (pos.line, pos.column) if pos else (None, None)

    def key_position(self, loc: Loc) -> Position:
        """Like ``position`` but points at the *key* of a mapping entry (better for 'unknown
        key' messages); list items and missing keys fall back to ``position``."""
        loc = tuple(loc)
        if loc:
            parent, found = self._walk(loc[:-1])
            if found and parent is not None and parent.keys is not None:
                where = parent.keys.get(str(loc[-1]))
                if where is not None:
                    return where
        return self.position(loc)


# --------------------------------------------------------------------------------------------
# Loading


def load_yaml(path: Path | str) -> YamlDocument:
    """Read and parse one YAML file. Raises ConfigError with every problem found."""
    path = Path(path)
    source = str(path)

    def fail(message: str, line: int | None = None, column: int | None = None) -> ConfigError:
        return ConfigError(Problem(source, "", message, line, column))

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fail("file not found") from None
    except IsADirectoryError:
        raise fail("is a directory, not a file") from None
    except PermissionError:
        raise fail("permission denied: the user running syncd cannot read this file") from None
    except OSError as exc:
        raise fail(f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")                      # tolerate a BOM from Windows editors
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise fail("the file is not UTF-8 text; save it as UTF-8", line, column) from None
    return _parse(text, source, path)


def load_yaml_text(text: str, source: str) -> YamlDocument:
    """Parse YAML from a string; ``source`` is the name used in messages."""
    return _parse(text, source, Path(source))


def _parse(text: str, source: str, path: Path) -> YamlDocument:
    yaml = YAML(typ="safe", pure=True)
    try:
        with warnings.catch_warnings():
            # Re-using an anchor name is legal YAML (the later one wins); don't print to stderr.
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            root_node = yaml.compose(text)
    except YAMLError as exc:
        raise ConfigError(_syntax_problem(exc, source, text)) from None
    if root_node is None:                                   # empty, or only comments
        return YamlDocument(path, {}, None, source)
    builder = _Builder(source)
    data, root = builder.build(root_node, ())
    if not isinstance(root_node, MappingNode):
        kind = "a list" if isinstance(root_node, SequenceNode) else "a single value"
        builder.problems.append(Problem(
            source, "", f"the top level must be a mapping of 'key: value' lines, not {kind}",
            root.line, root.column))
    if builder.problems:
        raise ConfigError(builder.problems)
    return YamlDocument(path, data, root, source)


class _Builder:
    """Turns a ruamel node tree into plain data plus a parallel ``_Pos`` tree."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # Aliases point at the same node: build it once (this also defuses "billion laughs").
        self._done: dict[int, tuple[Any, _Pos] | None] = {}

    def problem(self, loc: Loc, message: str, node: Node) -> None:
        self.problems.append(Problem(self.source, render_loc(loc), message,
                                     node.start_mark.line + 1, node.start_mark.column + 1))

    def build(self, node: Node, loc: Loc) -> tuple[Any, _Pos]:
        key = id(node)
        if key in self._done:
            done = self._done[key]
            if done is None:
                self.problem(loc, "an alias refers to the mapping or list that contains it", node)
                return None, _Pos(node)
            return done
        self._done[key] = None
        if isinstance(node, MappingNode):
            result = self._mapping(node, loc)
        elif isinstance(node, SequenceNode):
            pos = _Pos(node)
            items = [self.build(item, loc + (i,)) for i, item in enumerate(node.value)]
            pos.children = [p for _, p in items]
            result = ([v for v, _ in items], pos)
        else:
            result = (self._scalar(node, loc), _Pos(node))
        self._done[key] = result
        return result

    def _mapping(self, node: MappingNode, loc: Loc) -> tuple[dict[str, Any], _Pos]:
        pos = _Pos(node)
        data: dict[str, Any] = {}
        pos.keys, pos.children = {}, {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(loc, "a key must be plain text, not a list or mapping", key_node)
                continue
            name = str(key_node.value)
            if name in data:
                self.problem(loc + (name,), f"duplicate key '{name}' (first written on line "
                             f"{pos.keys[name][0]}); remove one of them", key_node)
                continue
            value, value_pos = self.build(value_node, loc + (name,))
            data[name] = value
            pos.keys[name] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            pos.children[name] = value_pos
        # "<<: *defaults" copies keys not written explicitly; with a list, earlier ones win.
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for src in sources:
                if not isinstance(src, MappingNode):
                    self.problem(loc, "'<<' must be followed by a mapping or a list of "
                                      "mappings, e.g. '<<: *defaults'", src)
                    continue
                merged, merged_pos = self.build(src, loc)
                for name, value in (merged or {}).items():
                    if name not in data:
                        data[name] = value
                        pos.keys[name] = merged_pos.keys[name]     # type: ignore[index]
                        pos.children[name] = merged_pos.children[name]  # type: ignore[index]
        return data, pos

    def _scalar(self, node: Node, loc: Loc) -> Any:
        tag, text = node.tag, node.value
        if tag in ("!", _TAG + "str", _TAG + "timestamp"):
            return text
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return text.lower() in ("true", "yes", "on", "y")    # the last three: %YAML 1.1
        if tag in (_TAG + "int", _TAG + "float"):
            try:
                return _number(text, tag == _TAG + "int")
            except ValueError:
                return text                 # e.g. YAML 1.1 sexagesimal 1:30 - keep as written
        self.problem(loc, f"unsupported YAML tag '{tag.replace(_TAG, '!!')}'; write a plain "
                          "value (quote it if it should be text)", node)
        return text


def _number(text: str, integer: bool) -> int | float:
    clean = text.replace("_", "")
    if integer:
        sign = -1 if clean.startswith("-") else 1
        digits = clean.lstrip("+-")
        for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
            if digits.lower().startswith(prefix):
                return sign * int(digits[2:], base)
        return int(clean, 10)                            # "010" is ten in YAML 1.2
    lowered = clean.lower()
    if lowered.lstrip("+-") == ".inf":
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(clean)


# Parser messages are written for YAML implementers; these say what to do instead.
def _syntax_problem(exc: YAMLError, source: str, text: str) -> Problem:
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
    else:
        message = problem + (f" ({context})" if context else "")
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return Problem(source, "", f"YAML syntax error: {message}", line, column)


# --------------------------------------------------------------------------------------------
# Validation errors -> Problems


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


@dataclass(frozen=True)
class ErrorInfo:
    """One pydantic error, translated: where in the data (without pydantic's union labels),
    what to say, and whether to point at the key rather than the value."""

    loc: Loc
    message: str
    at_key: bool = False


def validate(model: type[M], doc: YamlDocument, *, data: Any = None,
             context: dict[str, Any] | None = None) -> M:
    """``model.model_validate(data or doc.data)``; on failure raise ConfigError listing every
    problem with its file position."""
    payload = doc.data if data is None else data
    try:
        return model.model_validate(payload, context=context)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation_error(exc, doc, model=model,
                                                         data=payload)) from None


def problems_from_validation_error(err: ValidationError, doc: YamlDocument, *,
                                   prefix_loc: Loc = (), model: type[BaseModel] | None = None,
                                   data: Any = None) -> list[Problem]:
    """One Problem per pydantic error. ``prefix_loc`` locates the validated data inside ``doc``
    (when a sub-tree was validated); ``model`` enables 'did you mean' suggestions and precise
    handling of unions; ``data`` is what was validated (default: the sub-tree at prefix_loc)."""
    prefix_loc = tuple(prefix_loc)
    if data is None:
        data = _get(doc.data, prefix_loc)
    problems = []
    for info in explain_validation_error(err, model=model, data=data):
        loc = prefix_loc + info.loc
        line, column = doc.key_position(loc) if info.at_key else doc.position(loc)
        problems.append(Problem(doc.source, render_loc(loc), info.message, line, column))
    return problems


def explain_validation_error(err: ValidationError, *, model: type[BaseModel] | None = None,
                             data: Any = None) -> list[ErrorInfo]:
    """Translate pydantic errors into ``ErrorInfo``s (no file positions); see module docs.

    Never includes the offending *value* in a message: it may be a secret.
    """
    walked = [(e, _walk_loc(e["loc"], model, data)) for e in err.errors(include_url=False)]
    walked = _best_union_branches(walked)
    infos: list[ErrorInfo] = []
    seen: dict[Loc, int] = {}
    unique: set[ErrorInfo] = set()
    for error, (loc, parent_model, via_union) in walked:
        info = _explain_one(error, loc, parent_model)
        if via_union and info.loc in seen:
            # Smart unions report one error per alternative at the same place: join them.
            i = seen[info.loc]
            if info.message not in infos[i].message:
                infos[i] = ErrorInfo(info.loc, f"{infos[i].message}; or {info.message}",
                                     infos[i].at_key)
            continue
        if info not in unique:
            unique.add(info)
            seen.setdefault(info.loc, len(infos))
            infos.append(info)
    return infos


# -- walking pydantic's loc alongside the model and the data ---------------------------------

_UNKNOWN = object()


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:       # pydantic adds no loc segment for a plain Optional[X]
                return tp
            tp = members[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _model_field(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias, field.validation_alias):
            return field.annotation
    return _UNKNOWN


def _union_member(members: tuple[Any, ...], label: str | int) -> Any:
    """The union member pydantic meant by a loc label: a class name (smart union) or a
    discriminator value (tagged union)."""
    for member in members:
        member = _unwrap(member)
        if _is_model(member):
            if member.__name__ == label:
                return member
            for field in member.model_fields.values():
                annotation = _unwrap(field.annotation)
                if get_origin(annotation) is Literal and label in get_args(annotation):
                    return member
    return _UNKNOWN


def _walk_loc(raw: tuple[str | int, ...], model: Any, data: Any
              ) -> tuple[Loc, type[BaseModel] | None, tuple[tuple[Any, ...], ...]]:
    """Returns (data loc, model at the parent of the last segment, union sites passed).

    Union labels are recognised from the model's types when known, otherwise from the data:
    a segment that names nothing in the data (and is not the last) is a pydantic label.
    """
    tp = model if model is not None else _UNKNOWN
    out: list[str | int] = []
    parent: type[BaseModel] | None = None
    sites: list[tuple[Any, ...]] = []
    last = len(raw) - 1
    for i, segment in enumerate(raw):
        tp = _unwrap(tp) if tp is not _UNKNOWN else tp
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            sites.append((tuple(raw[:i]), segment))
            tp = _union_member(get_args(tp), segment)
            continue
        if i == last:
            parent = tp if _is_model(tp) else None
        if _is_model(tp) and isinstance(segment, str):
            tp = _model_field(tp, segment)
        elif origin in (list, tuple, set, frozenset) and isinstance(segment, int):
            args = [a for a in get_args(tp) if a is not Ellipsis]
            tp = (args[segment] if origin is tuple and len(args) > 1 and segment < len(args)
                  else args[0] if args else _UNKNOWN)
        elif origin in (dict, Mapping) or tp is dict:
            if segment == "[key]":                       # pydantic's marker for a bad dict key
                continue
            args = get_args(tp)
            tp = args[1] if len(args) == 2 else _UNKNOWN
        else:
            tp = _UNKNOWN
            if i < last and not _has(data, segment):
                sites.append((tuple(raw[:i]), segment))
                continue
        out.append(segment)
        data = _get(data, (segment,))
    return tuple(out), parent, tuple(sites)


def _has(data: Any, segment: str | int) -> bool:
    if isinstance(data, dict):
        return segment in data
    return isinstance(data, list) and isinstance(segment, int) and 0 <= segment < len(data)


def _get(data: Any, loc: Loc) -> Any:
    for segment in loc:
        data = data[segment] if _has(data, segment) else None
    return data


def _best_union_branches(walked: list[Any]) -> list[Any]:
    """Where pydantic tried several union alternatives, keep only the alternative(s) with the
    fewest errors: an item with ``kind: a`` should hear about alternative A, not all of them."""
    sites = {s[0] for _, (_, _, union_sites) in walked for s in union_sites}
    for site in sorted(sites, key=len):
        counts: dict[Any, int] = {}
        for _, (_, _, union_sites) in walked:
            for s in union_sites:
                if s[0] == site:
                    counts[s[1]] = counts.get(s[1], 0) + 1
        best = min(counts.values())
        walked = [w for w in walked
                  if all(s[0] != site or counts[s[1]] == best for s in w[1][2])]
    return walked


# -- messages -------------------------------------------------------------------------------

_EXPECTED = {
    "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "decimal_type": "a number", "decimal_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "text", "bytes_type": "text",
    "list_type": "a list", "tuple_type": "a list", "set_type": "a list",
    "frozen_set_type": "a list", "iterable_type": "a list",
    "dict_type": "a mapping ('key: value' lines)", "model_type": "a mapping ('key: value' lines)",
    "model_attributes_type": "a mapping ('key: value' lines)",
    "dataclass_type": "a mapping ('key: value' lines)",
    "none_required": "no value (null)", "path_type": "a file path", "url_type": "a URL",
    "date_type": "a date like 2024-01-31", "date_parsing": "a date like 2024-01-31",
    "datetime_type": "a date and time like 2024-01-31T09:00:00Z",
    "datetime_parsing": "a date and time like 2024-01-31T09:00:00Z",
}

_CONSTRAINTS = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "string_too_long": "must be at most {max_length} characters long",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} items",
    "string_pattern_mismatch": "must match the pattern {pattern}",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
}


def _kind(value: Any) -> str:
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number with a fraction" if value != int(value) else "a number"
    if isinstance(value, str):
        return "empty text" if value == "" else "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _explain_one(error: Any, loc: Loc, parent: type[BaseModel] | None) -> ErrorInfo:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        return ErrorInfo(loc, _unknown_key_message(key, parent), at_key=True)
    if kind == "missing":
        return ErrorInfo(loc, "required key is missing")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag_key = str(ctx.get("discriminator", "")).strip("'")
        if not re.fullmatch(r"[\w-]+", tag_key):      # a callable discriminator: no key to name
            return ErrorInfo(loc, f"does not match any allowed form (expected "
                                  f"{ctx.get('expected_tags', 'another form')})")
        if kind == "union_tag_not_found":
            return ErrorInfo(loc + (tag_key,), "required key is missing")
        return ErrorInfo(loc + (tag_key,), f"must be one of {ctx.get('expected_tags')}")
    if kind in _EXPECTED:
        return ErrorInfo(loc, f"expected {_EXPECTED[kind]}, got {_kind(error.get('input'))}")
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return ErrorInfo(loc, "must not be empty" if n == 1 else f"must be at least {n} "
                                                                 "characters long")
    if kind in _CONSTRAINTS:
        return ErrorInfo(loc, _CONSTRAINTS[kind].format(**ctx))
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return ErrorInfo(loc, str(ctx["error"]))     # our validators' own words
    message = str(error.get("msg", kind))
    if message.startswith("Input should"):
        message = "must" + message[len("Input should"):]
    return ErrorInfo(loc, message[:1].lower() + message[1:])


def _unknown_key_message(key: str, model: type[BaseModel] | None) -> str:
    message = f"unknown key '{key}'"
    if model is None:
        return message
    names = [f.alias or n for n, f in model.model_fields.items()]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if close:
        message += f" (did you mean '{close[0]}'?)"
    hint = unknown_key_hint(model, key)
    return f"{message}; {hint}" if hint else message


def unknown_key_hint(model: type[BaseModel], key: str) -> str | None:
    """Models may explain well-known wrong keys with ``UNKNOWN_KEY_HINTS: ClassVar[dict]``."""
    hints = getattr(model, "UNKNOWN_KEY_HINTS", None) or {}
    return hints.get(key.lower())
