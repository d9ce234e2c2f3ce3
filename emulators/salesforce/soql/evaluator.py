"""SOQL semantics: bind a parsed query to a schema (names, relationship paths, literal types),
then filter, order, window and project records.

Parent relationships (``ConvertedOpportunity.StageName``) are followed with a resolver the
emulator passes in; in SELECT a missing parent renders as ``"ConvertedOpportunity": null``, as
Salesforce does; in WHERE a field behind a missing parent is null.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

from emulators.salesforce.ids import normalize_id
from emulators.salesforce.schema import NUMBER_TYPES, STRING_TYPES, FieldDef, Schema, SObjectDef, render_value
from emulators.salesforce.soql.syntax import BoolOp, Comparison, Condition, FieldPath, Literal, Not, OrderItem, Query, parse
from emulators.salesforce.soql.tokens import MAX_OFFSET, SoqlError, Token

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
        if not self.hops:
            return record.get(self.field.name)
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
        target = schema.target(ref)
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
        # Stored datetimes are already UTC (the common case; converting costs a microsecond a row).
        return value if value.tzinfo is dt.timezone.utc else value.astimezone(dt.timezone.utc)
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
    # Plain loops, not all()/any() over a generator: this runs once per row and condition, and
    # the generators cost more than the comparisons on 100,000 Leads.
    if cond.op == "AND":
        def conjunction(record: dict[str, Any], resolve: Resolver) -> bool:
            for p in items:
                if not p(record, resolve):
                    return False
            return True
        return conjunction

    def disjunction(record: dict[str, Any], resolve: Resolver) -> bool:
        for p in items:
            if p(record, resolve):
                return True
        return False
    return disjunction


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


