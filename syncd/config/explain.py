"""Pydantic validation errors, told the way an admin can act on them.

``validate`` runs a pydantic model over a ``YamlDocument``'s data and turns every error into a
``Problem`` that names the file, the 1-based line and column and the dotted field path, in plain
words, with "did you mean" for unknown keys. All problems are reported together in one
``ConfigError``. ``explain_validation_error`` does the translation without positions, for data
that came from more than one place (``syncd.config.load`` places each problem itself).

No message ever quotes the value it rejects: it may be a secret.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .locs import Loc, render_loc
from .yamlfile import YamlDocument
from syncd.core.errors import ConfigError, Problem

__all__ = [
    "Loc", "ErrorInfo", "render_loc", "validate", "problems_from_validation_error",
    "explain_validation_error", "unknown_key_hint", "closest",
]

M = TypeVar("M", bound=BaseModel)


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
    close = closest(key, [f.alias or n for n, f in model.model_fields.items()], cutoff=0.6)
    if close:
        message += f" (did you mean '{close}'?)"
    hint = unknown_key_hint(model, key)
    return f"{message}; {hint}" if hint else message


def unknown_key_hint(model: type[BaseModel], key: str) -> str | None:
    """Models may explain well-known wrong keys with ``UNKNOWN_KEY_HINTS: ClassVar[dict]``, and
    any other unknown key with ``UNKNOWN_KEY_HELP: ClassVar[str]`` (e.g. the valid choices)."""
    hints = getattr(model, "UNKNOWN_KEY_HINTS", None) or {}
    return hints.get(key.lower()) or getattr(model, "UNKNOWN_KEY_HELP", None)


def closest(name: str, names: list[str], *, cutoff: float) -> str | None:
    """The one of ``names`` that ``name`` most likely misspells, for "did you mean"."""
    found = difflib.get_close_matches(name, names, n=1, cutoff=cutoff)
    return found[0] if found else None
