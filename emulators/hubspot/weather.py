"""How HubSpot answers weather (``emulators.weather``): its kinds are ``429``, ``503`` and drops.

* ``429``: the burst limit's answer, as ``rate_limits`` gives it for a real overrun: the body with
  ``policyName`` ``TEN_SECONDLY_ROLLING`` and ``errorType`` ``RATE_LIMIT``, the
  ``X-HubSpot-RateLimit-*`` headers (none on search), and no ``Retry-After``: HubSpot sends none.
* ``503``: what the edge in front of HubSpot answers while a backend is away: an HTML page, not
  HubSpot's JSON error body, so a client must classify by status alone.
"""

from __future__ import annotations

import re
import uuid
from typing import Protocol

from werkzeug.wrappers import Request, Response

from emulators.hubspot.errors import json_response
from emulators.hubspot.rate_limits import RateLimiter
from emulators.weather import DROP, RATE_LIMITED, UNAVAILABLE


class Portal(Protocol):
    """What an answer needs of the emulator (``HubSpotEmulator``): its rate limiter."""

    limiter: RateLimiter

KINDS = (RATE_LIMITED, UNAVAILABLE, DROP)
_SEARCH = re.compile(r"/crm/v3/objects/(?:contacts|0-1)/search/?")

UNAVAILABLE_PAGE = ("<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
                    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n")


def answer(app: Portal, kind: str, request: Request) -> Response:
    if kind == RATE_LIMITED:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        searching = request.method == "POST" and _SEARCH.fullmatch(request.path) is not None
        headers = {} if searching else app.limiter.headers(token)
        response = json_response(429, app.limiter.body("TEN_SECONDLY_ROLLING"), headers)
        response.headers["X-HubSpot-Correlation-Id"] = str(uuid.uuid4())
        return response
    return Response(UNAVAILABLE_PAGE, status=503, content_type="text/html")
