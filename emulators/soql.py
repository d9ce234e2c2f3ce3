"""A SOQL subset: tokenizer, recursive-descent parser, schema binder and evaluator.

Pure: no I/O, no emulator state. The emulator hands :func:`compile_query` a query string and
a :class:`~emulators.salesforce_schema.Schema`, then runs the result over its records.

Supported::

    SELECT COUNT() | path[, path...]      path = Field | Relationship.Field | R1.R2.Field
    FROM SObject
    [WHERE condition]                     AND / OR / NOT, parentheses; AND and OR can't be
                                          mixed at one level without parentheses (as in SOQL)
    [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST][, ...]]
    [LIMIT n] [OFFSET n]

Operators ``= != <> < <= > >= IN NOT IN LIKE``; literals: single-quoted strings with the SOQL
escape sequences, numbers, ``true``/``false``/``null``, unquoted date (``2024-01-31``) and
datetime (``2024-01-31T10:00:00Z``, ``...+01:00``, ``...+0100``, optional fraction) literals.

Errors are :class:`SoqlError` carrying the Salesforce ``errorCode`` (MALFORMED_QUERY,
INVALID_FIELD, INVALID_TYPE, INVALID_QUERY_FILTER_OPERATOR, NUMBER_OUTSIDE_VALID_RANGE).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

from emulators.salesforce_schema import (
    NUMBER_TYPES,
    STRING_TYPES,
    FieldDef,
    Schema,
    SObjectDef,
    normalize_id,
    render_value,
)

MAX_QUERY_LENGTH = 100_000
MAX_WHERE_STRING_LENGTH = 4_000
MAX_OFFSET = 2_000

KEYWORDS = frozenset({
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
    "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL", "GROUP", "HAVING",
    "WITH", "INCLUDES", "EXCLUDES", "USING", "FOR", "TYPEOF", "END", "WHEN", "THEN", "ELSE",
})


class SoqlError(Exception):
    """A query Salesforce would reject; ``error_code`` is the REST ``errorCode``."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


# --- tokens -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # IDENT STRING NUMBER DATE DATETIME OP LPAREN RPAREN COMMA DOT EOF
    text: str  # source text of the token
    pos: int
    value: Any = None
    # STRING only: per character, True when it came from \_ or \% (literal even in LIKE).
    like_literal: tuple[bool, ...] = ()

    @property
    def has_like_escape(self) -> bool:
        return any(self.like_literal)

    def upper(self) -> str:
        return self.text.upper() if self.kind == "IDENT" else ""


_SIMPLE_ESCAPES = {"n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t",
                   "b": "\b", "B": "\b", "f": "\f", "F": "\f", '"': '"', "'": "'", "\\": "\\"}

_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})")
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?|-?\.\d+")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _location(text: str, pos: int) -> tuple[int, int]:
    row = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return row, col


def malformed(text: str, pos: int, detail: str) -> SoqlError:
    """MALFORMED_QUERY with Salesforce's ``ERROR at Row:r:Column:c`` framing."""
    row, col = _location(text, pos)
    line = text.split("\n")[row - 1] if text else ""
    snippet = line[max(0, col - 60):col + 40]
    return SoqlError("MALFORMED_QUERY",
                     f"\n{snippet}\n{' ' * (min(col, 60) - 1)}^\n"
                     f"ERROR at Row:{row}:Column:{col}\n{detail}")


