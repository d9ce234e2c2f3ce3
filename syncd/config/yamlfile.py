"""YAML files that admins edit, loaded as plain data that remembers where everything was written.

Used for ``syncd.yaml`` and for mapping files. ``load_yaml`` / ``load_yaml_text`` return a
``YamlDocument``: ``.data`` is plain Python (dict, list, str, int, float, bool, None) and
``.position(loc)`` / ``.key_position(loc)`` give the 1-based line and column of a value or key.

Parsing is ruamel.yaml's round-trip loader, and the positions are its own line and column records
(``CommentedMap.lc``, ``CommentedSeq.lc``). The rules admins get (YAML 1.2 core schema, what a
modern editor shows them):

- ``on``, ``off``, ``yes``, ``no``, ``y``, ``n`` are *text*, not booleans (they were booleans in
  YAML 1.1, which turned country code ``NO`` into ``false``). Booleans are ``true``/``false``.
- ``010`` is the number 10 (no surprise octal); ``0o10`` and ``0x1F`` are octal and hex.
- ``null``, ``~`` and an empty value are None. ``.inf`` and ``.nan`` are floats.
- Unquoted dates and times (``2024-01-31``) stay *text* exactly as written; pydantic date fields
  parse them, and text fields are not surprised by a ``datetime``.
- Mapping keys are always text, exactly as written (``1:`` gives the key ``"1"``).
- A document may opt back into YAML 1.1 with a ``%YAML 1.1`` directive.

Duplicate keys (all of them, not just the first), tabs used for indentation, a second document,
tags such as ``!!binary`` or ``!custom`` and a top level that is not a mapping are errors. Anchors,
aliases and ``<<:`` merge keys work; values reached through an alias are the *same* Python object,
so copy before mutating.

ruamel gives the YAML 1.2 scalars itself. ``_Constructor`` bends its round-trip loader where it
differs from the rules above: it would make dates ``date``/``TimeStamp`` objects, build keys with
their scalar types (``1:`` and ``true:`` even collide, since ``1 == True``), stop at the first
duplicate key, keep unknown tags as ``TaggedScalar`` and turn an alias to its own container into
None. Problems found while building are reported together, in file order.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import ReusedAnchorWarning, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scalarbool import ScalarBoolean

from syncd.core.errors import ConfigError, Problem

from .locs import Loc, render_loc
from .yamlsyntax import syntax_problem

__all__ = ["Loc", "Position", "YamlDocument", "load_yaml", "load_yaml_text"]

Position = tuple[int | None, int | None]

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset({"!"} | {_CORE + name for name in (
    "str", "int", "float", "bool", "null", "map", "seq", "timestamp")})


class _Rejected:
    """Stands where a value broke a rule; turning the tree into plain data reports it, with the
    place it was written."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class _Constructor(RoundTripConstructor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicates: dict[int, list[tuple[str, Position, int]]] = {}  # id(map) -> ...
        self.root_position: Position = (1, 1)

    def construct_document(self, node: Any) -> Any:
        self.root_position = _one_based((node.start_mark.line, node.start_mark.column))
        return super().construct_document(node)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node in self.recursive_objects:      # ruamel would put None here
            return _Rejected("an alias refers to the mapping or list that contains it")
        return super().construct_object(node, deep)

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        tag = node.tag if tag is None else tag
        if tag not in _ALLOWED_TAGS:
            return _Rejected(f"unsupported YAML tag '{tag.replace(_CORE, '!!')}'; write a plain "
                             "value (quote it if it should be text)")
        try:
            return super().construct_non_recursive_object(node, tag)
        except (ValueError, KeyError):          # "!!int abc": keep the text, the model explains
            return node.value

    def construct_mapping(self, node: Any, maptyp: Any, deep: bool = False) -> Any:
        for key_node, _ in node.value:          # keys are text exactly as written
            if isinstance(key_node, ScalarNode) and key_node.tag != _CORE + "merge":
                key_node.tag = _CORE + "str"
        return super().construct_mapping(node, maptyp, deep)

    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any,
                          value: Any) -> bool:
        if key not in mapping:
            return True
        where = _one_based((key_node.start_mark.line, key_node.start_mark.column))
        first_line = mapping.lc.key(key)[0] + 1
        self.duplicates.setdefault(id(mapping), []).append((key, where, first_line))
        return False                            # keep the first; report every later one

    def construct_text(self, node: Any) -> Any:  # "!!str 12" and dates: the text as written
        return self.construct_scalar(node)


