"""The HubSpot emulator's control API over HTTP: JSON under ``/__emulator`` (no auth, not rate
limited, not logged, never delayed). It mirrors the Python control API for tests, the demo and
the benchmark, which runs the emulators in another process.

==========================================  ===============================================================
``GET /health``                             ``{"status": "ok", "contacts": n}``
``POST /reset``                             forget everything but the tokens
``GET /contacts[?includeArchived=true]``    every contact with its full history
``POST /contacts``                          ``{"properties": {..}}`` or ``{"contacts": [{..}, ..]}``; optional
                                            ``"at"`` (ISO or epoch ms) and ``"source"``
``POST /contacts/batch-update``             ``{"updates": [{"id": "7", "properties": {..}}, ..], "at": ..}``:
                                            many edits in one call (the benchmark's "1 % edited")
``GET|PATCH /contacts/{id}``                one contact; PATCH ``{"properties": {..}, "at": ..}``
``POST /contacts/{id}/archive``             archive it; ``/restore`` puts it back; ``/gdpr-delete`` deletes it
                                            for good
``POST /contacts/merge``                    ``{"primary": id, "merge": id}``: merge as the API does; answers
                                            ``{"id": surviving id}``
``POST /seed``                              ``{"count": n, "at": .., "seed": 7, "forms": 3}``: n synthetic
                                            qualified contacts with form-conversion history
``POST /faults``                            ``{"method", "path_contains", "status", "body", "times",
                                            "headers", "after"}``
``GET|POST /clock``                         read; ``{"now": iso}`` freezes, ``{"advance_seconds": n}``,
                                            ``{"real": true}``
``POST /tokens``, ``POST /tokens/revoke``   ``{"token": ..}``
``POST /tokens/scopes``                     ``{"token": .., "scopes": [..]}``: the scopes it carries from now
                                            on (``null``: all, the default)
``GET|DELETE /requests``                    the request log (``{"results": [{method, path, status}]}``)
``POST /config``                            any of ``search_lag_seconds``, ``rate_limits``, ``burst_limit``,
                                            ``burst_window_seconds``, ``daily_limit``,
                                            ``search_limit_per_second``, ``search_in_burst``,
                                            ``merge_mints_new_id``
``GET|POST /latency``                       ``{"seconds": 0.02}``: delay every API response (both emulators)
``GET|POST|DELETE /weather``                ``{"seed": 7, "rate": 0.2, "mix": {"429": 1, "503": 1, "drop": 1}}``:
                                            seeded faults on every API request (both emulators;
                                            ``emulators.weather``). HubSpot's kinds: ``429`` (burst limit,
                                            no ``Retry-After``), ``503`` (an HTML page), ``drop`` (before or
                                            after the request took effect); rate 0 or DELETE clears
==========================================  ===============================================================
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Iterable, Protocol

from werkzeug.wrappers import Request, Response

from emulators.hubspot.errors import ApiError, json_response
from emulators.hubspot.seeding import describe_seed
from emulators.hubspot.store import ContactStore
from emulators.hubspot.timefmt import parse_time_ms
from emulators.hubspot.wire import flag, read_body
from emulators.server import CONTROL_PREFIX, RequestLog


class PythonControlApi(Protocol):
    """The part of the Python control API this module mirrors over HTTP. ``HubSpotEmulator``
    provides it (see its methods for what each does); the emulator builds this module's handler,
    so the handler names the API it drives rather than the emulator's module."""

    requests: RequestLog

    @property
    def store(self) -> ContactStore: ...
    def reset(self) -> None: ...
    def contacts(self, *, include_archived: bool = False) -> list[dict[str, Any]]: ...
    def create_contact(self, properties: dict[str, Any], *, at: dt.datetime | None = None,
                       source: dict[str, Any] | None = None) -> str: ...
    def create_contacts(self, contacts: Iterable[dict[str, Any]], *, at: dt.datetime | None = None,
                        source: dict[str, Any] | None = None) -> list[str]: ...
    def update_contact(self, contact_id: str | int, properties: dict[str, Any], *,
                       at: dt.datetime | None = None, source: dict[str, Any] | None = None) -> None: ...
    def get_contact(self, contact_id: str | int) -> dict[str, Any] | None: ...
    def archive_contact(self, contact_id: str | int, *, at: dt.datetime | None = None) -> None: ...
    def restore_contact(self, contact_id: str | int, *, at: dt.datetime | None = None) -> None: ...
    def gdpr_delete_contact(self, contact_id: str | int) -> None: ...
    def merge_contacts(self, primary_id: str | int, other_id: str | int, *, at: dt.datetime | None = None) -> str: ...
    def seed_contacts(self, count: int, *, at: dt.datetime | None = None, seed: int = 7,
                      forms_per_contact: int = 3) -> list[str]: ...
    def inject_fault(self, method: str | None, path_contains: str, status: int, body: Any = None,
                     times: int = 1, headers: dict[str, str] | None = None, after: int = 0) -> None: ...
    def now(self) -> dt.datetime: ...
    def now_iso(self) -> str: ...
    def set_clock(self, clock: Callable[[], dt.datetime] | None) -> None: ...
    def add_token(self, token: str) -> None: ...
    def revoke_token(self, token: str) -> None: ...
    def set_token_scopes(self, token: str, scopes: Iterable[str] | None) -> None: ...
    def configure(self, values: dict[str, Any]) -> dict[str, Any]: ...


