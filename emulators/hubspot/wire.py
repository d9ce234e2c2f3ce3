"""Reading HubSpot API requests: JSON bodies, query arguments, batch ``inputs``, and the batch
response envelope. Every malformed input becomes the 400 ``VALIDATION_ERROR`` HubSpot sends; a
write that would give two contacts one email, the 409 ``CONFLICT``."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from werkzeug.wrappers import Request

from emulators.hubspot.errors import ApiError
from emulators.hubspot.properties import PropertyIssue, PropertyRegistry, validation_errors, validation_message
from emulators.hubspot.store import ContactStore

BATCH_LIMIT = 100


def read_body(request: Request) -> Any:
    raw = request.get_data(as_text=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}",
                       "VALIDATION_ERROR") from None


def list_arg(request: Request, name: str) -> list[str]:
    """A repeatable, comma-separated query argument (``properties=a,b&properties=c``)."""
    out: list[str] = []
    for item in request.args.getlist(name):
        out.extend(p.strip() for p in item.split(",") if p.strip())
    return out


def flag(request: Request, name: str) -> bool:
    return request.args.get(name, "false").lower() == "true"


def batch_inputs(body: Any, *, limit: int = BATCH_LIMIT) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise ApiError(400, "Invalid input JSON: 'inputs' is required and must be a list", "VALIDATION_ERROR",
                       errors=[{"message": "Required property 'inputs' is missing", "in": "inputs",
                                "code": "REQUIRED_FIELD"}])
    inputs = body["inputs"]
    if len(inputs) > limit:
        raise ApiError(400, f"The maximum number of inputs supported in a batch request is {limit}. Please "
                            "reduce the number of items and try again", "VALIDATION_ERROR",
                       context={"inputs": [str(len(inputs))]})
    if not all(isinstance(i, dict) for i in inputs):
        raise ApiError(400, "Each input must be an object", "VALIDATION_ERROR")
    return inputs


def batch_envelope(started: str, completed: str, results: list[dict[str, Any]],
                   errors: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                           "completedAt": completed}
    if errors:
        out["numErrors"] = len(errors)
        out["errors"] = errors
    return out


def property_names(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"'{field}' must be a list of property names", "VALIDATION_ERROR")
    return value


def check_id_property(registry: PropertyRegistry, portal_id: int, id_property: str | None) -> None:
    """Writes by ``idProperty`` need a property with unique values (or the id, or email)."""
    if id_property in (None, "", "hs_object_id", "email"):
        return
    prop = registry.get(id_property)
    if prop is None or not prop.get("hasUniqueValue"):
        raise ApiError(400, f"Unable to perform update/upsert by non-unique 0-1 property {id_property} in "
                            f"portal ID {portal_id}", "VALIDATION_ERROR")


def raise_invalid(issues: list[PropertyIssue], portal_id: int) -> NoReturn:
    raise ApiError(400, validation_message(issues, portal_id), "VALIDATION_ERROR",
                   errors=validation_errors(issues))


def ensure_email_free(store: ContactStore, email: str | None, contact_id: int | None = None) -> None:
    """409 when a contact other than ``contact_id`` has this email (emails are unique per portal)."""
    owner = store.email_owner(email)
    if owner is not None and owner != contact_id:
        raise ApiError(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
