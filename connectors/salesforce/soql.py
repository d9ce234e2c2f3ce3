"""SOQL the connectors send: every literal through ``simple_salesforce.format_soql``, and ``IN``
lists packed so each query fits the request URI.

Salesforce answers 414 to a request URI over 16,384 bytes, and a query travels in the URI
(GET /query?q=...). Values are packed into IN (...) lists by their encoded length, not by count:
200 long emails or 1,000 ids would pass SOQL's own 100,000-character limit and still fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from urllib.parse import quote_plus

from simple_salesforce import format_soql

MAX_QUERY_URI_BYTES = 12_000     # leaves room for the path, the version and the other clauses
IN_CLAUSE_LIMIT = 200            # values per IN (...): one page of contacts


def soql_chunks(values: Sequence[str], render: Callable[[list[str]], str],
                limit: int = MAX_QUERY_URI_BYTES, most: int = IN_CLAUSE_LIMIT) -> Iterator[str]:
    """Queries, each with as many of ``values`` as fit ``limit`` URL-encoded bytes (and ``most``).

    URL-encoding is per character, so a query's encoded length is the sum of its parts': the
    query around the list, each quoted value and the commas between them. That keeps this linear
    in the number of values (rendering and encoding every candidate query was quadratic)."""
    if not values:
        return
    probe = "x"
    around = len(quote_plus(render([probe]))) - len(quote_plus(format_soql("{}", probe)))
    comma = len(quote_plus(","))
    pending: list[str] = []
    size = around
    for value in values:
        cost = len(quote_plus(format_soql("{}", value)))
        if pending and (len(pending) >= most or size + comma + cost > limit):
            yield render(pending)
            pending, size = [], around
        size += cost + (comma if pending else 0)
        pending.append(value)
    yield render(pending)


def select(fields: Sequence[str]) -> str:
    """Field names in order, each once (they come from the validated mapping, never from data)."""
    return ", ".join(dict.fromkeys(fields))
