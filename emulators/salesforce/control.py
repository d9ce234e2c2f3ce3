"""The Salesforce emulator's control API over HTTP: JSON under ``/__emulator`` (no auth, not
counted, not logged, never delayed). It mirrors the Python control API for tests, the demo and
the benchmark, which runs the emulators in another process. Writes are made as the org's
salesperson unless the body says ``"as_user"`` (a User id or username).

=============================================  ===========================================================
``GET /health``                                ``{"status": "ok", "counts": {sObject: live records}}``
``POST /reset``                                forget all data, sessions, cursors, faults, weather, usage
``POST /clients``                              ``{"client_id", "client_secret", "jwt_public_key_pem",
                                               "username"}``
``POST /expire-sessions``                      every token gets 401 from now on
``GET|POST /api-limit``                        ``{"limit": n}``; answers ``{"limit", "usage"}``
``POST /tokens``                               ``{"client_id", "username"}`` → ``{"access_token"}``
``POST /faults``                               ``{"method", "path_contains", "status", "body", "times",
                                               "headers"}``
``GET|DELETE /requests``                       the request log (``[{method, path, status}]``)
``GET|POST /sobjects/{type}``                  all records (``?include_deleted=1``) / insert one
                                               (``"validate": false``: read-only fields too, e.g. a
                                               Task's ``CreatedDate``, to seed activities at given times)
``GET|PATCH|DELETE /sobjects/{type}/{id}``     one record
``POST /leads/{id}/convert``                   ``{"opportunity": {..}, "account_id"}`` → the new ids
``POST /leads/convert``                        many at once: ``{"by": "HubSpot_Contact_Id__c",
                                               "conversions": [{"key": "17", "opportunity": {..}}, ..]}``
                                               (``by`` defaults to ``Id``) → ``{"results": [{key, ids
                                               or errors}]}``
``POST /leads/merge``                          ``{"master": id, "losers": [ids]}`` (at most 2) → ``{"master",
                                               "merged"}``: losers deleted with MasterRecordId = master
``GET|POST /latency``                          ``{"seconds": 0.02}``: delay every API response
``GET|POST|DELETE /weather``                   ``{"seed": 7, "rate": 0.2, "mix": {"503": 1, "concurrency": 1,
                                               "drop": 1}}``: seeded faults on every API request
                                               (``emulators.weather``). Salesforce's kinds: ``503``
                                               (``SERVER_UNAVAILABLE``), ``concurrency`` (403
                                               ``REQUEST_LIMIT_EXCEEDED`` "ConcurrentPerOrgLongTxn Limit
                                               exceeded."), ``drop`` (before or after the request took
                                               effect); the token endpoint answers a 503 HTML page
=============================================  ===========================================================
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from emulators.salesforce.errors import RequestError, SalesforceEmulatorError, json_response
from emulators.salesforce.schema import Schema
from emulators.server import CONTROL_PREFIX, RequestLog


class PythonControlApi(Protocol):
    """The part of the Python control API this module mirrors over HTTP. ``SalesforceEmulator``
    provides it (see its methods for what each does); the emulator builds this module's handler,
    so the handler names the API it drives rather than the emulator's module."""

    schema: Schema
    requests: RequestLog

    @property
    def api_limit(self) -> int: ...
    @property
    def api_usage(self) -> int: ...
    def reset(self) -> None: ...
    def register_client(self, client_id: str, client_secret: str | None = None,
                        jwt_public_key_pem: str | bytes | None = None, username: str | None = None) -> None: ...
    def expire_sessions(self) -> None: ...
    def set_api_limit(self, limit: int) -> None: ...
    def issue_token(self, client_id: str | None = None, username: str | None = None) -> str: ...
    def inject_fault(self, method: str | None, path_contains: str, status: int, body: Any = None,
                     times: int = 1, headers: dict[str, str] | None = None) -> None: ...
    def count(self, sobject: str) -> int: ...
    def all(self, sobject: str, *, include_deleted: bool = False) -> list[dict[str, Any]]: ...
    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None: ...
    def insert(self, sobject: str, fields: dict[str, Any], *, validate: bool = True,
               as_user: str | None = None) -> str: ...
    def update(self, sobject: str, record_id: str, fields: dict[str, Any], *,
               as_user: str | None = None) -> None: ...
    def delete(self, sobject: str, record_id: str) -> None: ...
    def find_ids(self, sobject: str, field: str, value: Any) -> list[str]: ...
    def convert_lead(self, lead_id: str, *, opportunity: dict[str, Any] | None = None,
                     account_id: str | None = None, as_user: str | None = None) -> dict[str, str | None]: ...
    def merge_leads(self, master_id: str, loser_ids: list[str], *, as_user: str | None = None) -> dict[str, Any]: ...