def _parse_datetime(m: re.Match[str], text: str, pos: int) -> dt.datetime:
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m.group(7), m.group(8)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    if zone == "Z":
        tz = dt.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        raise malformed(text, pos, f"line {_location(text, pos)[0]}:{pos} "
                                   f"invalid datetime: {m.group(0)}") from None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n\f":
            i += 1
            continue
        start = i
        if ch == "'":
            i += 1
            out: list[str] = []
            like_literal: list[bool] = []
            while True:
                if i >= n:
                    row, col = _location(text, n)
                    raise malformed(text, start, f"line {row}:{col} mismatched character "
                                                 f"'<EOF>' expecting '''")
                c = text[i]
                if c == "'":
                    i += 1
                    break
                if c == "\\":
                    if i + 1 >= n:
                        row, col = _location(text, n)
                        raise malformed(text, start, f"line {row}:{col} mismatched character "
                                                     f"'<EOF>' expecting '''")
                    e = text[i + 1]
                    if e in _SIMPLE_ESCAPES:
                        out.append(_SIMPLE_ESCAPES[e])
                        like_literal.append(False)
                        i += 2
                    elif e in "_%":
                        out.append(e)
                        like_literal.append(True)
                        i += 2
                    elif e == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2:i + 6] or ""):
                        out.append(chr(int(text[i + 2:i + 6], 16)))
                        like_literal.append(False)
                        i += 6
                    else:
                        raise malformed(text, i, f"Invalid string literal "
                                                 f"'{text[start + 1:i + 2]}'. Illegal character "
                                                 f"sequence '\\{e}' in string literal.")
                    continue
                out.append(c)
                like_literal.append(False)
                i += 1
            tokens.append(Token("STRING", text[start:i], start, "".join(out),
                                tuple(like_literal)))
            continue
        if ch.isdigit() or (ch in "-." and i + 1 < n and text[i + 1].isdigit()):
            m = _DATETIME_RE.match(text, i)
            if m:
                tokens.append(Token("DATETIME", m.group(0), start,
                                    _parse_datetime(m, text, start)))
                i = m.end()
                continue
            m = _DATE_RE.match(text, i)
            if m and not (m.end() < n and (text[m.end()].isalnum() or text[m.end()] == "T")):
                try:
                    value = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                except ValueError:
                    raise malformed(text, start, f"invalid date: {m.group(0)}") from None
                tokens.append(Token("DATE", m.group(0), start, value))
                i = m.end()
                continue
            m = _NUMBER_RE.match(text, i)
            if m:
                end = m.end()
                if end < n and (text[end].isalpha() or text[end] == "_"):
                    raise malformed(text, start, f"unexpected token: "
                                                 f"'{text[start:end + 1]}'")
                raw = m.group(0)
                value: Any = Decimal(raw)
                tokens.append(Token("NUMBER", raw, start, value))
                i = end
                continue
        m = _IDENT_RE.match(text, i)
        if m:
            tokens.append(Token("IDENT", m.group(0), start))
            i = m.end()
            continue
        two = text[i:i + 2]
        if two in ("!=", "<>", "<=", ">="):
            tokens.append(Token("OP", two, start))
            i += 2
            continue
        if ch in "=<>":
            tokens.append(Token("OP", ch, start))
            i += 1
            continue
        simple = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", ".": "DOT"}
        if ch in simple:
            tokens.append(Token(simple[ch], ch, start))
            i += 1
            continue
        if ch == '"':
            raise malformed(text, start, "unexpected token: '\"' (use single quotes for "
                                         "string literals)")
        raise malformed(text, start, f"unexpected token: '{ch}'")
    tokens.append(Token("EOF", "<EOF>", n))
    return tokens


# --- syntax tree ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldPath:
    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Literal:
    kind: str  # string number boolean null date datetime
    value: Any
    token: Token


@dataclass(frozen=True)
class Comparison:
    path: FieldPath
    op: str  # = != < <= > >= IN NOT IN LIKE
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND / OR
    items: tuple["Condition", ...]


@dataclass(frozen=True)
class Not:
    item: "Condition"


Condition = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    path: FieldPath
    descending: bool = False
    nulls_last: bool | None = None  # None: SOQL default (ASC nulls first, DESC nulls last)

    @property
    def effective_nulls_last(self) -> bool:
        return self.descending if self.nulls_last is None else self.nulls_last


@dataclass(frozen=True)
class Query:
    text: str
    fields: tuple[FieldPath, ...]
    count: bool
    sobject: str
    sobject_pos: int
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    alias: str | None = None