for _tag in ("str", "timestamp"):
    _Constructor.add_constructor(_CORE + _tag, _Constructor.construct_text)


# --------------------------------------------------------------------------------------------
# Where things were written: ruamel's line/column records, 0-based, made 1-based here


def _owner(mapping: CommentedMap, key: str) -> CommentedMap | None:
    """The mapping whose text holds ``key``: this one, or the '<<' source it was merged from
    (earlier sources win, as in YAML)."""
    if key in (mapping.lc.data or {}):
        return mapping
    for source in getattr(mapping, "merge", None) or ():
        source = source[1] if isinstance(source, tuple) else source   # ruamel 0.18: (index, map)
        found = _owner(source, key) if isinstance(source, CommentedMap) else None
        if found is not None:
            return found
    return None


def _child(node: Any, segment: str | int) -> tuple[Any, Position] | None:
    """The value at ``segment`` inside ``node`` and where it was written, or None."""
    if isinstance(node, CommentedMap):
        key = str(segment)                      # keys are text; pydantic may say 1
        owner = _owner(node, key)
        if owner is not None:
            return owner[key], _one_based(owner.lc.value(key))
    elif isinstance(node, CommentedSeq) and isinstance(segment, int) \
            and 0 <= segment < len(node):
        return node[segment], _one_based(node.lc.item(segment))
    return None


def _one_based(line_column: tuple[int, int]) -> Position:
    return line_column[0] + 1, line_column[1] + 1


class YamlDocument:
    """A parsed YAML file: plain ``data``, and where every key and value was written."""

    def __init__(self, path: Path, data: Any, tree: Any = None, source: str | None = None,
                 root_position: Position = (None, None)) -> None:
        self.path = path
        self.data = data
        self.source = source if source is not None else str(path)  # the name used in messages
        self._tree = tree                       # ruamel's CommentedMap, for its positions
        self._root_position = root_position

    def __repr__(self) -> str:
        return f"YamlDocument({self.source!r})"

    def _walk(self, loc: Loc) -> tuple[Any, Position, bool]:
        """The deepest node along loc, where it was written, and whether all of loc exists."""
        node, where = self._tree, self._root_position
        for segment in loc:
            step = _child(node, segment)
            if step is None:
                return node, where, False
            node, where = step
        return node, where, True

    def position(self, loc: Loc) -> Position:
        """1-based (line, column) of the value at loc (keys are str, list indexes int).

        For a missing key: the position of the nearest existing parent value. (None, None) if
        the document is empty.
        """
        return self._walk(tuple(loc))[1]

    def require_version(self, version: int, what: str) -> None:
        """ConfigError at the ``version`` key when the file says another version of ``what``
        (a mapping, an agreement) than this syncd reads; no ``version`` key reads as this one."""
        data = self.data
        if isinstance(data, dict) and data.get("version") not in (None, version):
            line, column = self.position(("version",))
            raise ConfigError(Problem(str(self.path), "version", f"this syncd reads {what} version {version}, "
                                      f"the file says {data.get('version')!r}", line, column))

    def key_position(self, loc: Loc) -> Position:
        """Like ``position`` but points at the *key* of a mapping entry (better for 'unknown
        key' messages); list items and missing keys fall back to ``position``."""
        loc = tuple(loc)
        if loc:
            parent, _, found = self._walk(loc[:-1])
            owner = _owner(parent, str(loc[-1])) if found and \
                isinstance(parent, CommentedMap) else None
            if owner is not None:
                return _one_based(owner.lc.key(str(loc[-1])))
        return self.position(loc)


# --------------------------------------------------------------------------------------------
# Loading


# A real config or mapping is a few KiB; parsing a huge one takes minutes and gigabytes (a 5 MB
# mapping: 62 s, 532 MB), so anything bigger is refused before it is parsed.
MAX_YAML_BYTES = 1 << 20


