"""SOQL syntax: the tree (``Query``, conditions, literals) and a recursive-descent parser.

Syntax only; names and types are checked against a schema by ``evaluator.bind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulators.salesforce.soql.tokens import (
    KEYWORDS,
    MAX_QUERY_LENGTH,
    MAX_WHERE_STRING_LENGTH,
    SoqlError,
    Token,
    malformed,
    tokenize,
)

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

# Tokens that are a literal as they stand (the tokenizer has already parsed the value), and the
# kind of literal each one is.
_VALUE_LITERALS = {"NUMBER": "number", "DATE": "date", "DATETIME": "datetime"}

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
        # Group (queues, public groups) is an sObject although GROUP is a keyword: Salesforce
        # reads the name after FROM as an object, so "FROM Group" is valid SOQL.
        if obj.kind != "IDENT" or (obj.text.upper() in KEYWORDS and obj.text.upper() != "GROUP"):
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
        if t.kind in _VALUE_LITERALS:
            self.advance()
            return Literal(_VALUE_LITERALS[t.kind], t.value, t)
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