# --- parser -----------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != "EOF":
            self.i += 1
        return t

    def error(self, token: Token | None = None, detail: str | None = None) -> SoqlError:
        token = token or self.tok
        return malformed(self.text, token.pos, detail or f"unexpected token: '{token.text}'")

    def is_kw(self, word: str, token: Token | None = None) -> bool:
        token = token or self.tok
        return token.kind == "IDENT" and token.text.upper() == word

    def expect_kw(self, word: str) -> Token:
        if not self.is_kw(word):
            raise self.error(detail=f"unexpected token: '{self.tok.text}'"
                             if self.tok.kind != "EOF" else f"expecting {word}, found '<EOF>'")
        return self.advance()

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            raise self.error()
        return self.advance()

    # grammar
    def parse(self) -> Query:
        self.expect_kw("SELECT")
        fields: list[FieldPath] = []
        count = False
        if self.is_kw("COUNT") and self.peek().kind == "LPAREN":
            self.advance()
            self.advance()
            if self.tok.kind != "RPAREN":
                raise self.error(detail="COUNT(field) is not supported here; use COUNT()")
            self.advance()
            count = True
            if self.tok.kind == "COMMA":
                raise self.error()
        else:
            fields.append(self.field_path(select=True))
            while self.tok.kind == "COMMA":
                self.advance()
                fields.append(self.field_path(select=True))
        self.expect_kw("FROM")
        obj = self.tok
        if obj.kind != "IDENT" or obj.text.upper() in KEYWORDS:
            raise self.error()
        self.advance()
        alias = None
        if self.tok.kind == "IDENT" and not self.is_clause_keyword(self.tok):
            alias = self.advance().text  # "FROM Lead l": l.Email then means Email
        where = None
        order_by: list[OrderItem] = []
        limit = offset = None
        if self.is_kw("WHERE"):
            self.advance()
            where = self.condition()
        if self.is_kw("WITH") or self.is_kw("GROUP") or self.is_kw("HAVING"):
            raise self.error(detail=f"{self.tok.text.upper()} clauses are not supported by "
                                    f"this emulator")
        if self.is_kw("ORDER"):
            self.advance()
            self.expect_kw("BY")
            order_by.append(self.order_item())
            while self.tok.kind == "COMMA":
                self.advance()
                order_by.append(self.order_item())
        if self.is_kw("LIMIT"):
            self.advance()
            limit = self.integer()
        if self.is_kw("OFFSET"):
            self.advance()
            offset = self.integer()
        if self.tok.kind != "EOF":
            raise self.error()
        return Query(self.text, tuple(fields), count, obj.text, obj.pos, where,
                     tuple(order_by), limit, offset, alias)

    @staticmethod
    def is_clause_keyword(token: Token) -> bool:
        return token.text.upper() in {"WHERE", "ORDER", "LIMIT", "OFFSET", "WITH", "GROUP",
                                      "HAVING", "USING", "FOR"}

    def integer(self) -> int:
        t = self.tok
        if t.kind != "NUMBER" or "." in t.text or t.text.startswith("-"):
            raise self.error()
        self.advance()
        return int(t.text)

    def field_path(self, select: bool = False) -> FieldPath:
        t = self.tok
        if t.kind != "IDENT" or t.text.upper() in KEYWORDS:
            raise self.error()
        parts = [self.advance().text]
        while self.tok.kind == "DOT":
            self.advance()
            if self.tok.kind != "IDENT":
                raise self.error()
            parts.append(self.advance().text)
        return FieldPath(tuple(parts), t.pos)

    def order_item(self) -> OrderItem:
        path = self.field_path()
        descending = False
        nulls_last: bool | None = None
        if self.is_kw("ASC"):
            self.advance()
        elif self.is_kw("DESC"):
            self.advance()
            descending = True
        if self.is_kw("NULLS"):
            self.advance()
            if self.is_kw("FIRST"):
                nulls_last = False
            elif self.is_kw("LAST"):
                nulls_last = True
            else:
                raise self.error()
            self.advance()
        return OrderItem(path, descending, nulls_last)

    def condition(self) -> Condition:
        first = self.unary()
        if not (self.is_kw("AND") or self.is_kw("OR")):
            return first
        op = self.tok.text.upper()
        items = [first]
        while self.is_kw("AND") or self.is_kw("OR"):
            if self.tok.text.upper() != op:
                # SOQL requires parentheses when AND and OR are combined.
                raise self.error()
            self.advance()
            items.append(self.unary())
        return BoolOp(op, tuple(items))

    def unary(self) -> Condition:
        if self.is_kw("NOT"):
            self.advance()
            return Not(self.unary())
        if self.tok.kind == "LPAREN":
            self.advance()
            inner = self.condition()
            self.expect("RPAREN")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        path = self.field_path()
        t = self.tok
        if t.kind == "OP":
            self.advance()
            op = "!=" if t.text == "<>" else t.text
            return Comparison(path, op, self.literal())
        if self.is_kw("LIKE"):
            self.advance()
            return Comparison(path, "LIKE", self.literal(like=True))
        if self.is_kw("IN"):
            self.advance()
            return Comparison(path, "IN", self.literal_list())
        if self.is_kw("NOT") and self.is_kw("IN", self.peek()):
            self.advance()
            self.advance()
            return Comparison(path, "NOT IN", self.literal_list())
        if self.is_kw("INCLUDES") or self.is_kw("EXCLUDES"):
            raise self.error(detail="INCLUDES/EXCLUDES are not supported by this emulator")
        raise self.error()

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect("LPAREN")
        if self.is_kw("SELECT"):
            raise self.error(detail="semi-join subqueries are not supported by this emulator")
        items = [self.literal()]
        while self.tok.kind == "COMMA":
            self.advance()
            items.append(self.literal())
        self.expect("RPAREN")
        return tuple(items)

    def literal(self, like: bool = False) -> Literal:
        t = self.tok
        if t.kind == "STRING":
            if t.has_like_escape and not like:
                idx = t.like_literal.index(True)
                raise malformed(self.text, t.pos,
                                f"Invalid string literal '{t.text[1:-1]}'. Illegal character "
                                f"sequence '\\{t.value[idx]}' in string literal.")
            if len(t.value) > MAX_WHERE_STRING_LENGTH:
                raise malformed(self.text, t.pos,
                                f"String literal too long: strings in a WHERE clause can't "
                                f"exceed {MAX_WHERE_STRING_LENGTH} characters "
                                f"(found {len(t.value)})")
            self.advance()
            return Literal("string", t.value, t)
        if t.kind == "NUMBER":
            self.advance()
            return Literal("number", t.value, t)
        if t.kind == "DATE":
            self.advance()
            return Literal("date", t.value, t)
        if t.kind == "DATETIME":
            self.advance()
            return Literal("datetime", t.value, t)
        if t.kind == "IDENT":
            word = t.text.upper()
            if word in ("TRUE", "FALSE"):
                self.advance()
                return Literal("boolean", word == "TRUE", t)
            if word == "NULL":
                self.advance()
                return Literal("null", None, t)
        raise self.error()