def load_yaml(path: Path | str) -> YamlDocument:
    """Read and parse one YAML file. Raises ConfigError with every problem found."""
    path = Path(path)
    source = str(path)

    def fail(message: str, line: int | None = None, column: int | None = None) -> ConfigError:
        return ConfigError(Problem(source, "", message, line, column))

    try:
        with path.open("rb") as file:
            raw = file.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise fail("file not found") from None
    except IsADirectoryError:
        raise fail("is a directory, not a file") from None
    except PermissionError:
        raise fail("permission denied: the user running syncd cannot read this file") from None
    except OSError as exc:
        raise fail(f"cannot read file: {exc.strerror or exc}") from None
    if len(raw) > MAX_YAML_BYTES:
        raise fail(f"the file is larger than {MAX_YAML_BYTES // (1 << 20)} MiB; a config or mapping "
                   "is a few KiB: is this the right file?")
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
    yaml = YAML(typ="rt", pure=True)
    yaml.Constructor = _Constructor
    try:
        with warnings.catch_warnings():
            # Re-using an anchor name is legal YAML (the later one wins); don't print to stderr.
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            tree = yaml.load(text)
    except YAMLError as exc:
        raise ConfigError(syntax_problem(exc, source, text)) from None
    if tree is None:                                        # empty, or only comments
        return YamlDocument(path, {}, None, source)
    constructor: _Constructor = yaml.constructor
    plain = _Plain(source, constructor.duplicates)
    where = constructor.root_position
    data = plain.convert(tree, (), where)
    if not isinstance(tree, CommentedMap):
        kind = "a list" if isinstance(tree, CommentedSeq) else "a single value"
        plain.problem((), f"the top level must be a mapping of 'key: value' lines, not {kind}",
                      where)
    if plain.problems:
        raise ConfigError(sorted(plain.problems, key=lambda p: (p.line or 0, p.column or 0)))
    return YamlDocument(path, data, tree, source, where)


class _Plain:
    """ruamel's round-trip tree -> plain Python data, reporting what breaks the rules."""

    def __init__(self, source: str, duplicates: dict[int, list[tuple[str, Position, int]]]):
        self.source = source
        self.duplicates = duplicates
        self.problems: list[Problem] = []
        self._done: dict[int, Any] = {}         # an alias gives the same object, built once
        self._open: set[int] = set()            # containers being built: a way to spot cycles

    def problem(self, loc: Loc, message: str, where: Position) -> None:
        self.problems.append(Problem(self.source, render_loc(loc), message, *where))

    def convert(self, value: Any, loc: Loc, where: Position) -> Any:
        if isinstance(value, _Rejected):
            self.problem(loc, value.message, where)
            return None
        if not isinstance(value, dict | list):
            return _scalar(value)
        if id(value) in self._open:
            self.problem(loc, "an alias refers to the mapping or list that contains it", where)
            return None
        if id(value) not in self._done:
            self._open.add(id(value))
            children = [(segment, self.convert(child, loc + (segment,), at))
                        for segment, child, at in self._children(value, loc)]
            self._done[id(value)] = dict(children) if isinstance(value, dict) \
                else [child for _, child in children]
            self._open.discard(id(value))
        return self._done[id(value)]

    def _children(self, node: Any, loc: Loc) -> list[tuple[Any, Any, Position]]:
        """(key or index, value, where the value was written) of a mapping or list; reports
        the keys that break the rules."""
        if isinstance(node, list):
            return [(i, item, _one_based(node.lc.item(i))) for i, item in enumerate(node)]
        children = []
        for key in node:                        # merged keys too, explicit ones first
            if isinstance(key, str):
                value, where = _child(node, key)  # type: ignore[misc]
                children.append((str(key), value, where))
            else:
                self.problem(loc, "a key must be plain text, not a list or mapping",
                             _one_based((_owner(node, key) or node).lc.key(key)))
        for key, where, first_line in self.duplicates.get(id(node), ()):
            self.problem(loc + (key,), f"duplicate key '{key}' (first written on line "
                                       f"{first_line}); remove one of them", where)
        return children


def _scalar(value: Any) -> Any:
    """ruamel's scalar types (ScalarInt, ScalarFloat, LiteralScalarString, ...) as plain ones."""
    if value is None or type(value) is bool:
        return value
    if isinstance(value, ScalarBoolean):        # an anchored true/false
        return bool(value)
    for plain in (int, float, str):
        if isinstance(value, plain):
            return plain(value)
    return value
