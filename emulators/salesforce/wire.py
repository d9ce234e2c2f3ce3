"""Reading Salesforce REST requests and shaping common answers: raw path segments, JSON bodies,
the query batch size header, the field an upsert is keyed by, record URLs, and collection
result items."""

from __future__ import annotations

import json
import re
from typing import Any, Callable
from urllib.parse import unquote

from werkzeug.wrappers import Request

from emulators.salesforce.errors import RequestError
from emulators.salesforce.schema import FieldDef, SObjectDef

MAX_COLLECTION_SIZE = 200
DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200


def raw_segments(request: Request) -> list[str]:
    """Path segments, split before percent-decoding (an external id may contain '/')."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    raw = raw.split("?", 1)[0]
    if "://" in raw:
        raw = "/" + raw.split("://", 1)[1].split("/", 1)[-1]
    return [unquote(s) for s in raw.strip("/").split("/")]


def json_object(request: Request) -> dict[str, Any]:
    raw = request.get_data(as_text=True)
    try:
        body = json.loads(raw) if raw.strip() else None
    except json.JSONDecodeError as e:
        raise RequestError(400, "JSON_PARSER_ERROR",
                            f"Unexpected character ('{raw[e.pos:e.pos + 1]}'): was expecting "
                            f"a valid JSON value at [line:{e.lineno}, column:{e.colno}]") from None
    if not isinstance(body, dict):
        raise RequestError(400, "JSON_PARSER_ERROR",
                            "Cannot deserialize instance of the request body: expected a JSON "
                            "object")
    return body


def batch_size(request: Request) -> int:
    header = request.headers.get("Sforce-Query-Options", "")
    m = re.search(r"batchSize\s*=\s*(\d+)", header)
    if not m:
        return DEFAULT_BATCH_SIZE
    return max(MIN_BATCH_SIZE, min(DEFAULT_BATCH_SIZE, int(m.group(1))))


def external_field(obj: SObjectDef, name: str, single: bool) -> FieldDef:
    """The field named in ``/{type}/{field}/{value}`` (``single``) or a collection upsert's URL."""
    fd = obj.field(name)
    if fd is None:
        if single:
            raise RequestError(404, "NOT_FOUND", f"Provided external ID field does not "
                                                  f"exist or is not accessible: {name}")
        raise RequestError(400, "INVALID_FIELD",
                            f"Field name provided, {name} is not an External ID or indexed "
                            f"field for {obj.name}")
    # External id fields, or (standard objects' way) standard idLookup fields like Email.
    usable = fd.type == "id" or fd.external_id or (
        fd.is_id_lookup and not fd.name.endswith("__c"))
    if not usable:
        raise RequestError(400, "INVALID_FIELD",
                            f"Field name provided, {fd.name} is not an External ID or indexed "
                            f"field for {obj.name}")
    return fd


def url_maker(version: str) -> Callable[[str, str], str]:
    def url_for(sobject: str, rid: str) -> str:
        return f"/services/data/v{version}/sobjects/{sobject}/{rid}"
    return url_for


def global_entry(obj: SObjectDef) -> dict[str, Any]:
    return {"name": obj.name, "label": obj.label, "labelPlural": obj.label + "s",
            "keyPrefix": obj.key_prefix, "custom": obj.name.endswith("__c"),
            "createable": True, "updateable": True, "deletable": True, "queryable": True,
            "urls": {"sobject": f"/services/data/vXX.X/sobjects/{obj.name}",
                     "describe": f"/services/data/vXX.X/sobjects/{obj.name}/describe"}}


def save_result(rid: str | None, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": rid, "success": not errors, "errors": errors}


def upsert_result(rid: str | None, errors: list[dict[str, Any]], created: bool
                   ) -> dict[str, Any]:
    return {"id": rid if not errors else None, "success": not errors, "errors": errors,
            "created": created and not errors}


def version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def version_label(version: str) -> str:
    """Release name of an API version: v60.0 is Spring '24, v61.0 Summer '24, v62.0 Winter '25."""
    offset = version_tuple(version)[0] - 60
    season = ("Spring", "Summer", "Winter")[offset % 3]
    year = 24 + offset // 3 + (1 if season == "Winter" else 0)
    return f"{season} '{year % 100:02d}"