def parse(text: str) -> Query:
    """Parse a SOQL statement (syntax only; see :func:`bind` for names and types)."""
    if len(text) > MAX_QUERY_LENGTH:
        raise SoqlError("MALFORMED_QUERY",
                        f"SOQL statements cannot exceed {MAX_QUERY_LENGTH} characters "
                        f"(found {len(text)})")
    if not text.strip():
        raise SoqlError("MALFORMED_QUERY", "unexpected token: '<EOF>'")
    return _Parser(text).parse()


# --- binding to a schema ----------------------------------------------------------------------

Resolver = Callable[[str, str], "dict[str, Any] | None"]
UrlFor = Callable[[str, str], str]


@dataclass(frozen=True)
class BoundPath:
    """A field path resolved against the schema: relationship hops, then the final field."""

    hops: tuple[FieldDef, ...]   # reference fields traversed, in order
    hop_objects: tuple[SObjectDef, ...]  # the object each hop lands on
    field: FieldDef
    owner: SObjectDef            # the object that holds ``field``

    def value(self, record: dict[str, Any], resolve: Resolver) -> Any:
        current: dict[str, Any] | None = record
        for hop, target in zip(self.hops, self.hop_objects):
            ref = current.get(hop.name) if current is not None else None
            if ref is None:
                return None
            current = resolve(target.name, ref)
            if current is None:
                return None
        return current.get(self.field.name) if current is not None else None


def _no_such_column(name: str, sobject: str) -> SoqlError:
    return SoqlError(
        "INVALID_FIELD",
        f"\nNo such column '{name}' on entity '{sobject}'. If you are attempting to use a "
        f"custom field, be sure to append the '__c' after the custom field name. Please "
        f"reference your WSDL or the describe call for the appropriate names.")


