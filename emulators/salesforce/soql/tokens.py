"""SOQL tokens: the lexer (string escapes, numbers, date and datetime literals) and the
``SoqlError`` every stage raises, with Salesforce's ``ERROR at Row:r:Column:c`` framing."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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


