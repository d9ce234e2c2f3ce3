"""How Salesforce answers weather (``emulators.weather``): its kinds are ``503``, ``concurrency``
and drops (the REST API has no 429: its limits answer 403 ``REQUEST_LIMIT_EXCEEDED``).

* ``503`` on the REST API: ``[{"message": .., "errorCode": "SERVER_UNAVAILABLE"}]``.
* ``concurrency``: 403 ``[{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode":
  "REQUEST_LIMIT_EXCEEDED"}]``, the same status and code as the spent daily allocation, told apart
  by the message alone.
* On the OAuth token endpoint every answered kind is the login service's hiccup: a 503 whose body
  is an HTML page, not OAuth's ``{"error", "error_description"}``.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from emulators.salesforce.errors import json_response
from emulators.weather import CONCURRENCY, DROP, UNAVAILABLE

KINDS = (UNAVAILABLE, CONCURRENCY, DROP)
TOKEN_PATH = "/services/oauth2/token"

LOGIN_UNAVAILABLE_PAGE = ("<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>"
                          "<h1>Service Unavailable</h1><p>The server is temporarily unable to service your "
                          "request. Please try again later.</p></body></html>")


def answer(app: Any, kind: str, request: Request) -> Response:
    if request.path.rstrip("/") == TOKEN_PATH:
        return Response(LOGIN_UNAVAILABLE_PAGE, status=503, content_type="text/html;charset=UTF-8")
    if kind == CONCURRENCY:
        return json_response(403, [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                                    "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    return json_response(503, [{"message": "Service temporarily unavailable, please try again later.",
                                "errorCode": "SERVER_UNAVAILABLE"}])