def _bind_path(schema: Schema, root: SObjectDef, path: FieldPath,
               alias: str | None = None) -> BoundPath:
    hops: list[FieldDef] = []
    objects: list[SObjectDef] = []
    current = root
    parts = list(path.parts)
    # "SELECT Lead.Email FROM Lead" / "SELECT l.Email FROM Lead l": the prefix names the root.
    prefixes = {root.name.lower()} | ({alias.lower()} if alias else set())
    if len(parts) > 1 and parts[0].lower() in prefixes \
            and current.relationship(parts[0]) is None:
        parts = parts[1:]
    for rel in parts[:-1]:
        ref = current.relationship(rel)
        if ref is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"\nDidn't understand relationship '{rel}' in field path. If you are "
                f"attempting to use a custom relationship, be sure to append the '__r' after "
                f"the custom relationship name. Please reference your WSDL or the describe "
                f"call for the appropriate names.")
        target = schema.get(ref.reference_to[0])
        if target is None:
            raise SoqlError("INVALID_FIELD", f"relationship '{rel}' points at an unknown object")
        hops.append(ref)
        objects.append(target)
        current = target
    fd = current.field(parts[-1])
    if fd is None:
        raise _no_such_column(parts[-1], current.name)
    return BoundPath(tuple(hops), tuple(objects), fd, current)


_TYPE_WORD = {"int": "double", "double": "double", "currency": "double", "percent": "double",
              "boolean": "boolean", "date": "date", "datetime": "dateTime"}


def _check_literal(path: BoundPath, lit: Literal, op: str) -> Any:
    """Validate ``lit`` against the field's type; return the comparable value."""
    fd = path.field
    if lit.kind == "null":
        if op not in ("=", "!=", "IN", "NOT IN"):
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR",
                            f"invalid operator on null value for field '{fd.name}'")
        return None
    if fd.type in STRING_TYPES:
        if lit.kind != "string":
            raise SoqlError("INVALID_FIELD",
                            f"\nvalue of filter criterion for field '{fd.name}' must be of "
                            f"type string and should be enclosed in quotes")
        if fd.type in ("id", "reference") and op != "LIKE":
            normalized = normalize_id(lit.value)
            if normalized is None:
                raise SoqlError("INVALID_QUERY_FILTER_OPERATOR",
                                f"\ninvalid ID field: {lit.value}")
            return normalized
        return lit.value
    word = _TYPE_WORD[fd.type]
    expected = {"double": "number", "boolean": "boolean", "date": "date",
                "dateTime": "datetime"}[word]
    if lit.kind != expected:
        raise SoqlError("INVALID_FIELD",
                        f"\nvalue of filter criterion for field '{fd.name}' must be of type "
                        f"{word} and should not be enclosed in quotes")
    return lit.value


def _fold(fd: FieldDef, value: Any) -> Any:
    """The comparison form of a stored value (case-insensitive text, exact ids)."""
    if value is None:
        return None
    if fd.type in STRING_TYPES:
        if fd.type in ("id", "reference") or fd.case_sensitive:
            return value
        return value.casefold()
    if fd.type in NUMBER_TYPES:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if fd.type == "datetime":
        return value.astimezone(dt.timezone.utc)
    return value


def like_regex(token: Token) -> re.Pattern[str]:
    """The regex for a LIKE pattern: unescaped ``%`` / ``_`` are wildcards."""
    parts: list[str] = []
    for ch, literal in zip(token.value, token.like_literal):
        if ch == "%" and not literal:
            parts.append(".*")
        elif ch == "_" and not literal:
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


Predicate = Callable[[dict[str, Any], Resolver], bool]