def _when(raw: Any, name: str) -> dt.datetime | None:
    if raw in (None, ""):
        return None
    ms = parse_time_ms(str(raw))
    if ms is None:
        raise ApiError(400, f"Invalid '{name}' timestamp {raw!r}", "VALIDATION_ERROR")
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


class HubSpotControl:
    def __init__(self, app: PythonControlApi) -> None:
        self.app = app

    def handle(self, request: Request) -> Response:
        app = self.app
        path = request.path[len(CONTROL_PREFIX):].rstrip("/") or "/"
        method = request.method
        body = read_body(request) if method in ("POST", "PATCH", "PUT") else {}
        at = _when(body.get("at"), "at") if isinstance(body, dict) else None
        source = body.get("source") if isinstance(body, dict) else None
        try:
            if path == "/health" and method == "GET":
                return json_response(200, {"status": "ok", "contacts": len(app.store.ids)})
            if path == "/reset" and method == "POST":
                app.reset()
                return json_response(200, {"status": "reset"})
            if path == "/contacts" and method == "GET":
                return json_response(200, {"results": app.contacts(include_archived=flag(request, "includeArchived"))})
            if path == "/contacts" and method == "POST":
                if "contacts" in body:
                    return json_response(201, {"ids": app.create_contacts(body["contacts"], at=at, source=source)})
                return json_response(201, {"id": app.create_contact(body.get("properties") or {}, at=at,
                                                                    source=source)})
            if path == "/contacts/batch-update" and method == "POST":
                for update in body["updates"]:
                    app.update_contact(update["id"], update.get("properties") or {}, at=at, source=source)
                return json_response(200, {"updated": len(body["updates"])})
            if path == "/contacts/merge" and method == "POST":
                return json_response(200, {"id": app.merge_contacts(body["primary"], body["merge"], at=at)})
            moved = re.fullmatch(r"/contacts/(\d+)/(restore|gdpr-delete)", path)
            if moved and method == "POST":
                if moved.group(2) == "restore":
                    app.restore_contact(moved.group(1), at=at)
                    return json_response(200, app.get_contact(moved.group(1)))
                app.gdpr_delete_contact(moved.group(1))
                return Response(status=204)
            m = re.fullmatch(r"/contacts/(\d+)(/archive)?", path)
            if m and method == "GET" and not m.group(2):
                snap = app.get_contact(m.group(1))
                if snap is None:
                    return json_response(404, {"status": "error", "message": "no such contact"})
                return json_response(200, snap)
            if m and method == "PATCH" and not m.group(2):
                app.update_contact(m.group(1), body.get("properties") or {}, at=at, source=source)
                return json_response(200, app.get_contact(m.group(1)))
            if m and method == "POST" and m.group(2):
                app.archive_contact(m.group(1), at=at)
                return json_response(200, app.get_contact(m.group(1)))
            if path == "/seed" and method == "POST":
                ids = app.seed_contacts(int(body["count"]), at=at, seed=int(body.get("seed", 7)),
                                        forms_per_contact=int(body.get("forms", 3)))
                return json_response(201, describe_seed(ids))
            if path == "/faults" and method == "POST":
                app.inject_fault(body.get("method"), body.get("path_contains", ""), int(body["status"]),
                                 body.get("body"), int(body.get("times", 1)), body.get("headers"),
                                 int(body.get("after", 0)))
                return json_response(201, {"status": "armed"})
            if path == "/clock" and method == "POST":
                return json_response(200, self._clock(body))
            if path == "/clock" and method == "GET":
                return json_response(200, {"now": app.now_iso()})
            if path == "/tokens/revoke" and method == "POST":
                app.revoke_token(str(body["token"]))
                return json_response(200, {"status": "revoked"})
            if path == "/tokens/scopes" and method == "POST":
                scopes = body.get("scopes")
                app.set_token_scopes(str(body["token"]), None if scopes is None else [str(s) for s in scopes])
                return json_response(200, {"status": "set"})
            if path == "/tokens" and method == "POST":
                app.add_token(str(body["token"]))
                return json_response(201, {"status": "added"})
            if path == "/requests" and method == "GET":
                return json_response(200, {"results": [
                    {"method": e.method, "path": e.path, "status": e.status, "query": e.query}
                    for e in app.requests.entries()]})
            if path == "/requests" and method == "DELETE":
                app.requests.clear()
                return Response(status=204)
            if path == "/config" and method == "POST":
                return json_response(200, app.configure(body))
        except (KeyError, ValueError, TypeError) as exc:
            return json_response(400, {"status": "error", "message": str(exc)})
        return json_response(404, {"status": "error", "message": f"No control endpoint {method} {path}"})

    def _clock(self, body: dict[str, Any]) -> dict[str, Any]:
        """``{"now": iso}`` freezes the clock; ``{"advance_seconds": n}`` moves a frozen clock; ``{"real": true}``."""
        app = self.app
        if body.get("real"):
            app.set_clock(None)
        elif "now" in body:
            ms = parse_time_ms(str(body["now"]))
            if ms is None:
                raise ValueError(f"Invalid 'now' {body['now']!r}")
            fixed = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
            app.set_clock(lambda: fixed)
        if "advance_seconds" in body:
            current = app.now() + dt.timedelta(seconds=float(body["advance_seconds"]))
            app.set_clock(lambda: current)
        return {"now": app.now_iso()}