class SalesforceControl:
    def __init__(self, app: PythonControlApi) -> None:
        self.app = app

    def handle(self, request: Request) -> Response:
        app = self.app
        segs = [unquote(s) for s in request.path[len(CONTROL_PREFIX):].strip("/").split("/")]
        method = request.method
        try:
            raw = request.get_data(as_text=True)
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
            head = segs[0] if segs else ""
            as_user = body.get("as_user")
            if head == "health" and method == "GET":
                return json_response(200, {"status": "ok", "counts": {
                    obj.name: app.count(obj.name) for obj in app.schema.objects()}})
            if head == "reset" and method == "POST":
                app.reset()
                return Response(status=204)
            if head == "clients" and method == "POST":
                app.register_client(body["client_id"], body.get("client_secret"),
                                    body.get("jwt_public_key_pem"), body.get("username"))
                return Response(status=204)
            if head == "expire-sessions" and method == "POST":
                app.expire_sessions()
                return Response(status=204)
            if head == "api-limit":
                if method == "POST":
                    app.set_api_limit(int(body["limit"]))
                return json_response(200, {"limit": app.api_limit, "usage": app.api_usage})
            if head == "tokens" and method == "POST":
                return json_response(200, {"access_token": app.issue_token(body.get("client_id"),
                                                                           body.get("username"))})
            if head == "faults" and method == "POST":
                app.inject_fault(body.get("method"), body.get("path_contains", ""), int(body["status"]),
                                 body.get("body"), int(body.get("times", 1)), body.get("headers"))
                return Response(status=204)
            if head == "requests":
                if method == "DELETE":
                    app.requests.clear()
                    return Response(status=204)
                return json_response(200, [{"method": e.method, "path": e.path, "status": e.status, "query": e.query}
                                           for e in app.requests.entries()])
            if head == "sobjects" and len(segs) == 2:
                if method == "GET":
                    return json_response(200, app.all(segs[1], include_deleted=bool(
                        request.args.get("include_deleted"))))
                if method == "POST":
                    # "validate": false also sets read-only fields: a Task logged at a given CreatedDate.
                    fields = {k: v for k, v in body.items() if k not in ("as_user", "validate")}
                    return json_response(201, {"id": app.insert(segs[1], fields, as_user=as_user,
                                                                validate=body.get("validate") is not False)})
            if head == "sobjects" and len(segs) == 3:
                if method == "GET":
                    rec = app.get(segs[1], segs[2])
                    return json_response(200, rec) if rec is not None else json_response(
                        404, [{"errorCode": "NOT_FOUND", "message": "no such record"}])
                if method == "PATCH":
                    app.update(segs[1], segs[2], {k: v for k, v in body.items() if k != "as_user"},
                               as_user=as_user)
                    return Response(status=204)
                if method == "DELETE":
                    app.delete(segs[1], segs[2])
                    return Response(status=204)
            if head == "leads" and len(segs) == 3 and segs[2] == "convert" and method == "POST":
                return json_response(200, app.convert_lead(segs[1], opportunity=body.get("opportunity"),
                                                           account_id=body.get("account_id"), as_user=as_user))
            if head == "leads" and len(segs) == 2 and segs[1] == "merge" and method == "POST":
                return json_response(200, app.merge_leads(body["master"], list(body["losers"]), as_user=as_user))
            if head == "leads" and len(segs) == 2 and segs[1] == "convert" and method == "POST":
                return json_response(200, {"results": self._convert_many(body, as_user)})
            return json_response(404, [{"errorCode": "NOT_FOUND",
                                        "message": f"no control endpoint {method} {request.path}"}])
        except SalesforceEmulatorError as e:
            return json_response(400, [{"errorCode": x["statusCode"], "message": x["message"],
                                        "fields": x["fields"]} for x in e.errors])
        except (KeyError, ValueError, TypeError) as e:
            return json_response(400, [{"errorCode": "INVALID_INPUT", "message": str(e)}])
        except RequestError as e:
            return json_response(e.status, e.body())

    def _convert_many(self, body: dict[str, Any], as_user: str | None) -> list[dict[str, Any]]:
        """Convert each Lead named by ``by`` = ``key``; one failure does not stop the others."""
        app = self.app
        by = body.get("by", "Id")
        results: list[dict[str, Any]] = []
        for item in body["conversions"]:
            key = str(item["key"])
            ids = [key] if by == "Id" else app.find_ids("Lead", by, key)
            if len(ids) != 1:
                results.append({"key": key, "errors": [{"errorCode": "NOT_FOUND",
                                                        "message": f"{len(ids)} Leads with {by} = {key}"}]})
                continue
            try:
                converted = app.convert_lead(ids[0], opportunity=item.get("opportunity"),
                                             account_id=item.get("account_id"), as_user=as_user)
                results.append({"key": key, "lead_id": ids[0], **converted})
            except SalesforceEmulatorError as e:
                results.append({"key": key, "errors": [{"errorCode": x["statusCode"], "message": x["message"]}
                                                       for x in e.errors]})
        return results
