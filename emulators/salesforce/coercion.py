"""JSON values → the Python values a field holds, as Salesforce's deserializer reads them
(``JSON_PARSER_ERROR`` with its wording otherwise): strings, numbers, booleans, dates and
datetimes (truncated to milliseconds, stored in UTC), and 15-character ids made 18."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from emulators.salesforce.errors import RequestError
from emulators.salesforce.ids import normalize_id
from emulators.salesforce.schema import NUMBER_TYPES, STRING_TYPES, FieldDef, SObjectDef

_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?")


def normalize_reference(obj: SObjectDef, name: str, value: Any) -> Any:
    fd = obj.fields.get(name.lower())
    if fd is not None and fd.type in ("reference", "id") and isinstance(value, str):
        return normalize_id(value) or value
    return value


def canonical(obj: SObjectDef, name: str) -> str:
    fd = obj.field(name)
    if fd is None:
        raise KeyError(f"No such column '{name}' on sobject of type {obj.name}")
    return fd.name


def loose_equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return a == b


def parser_error(fd: FieldDef, value: Any, type_word: str) -> RequestError:
    token = "VALUE_STRING" if isinstance(value, str) else (
        "VALUE_TRUE" if value is True else "VALUE_FALSE" if value is False else
        "START_ARRAY" if isinstance(value, list) else "START_OBJECT" if isinstance(value, dict)
        else "VALUE_NUMBER_INT" if isinstance(value, int) else "VALUE_NUMBER_FLOAT")
    shown = value if isinstance(value, (str, int, float)) else json.dumps(value)[:40]
    return RequestError(400, "JSON_PARSER_ERROR",
                         f"Cannot deserialize instance of {type_word} from {token} value "
                         f"{shown} or request may be missing a required field "
                         f"(field {fd.name})")


def coerce(fd: FieldDef, value: Any) -> Any:
    """A JSON value -> the field's python value, as Salesforce's deserializer would."""
    t = fd.type
    if value is None:
        return False if t == "boolean" else None
    if t in STRING_TYPES:
        if isinstance(value, str):
            return value if value != "" else None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return repr(value) if not value.is_integer() else str(int(value))
        raise parser_error(fd, value, "string")
    if t in NUMBER_TYPES:
        if isinstance(value, bool):
            raise parser_error(fd, value, "double" if t != "int" else "int")
        if isinstance(value, (int, float)):
            number: Any = value
        elif isinstance(value, str):
            try:
                number = float(value) if value.strip() else None
            except ValueError:
                raise parser_error(fd, value, "double" if t != "int" else "int") from None
            if number is None:
                return None
        else:
            raise parser_error(fd, value, "double" if t != "int" else "int")
        if number != number or number in (float("inf"), float("-inf")):
            raise parser_error(fd, value, "double")
        if t == "int":
            if float(number) != int(number):
                raise parser_error(fd, value, "int")
            return int(number)
        return float(number)
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise parser_error(fd, value, "boolean")
    if t == "date":
        if isinstance(value, str):
            m = _DATE_RE.fullmatch(value) or None
            if m is None:
                dm = _DATETIME_RE.fullmatch(value)
                if dm:
                    try:
                        return parse_datetime_match(dm).date()
                    except ValueError:
                        pass
                raise parser_error(fd, value, "date")
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                raise parser_error(fd, value, "date") from None
        raise parser_error(fd, value, "date")
    if t == "datetime":
        if isinstance(value, str):
            dm = _DATETIME_RE.fullmatch(value)
            try:
                if dm:
                    return truncate_ms(parse_datetime_match(dm))
                m = _DATE_RE.fullmatch(value)
                if m:
                    return dt.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)),
                                       tzinfo=dt.timezone.utc)
            except ValueError:
                pass
        raise parser_error(fd, value, "datetime")
    raise parser_error(fd, value, t)


def coerce_temporal(fd: FieldDef, value: dt.date) -> Any:
    if fd.type == "date":
        return value.date() if isinstance(value, dt.datetime) else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return truncate_ms(value.astimezone(dt.timezone.utc))
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)


def truncate_ms(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def parse_datetime_match(m: re.Match[str]) -> dt.datetime:
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    second = int(m.group(6) or 0)
    fraction, zone = m.group(7), m.group(8)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    if not zone or zone == "Z":
        tz = dt.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return dt.datetime(year, month, day, hour, minute, second, micro,
                       tzinfo=tz).astimezone(dt.timezone.utc)


