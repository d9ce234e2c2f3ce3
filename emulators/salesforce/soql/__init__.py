"""A SOQL subset: tokenizer, recursive-descent parser, schema binder and evaluator.

Pure: no I/O, no emulator state. The emulator hands :func:`compile_query` a query string and
a :class:`~emulators.salesforce.schema.Schema`, then runs the result over its records.

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

Modules: ``tokens`` (lexer, ``SoqlError``), ``syntax`` (tree and parser), ``evaluator``
(binding to a schema, filtering, ordering, projection).
"""

from emulators.salesforce.soql.evaluator import (
    BoundQuery,
    QueryResult,
    bind,
    compile_query,
    escape_literal,
    like_regex,
)
from emulators.salesforce.soql.syntax import BoolOp, Comparison, FieldPath, Literal, Not, OrderItem, Query, parse
from emulators.salesforce.soql.tokens import MAX_QUERY_LENGTH, MAX_WHERE_STRING_LENGTH, SoqlError, Token, tokenize

__all__ = [
    "SoqlError", "Token", "tokenize", "parse", "bind", "compile_query", "Query", "BoundQuery",
    "QueryResult", "FieldPath", "Literal", "Comparison", "BoolOp", "Not", "OrderItem",
    "like_regex", "escape_literal", "MAX_QUERY_LENGTH", "MAX_WHERE_STRING_LENGTH",
]
