"""Single-record REST resources: ``/sobjects`` (global describe), ``/sobjects/{type}`` (create,
basic info), ``/sobjects/{type}/describe``, ``/sobjects/{type}/{id}`` (get, update, delete) and
``/sobjects/{type}/{field}/{value}`` (get, upsert, delete by external id or an idLookup field:
300 with the candidates' URLs when the value matches several records)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from emulators.salesforce.coercion import coerce
from emulators.salesforce.errors import RequestError, err, json_response, method_not_allowed, not_found, single_error
from emulators.salesforce.ids import normalize_id
from emulators.salesforce.oauth import Session
from emulators.salesforce.schema import SObjectDef
from emulators.salesforce.store import RecordStore
from emulators.salesforce.wire import MAX_COLLECTION_SIZE, external_field, global_entry, json_object, url_maker


class SObjectsApi:
    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def handle(self, request: Request, version: str, segs: list[str],
                  session: Session) -> Response:
        method = request.method
        if not segs:
            if method != "GET":
                raise method_not_allowed(method, "GET")
            return json_response(200, {"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION_SIZE,
                               "sobjects": [global_entry(o) for o in self.store.schema.objects()]})
        obj = self.store.schema.get(segs[0])
        if obj is None:
            raise not_found()
        self.store.records.setdefault(obj.name, {})
        if len(segs) == 1:
            if method == "GET":
                return json_response(200, {"objectDescribe": global_entry(obj), "recentItems": []})
            if method == "POST":
                return self._create_one(request, obj, session)
            raise method_not_allowed(method, "GET,POST")
        if len(segs) == 2 and segs[1] == "describe":
            if method != "GET":
                raise method_not_allowed(method, "GET")
            body = obj.describe()
            body["urls"] = {k: v.replace("vXX.X", f"v{version}") for k, v in body["urls"].items()}
            return json_response(200, body)
        if len(segs) == 2:
            record_id = segs[1]
            if normalize_id(record_id) is None:
                raise RequestError(404, "NOT_FOUND", f"Provided external ID field does not "
                                                      f"exist or is not accessible: {record_id}")
            if method == "GET":
                return self._get_one(request, obj, record_id, version)
            if method == "PATCH":
                return self._update_one(request, obj, record_id, session)
            if method == "DELETE":
                return self._delete_one(obj, record_id)
            raise method_not_allowed(method, "GET,PATCH,DELETE")
        if len(segs) == 3:
            return self._by_external_id(request, version, obj, segs[1], segs[2], session)
        raise not_found()

    def _get_one(self, request: Request, obj: SObjectDef, record_id: str,
                 version: str) -> Response:
        rid = normalize_id(record_id)
        rec = self.store.records[obj.name].get(rid) if rid else None
        if rec is None:
            raise not_found()
        if rec.get("IsDeleted"):
            raise RequestError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return json_response(200, self._record_body(request, obj, rec, version))

    def _record_body(self, request: Request, obj: SObjectDef, rec: dict[str, Any],
                     version: str) -> dict[str, Any]:
        wanted = request.args.get("fields")
        rendered = self.store.render(obj, rec)
        if wanted:
            names = [self.store.field(obj, f.strip()).name for f in wanted.split(",") if f.strip()]
            rendered = {n: rendered[n] for n in names}
        return {"attributes": {"type": obj.name, "url": url_maker(version)(obj.name, rec["Id"])},
                **rendered}

    def _create_one(self, request: Request, obj: SObjectDef, session: Session) -> Response:
        values = self.store.prepare(obj, json_object(request))
        rid, errors = self.store.write(obj, values, existing=None, user_id=session.user_id,
                                  journal=[])
        if errors:
            return single_error(errors[0])
        return json_response(201, {"id": rid, "success": True, "errors": []})

    def _update_one(self, request: Request, obj: SObjectDef, record_id: str,
                    session: Session) -> Response:
        values = self.store.prepare(obj, json_object(request))
        existing, error = self.store.lookup_for_write(obj, record_id)
        if error:
            raise not_found() if error["statusCode"] in ("INVALID_CROSS_REFERENCE_KEY",
                                                          "MALFORMED_ID") \
                else RequestError(404, error["statusCode"], error["message"], [])
        if values.get("Id") not in (None, existing["Id"]):
            return single_error(err("INVALID_FIELD",
                                           "The Id field should not be specified in the "
                                           "sobject data.", ["Id"]))
        values.pop("Id", None)
        _, errors = self.store.write(obj, values, existing=existing, user_id=session.user_id,
                                journal=[])
        if errors:
            return single_error(errors[0])
        return Response(status=204)

    def _delete_one(self, obj: SObjectDef, record_id: str) -> Response:
        error = self.store.delete(obj, record_id, journal=[])
        if error:
            if error["statusCode"] == "ENTITY_IS_DELETED":
                return json_response(404, [{"message": "entity is deleted",
                                    "errorCode": "ENTITY_IS_DELETED", "fields": []}])
            raise not_found()
        return Response(status=204)

    def _by_external_id(self, request: Request, version: str, obj: SObjectDef, field_name: str,
                        value: str, session: Session) -> Response:
        method = request.method
        fd = external_field(obj, field_name, single=True)
        if fd.type == "id":
            raise not_found()
        matches = self.store.lookup_index(obj, fd, value)
        url_for = url_maker(version)
        if len(matches) > 1:
            return json_response(300, [url_for(obj.name, i) for i in matches])
        if method == "GET":
            if not matches:
                raise not_found()
            rec = self.store.records[obj.name][matches[0]]
            return json_response(200, self._record_body(request, obj, rec, version))
        if method == "PATCH":
            raw = json_object(request)
            values = self.store.prepare(obj, raw)
            values.pop("Id", None)
            values[fd.name] = coerce(fd, value)
            if matches:
                existing = self.store.records[obj.name][matches[0]]
                _, errors = self.store.write(obj, values, existing=existing, user_id=session.user_id,
                                        journal=[])
                if errors:
                    return single_error(errors[0])
                return json_response(200, {"id": existing["Id"], "success": True, "errors": [],
                                   "created": False})
            rid, errors = self.store.write(obj, values, existing=None, user_id=session.user_id,
                                      journal=[])
            if errors:
                return single_error(errors[0])
            return json_response(201, {"id": rid, "success": True, "errors": [], "created": True})
        if method == "DELETE":
            if not matches:
                raise not_found()
            error = self.store.delete(obj, matches[0], journal=[])
            if error:
                return single_error(error)
            return Response(status=204)
        raise method_not_allowed(method, "GET,PATCH,DELETE")

