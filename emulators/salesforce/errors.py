"""Salesforce's error shapes: request-level errors (``[{message, errorCode[, fields]}]`` with a
status), per-record errors (``{statusCode, message, fields}`` inside collection results), OAuth
errors, and the JSON responses that carry them."""

from __future__ import annotations

import json
from typing import Any, Iterable

from werkzeug.wrappers import Response


class SalesforceEmulatorError(Exception):
    """A control-API write Salesforce would refuse; ``errors`` as in a collection result."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['statusCode']}: {e['message']}" for e in errors))

    @property
    def status_code(self) -> str:
        return self.errors[0]["statusCode"] if self.errors else ""


class RequestError(Exception):
    """A request-level error: the whole call fails with ``status`` and ``body``."""

    def __init__(self, status: int, error_code: str, message: str,
                 fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


def err(code: str, message: str, fields: Iterable[str] = ()) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": list(fields)}


def rolled_back() -> dict[str, Any]:
    return err("ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was "
                "using AllOrNone header")


def not_found() -> RequestError:
    return RequestError(404, "NOT_FOUND", "The requested resource does not exist")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    # Salesforce is Java: a lone surrogate a client sent is kept in the record and comes out of
    # its UTF-8 encoder as "?", never as a 500.
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(text.encode("utf-8", "replace"), status=status,
                    headers=headers or {}, content_type="application/json;charset=UTF-8")


def oauth_error(error: str, description: str) -> Response:
    return json_response(400, {"error": error, "error_description": description})


def method_not_allowed(method: str, allowed: str) -> RequestError:
    return RequestError(405, "METHOD_NOT_ALLOWED",
                         f"HTTP Method '{method}' not allowed. Allowed are {allowed}")


def single_error(error: dict[str, Any], status: int = 400) -> Response:
    """A per-record error answered as a single-record resource answers it."""
    return json_response(status, [{"message": error["message"], "errorCode": error["statusCode"],
                                   "fields": error["fields"]}])