def _compile_comparison(schema: Schema, root: SObjectDef, cmp: Comparison,
                        alias: str | None = None) -> Predicate:
    path = _bind_path(schema, root, cmp.path, alias)
    fd = path.field
    if not fd.filterable:
        raise SoqlError("INVALID_FIELD",
                        f"\nfield '{fd.name}' can not be filtered in a query call")
    op = cmp.op

    def getter(record: dict[str, Any], resolve: Resolver) -> Any:
        return _fold(fd, path.value(record, resolve))

    if op == "LIKE":
        lit = cmp.value
        assert isinstance(lit, Literal)
        if fd.type not in STRING_TYPES or fd.type in ("id", "reference"):
            raise SoqlError("INVALID_FIELD",
                            f"\ninvalid operator on field '{fd.name}': LIKE needs a text field")
        if lit.kind != "string":
            raise SoqlError("INVALID_FIELD",
                            f"\nvalue of filter criterion for field '{fd.name}' must be of "
                            f"type string and should be enclosed in quotes")
        pattern = like_regex(lit.token)

        def like(record: dict[str, Any], resolve: Resolver) -> bool:
            value = path.value(record, resolve)
            return value is not None and pattern.fullmatch(value) is not None
        return like

    if op in ("IN", "NOT IN"):
        assert isinstance(cmp.value, tuple)
        values = {_fold(fd, _check_literal(path, lit, op)) for lit in cmp.value}
        if op == "IN":
            return lambda record, resolve: getter(record, resolve) in values
        return lambda record, resolve: getter(record, resolve) not in values

    lit = cmp.value
    assert isinstance(lit, Literal)
    target = _fold(fd, _check_literal(path, lit, op))
    if op == "=":
        return lambda record, resolve: getter(record, resolve) == target
    if op == "!=":
        return lambda record, resolve: getter(record, resolve) != target
    if fd.type == "boolean":
        raise SoqlError("INVALID_QUERY_FILTER_OPERATOR",
                        f"\ninvalid operator on boolean field '{fd.name}'")
    compare = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
               ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]

    def ordered(record: dict[str, Any], resolve: Resolver) -> bool:
        value = getter(record, resolve)
        return value is not None and compare(value, target)
    return ordered


def _compile_condition(schema: Schema, root: SObjectDef, cond: Condition,
                       alias: str | None = None) -> Predicate:
    if isinstance(cond, Comparison):
        return _compile_comparison(schema, root, cond, alias)
    if isinstance(cond, Not):
        inner = _compile_condition(schema, root, cond.item, alias)
        return lambda record, resolve: not inner(record, resolve)
    items = [_compile_condition(schema, root, c, alias) for c in cond.items]
    if cond.op == "AND":
        return lambda record, resolve: all(p(record, resolve) for p in items)
    return lambda record, resolve: any(p(record, resolve) for p in items)


@dataclass
class QueryResult:
    total_size: int
    records: list[dict[str, Any]]


@dataclass
class BoundQuery:
    query: Query
    sobject: SObjectDef
    fields: list[BoundPath]
    predicate: Predicate | None
    order: list[tuple[BoundPath, OrderItem]]
    index_hint: tuple[FieldDef, list[Any]] | None = field(default=None)

    @property
    def count_only(self) -> bool:
        return self.query.count

    def matches(self, record: dict[str, Any], resolve: Resolver) -> bool:
        return self.predicate is None or self.predicate(record, resolve)

    def sort(self, records: list[dict[str, Any]], resolve: Resolver) -> list[dict[str, Any]]:
        result = list(records)
        for path, item in reversed(self.order):
            keyed = [(_fold(path.field, path.value(r, resolve)), r) for r in result]
            nulls = [r for k, r in keyed if k is None]
            present = [(k, r) for k, r in keyed if k is not None]
            present.sort(key=lambda kr: kr[0], reverse=item.descending)
            ordered = [r for _, r in present]
            result = ordered + nulls if item.effective_nulls_last else nulls + ordered
        return result

    def project(self, record: dict[str, Any], resolve: Resolver,
                url_for: UrlFor) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": self.sobject.name,
                                              "url": url_for(self.sobject.name, record["Id"])}}
        for path in self.fields:
            container: dict[str, Any] | None = out
            current: dict[str, Any] | None = record
            for hop, target in zip(path.hops, path.hop_objects):
                rel = hop.relationship_name or hop.name
                assert container is not None and current is not None
                if rel not in container:
                    ref = current.get(hop.name)
                    parent = resolve(target.name, ref) if ref is not None else None
                    container[rel] = None if parent is None else {
                        "attributes": {"type": target.name,
                                       "url": url_for(target.name, parent["Id"])}}
                if container[rel] is None:
                    container = None
                    break
                container = container[rel]
                ref = current.get(hop.name)
                current = resolve(target.name, ref) if ref is not None else None
            if container is None or current is None:
                continue
            container[path.field.name] = render_value(path.field, current.get(path.field.name))
        return out

    def run(self, records: Iterable[dict[str, Any]], resolve: Resolver,
            url_for: UrlFor) -> QueryResult:
        """Filter, order, window and project ``records`` (the rows of the FROM object)."""
        matched = [r for r in records if self.matches(r, resolve)]
        if self.order:
            matched = self.sort(matched, resolve)
        start = self.query.offset or 0
        end = None if self.query.limit is None else start + self.query.limit
        window = matched[start:end]
        if self.count_only:
            return QueryResult(len(window), [])
        return QueryResult(len(window), [self.project(r, resolve, url_for) for r in window])


