"""HubSpot's error bodies ``{status, message, correlationId, category[, errors, context]}`` and JSON responses."""

from __future__ import annotations

import json
import uuid
from typing import Any

from werkzeug.wrappers import Response

AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
                "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")


class ApiError(Exception):
    """Raised inside handlers; turned into a HubSpot error response."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.category, self.extra = status, message, category, extra


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    resp = Response("" if body is None else json.dumps(body), status=status,
                    content_type="application/json;charset=utf-8")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                            "category": category}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def error_response(status: int, message: str, category: str, **extra: Any) -> Response:
    body = error_body(message, category, **extra)
    return json_response(status, body, {"X-HubSpot-Correlation-Id": body["correlationId"]})