def _index_hint(root: SObjectDef, schema: Schema,
                cond: Condition | None) -> tuple[FieldDef, list[Any]] | None:
    """An equality / IN on a direct indexed field that every match must satisfy."""
    if cond is None:
        return None
    candidates: Sequence[Condition]
    if isinstance(cond, Comparison):
        candidates = [cond]
    elif isinstance(cond, BoolOp) and cond.op == "AND":
        candidates = cond.items
    else:
        return None
    for c in candidates:
        if isinstance(c, Comparison) and c.op in ("=", "IN") and len(c.path.parts) == 1:
            fd = root.field(c.path.parts[0])
            if fd is None or not (fd.indexed or fd.type == "id"):
                continue
            lits = c.value if isinstance(c.value, tuple) else (c.value,)
            if any(lit.kind != "string" for lit in lits):
                continue
            path = BoundPath((), (), fd, root)
            return fd, [_check_literal(path, lit, "=") for lit in lits]
    return None


def bind(query: Query, schema: Schema) -> BoundQuery:
    """Resolve names against ``schema`` and type-check the WHERE clause."""
    root = schema.get(query.sobject)
    if root is None:
        raise SoqlError(
            "INVALID_TYPE",
            f"\nsObject type '{query.sobject}' is not supported. If you are attempting to use "
            f"a custom object, be sure to append the '__c' after the entity name. Please "
            f"reference your WSDL or the describe call for the appropriate names.")
    fields: list[BoundPath] = []
    seen: set[tuple[str, ...]] = set()
    for fp in query.fields:
        path = _bind_path(schema, root, fp, query.alias)
        key = tuple(h.name for h in path.hops) + (path.field.name,)
        if key in seen:
            raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {fp.text}")
        seen.add(key)
        fields.append(path)
    predicate = (_compile_condition(schema, root, query.where, query.alias)
                 if query.where else None)
    order: list[tuple[BoundPath, OrderItem]] = []
    for item in query.order_by:
        path = _bind_path(schema, root, item.path, query.alias)
        if not path.field.sortable:
            raise SoqlError("INVALID_FIELD",
                            f"\nfield '{path.field.name}' can not be sorted in a query call")
        order.append((path, item))
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE",
                        f"Maximum SOQL offset allowed is {MAX_OFFSET}")
    hint = _index_hint(root, schema, query.where)
    return BoundQuery(query, root, fields, predicate, order, hint)


def compile_query(text: str, schema: Schema) -> BoundQuery:
    """Parse and bind in one go."""
    return bind(parse(text), schema)


def escape_literal(value: str) -> str:
    """Quote ``value`` as a SOQL string literal (the inverse of the tokenizer's unescaping)."""
    out = value.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    out = out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    out = out.replace("\b", "\\b").replace("\f", "\\f")
    return f"'{out}'"


__all__ = [
    "SoqlError", "Token", "tokenize", "parse", "bind", "compile_query", "Query", "BoundQuery",
    "QueryResult", "FieldPath", "Literal", "Comparison", "BoolOp", "Not", "OrderItem",
    "like_regex", "escape_literal", "MAX_QUERY_LENGTH", "MAX_WHERE_STRING_LENGTH",
]
