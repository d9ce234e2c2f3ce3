"""sObject Collections: create (POST), update (PATCH), delete (DELETE ``?ids=``) up to 200
records of any types in one call, and upsert (PATCH ``/{type}/{externalIdField}``) on an
external id (API v46+). Results come per record, in order; with ``allOrNone`` one failure rolls
back the whole call (``ALL_OR_NONE_OPERATION_ROLLED_BACK`` on the others)."""

from __future__ import annotations

import collections
from typing import Any

from werkzeug.wrappers import Request, Response

from emulators.salesforce.errors import RequestError, err, json_response, method_not_allowed, not_found, rolled_back
from emulators.salesforce.ids import normalize_id
from emulators.salesforce.oauth import Session
from emulators.salesforce.schema import SObjectDef
from emulators.salesforce.store import RecordStore
from emulators.salesforce.wire import (
    MAX_COLLECTION_SIZE,
    external_field,
    json_object,
    save_result,
    upsert_result,
    version_tuple,
)


def _over_record_limit() -> RequestError:
    return RequestError(400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than "
                                                  f"{MAX_COLLECTION_SIZE} records into this call")


class CollectionsApi:
    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def handle(self, request: Request, version: str, segs: list[str],
                     session: Session) -> Response:
        method = request.method
        if len(segs) == 2:
            if version_tuple(version) < (46, 0):
                raise not_found()
            if method != "PATCH":
                raise method_not_allowed(method, "PATCH")
            obj = self.store.schema.get(segs[0])
            if obj is None:
                raise not_found()
            self.store.records.setdefault(obj.name, {})
            return self._collection_upsert(request, obj, segs[1], session)
        if segs:
            raise not_found()
        if method == "POST":
            return self._collection_save(request, session, creating=True)
        if method == "PATCH":
            return self._collection_save(request, session, creating=False)
        if method == "DELETE":
            return self._collection_delete(request)
        if method == "GET":
            raise RequestError(400, "MISSING_ARGUMENT", "ids and fields are required")
        raise method_not_allowed(method, "GET,POST,PATCH,DELETE")

    def _collection_body(self, request: Request) -> tuple[bool, list[Any]]:
        body = json_object(request)
        records = body.get("records")
        if not isinstance(records, list):
            raise RequestError(400, "JSON_PARSER_ERROR",
                                "Cannot deserialize the request: 'records' must be a list")
        if len(records) > MAX_COLLECTION_SIZE:
            raise _over_record_limit()
        all_or_none = body.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise RequestError(400, "JSON_PARSER_ERROR",
                                f"Cannot deserialize instance of boolean from value "
                                f"{all_or_none!r}")
        return all_or_none, records

    def _record_type(self, raw: Any) -> SObjectDef:
        if not isinstance(raw, dict):
            raise RequestError(400, "JSON_PARSER_ERROR",
                                "Cannot deserialize instance of SObject: each record must be "
                                "a JSON object")
        attrs = raw.get("attributes")
        type_name = attrs.get("type") if isinstance(attrs, dict) else None
        if not type_name:
            raise RequestError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        obj = self.store.schema.get(str(type_name))
        if obj is None:
            raise RequestError(400, "INVALID_TYPE",
                                f"sObject type '{type_name}' is not supported.")
        self.store.records.setdefault(obj.name, {})
        return obj

    def _finish(self, results: list[dict[str, Any]], journal: list[tuple],
                all_or_none: bool) -> Response:
        if all_or_none and any(not r["success"] for r in results):
            created = {entry[2] for entry in journal if entry[0] == "create"}
            self.store.rollback(journal)
            for r in results:
                if r["success"]:
                    r["success"] = False
                    r["errors"] = [rolled_back()]
                    if r["id"] in created:
                        r["id"] = None
                    if "created" in r:
                        r["created"] = False
        return json_response(200, results)

    def _collection_upsert(self, request: Request, obj: SObjectDef, field_name: str,
                           session: Session) -> Response:
        fd = external_field(obj, field_name, single=False)
        all_or_none, raws = self._collection_body(request)
        prepared: list[dict[str, Any]] = []
        for raw in raws:
            rtype = self._record_type(raw)
            if rtype.name != obj.name:
                raise RequestError(400, "INVALID_TYPE",
                                    f"The list can contain objects only of type {obj.name}; "
                                    f"found {rtype.name}")
            prepared.append(self.store.prepare(obj, raw))
        keys = [self.store.index_key(fd, v.get(fd.name)) for v in prepared]
        key_counts = collections.Counter(k for k in keys if k is not None)
        results: list[dict[str, Any]] = []
        journal: list[tuple] = []
        for values, key in zip(prepared, keys):
            if fd.type == "id":
                rid = values.pop("Id", None)
                if rid is None:
                    new_id, errors = self.store.write(obj, values, existing=None,
                                                 user_id=session.user_id, journal=journal)
                    results.append(upsert_result(new_id, errors, created=True))
                    continue
                existing, error = self.store.lookup_for_write(obj, rid)
                if error:
                    results.append(upsert_result(None, [error], created=False))
                    continue
                _, errors = self.store.write(obj, values, existing=existing,
                                        user_id=session.user_id, journal=journal)
                results.append(upsert_result(existing["Id"], errors, created=False))
                continue
            value = values.get(fd.name)
            if value is None:
                results.append(upsert_result(None, [err(
                    "MISSING_ARGUMENT", f"{fd.name} not specified", [fd.name])], False))
                continue
            if key_counts[key] > 1:
                results.append(upsert_result(None, [err(
                    "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}",
                    [fd.name])], False))
                continue
            if "Id" in values:
                results.append(upsert_result(None, [err(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "Unable to create/update fields: Id. Upsert by external id can't also "
                    "specify Id.", ["Id"])], False))
                continue
            matches = self.store.lookup_index(obj, fd, value)
            if len(matches) > 1:
                results.append(upsert_result(None, [err(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{fd.name}: more than one record found for external id field: "
                    f"[{', '.join(matches)}]", [fd.name])], False))
                continue
            if matches:
                existing = self.store.records[obj.name][matches[0]]
                _, errors = self.store.write(obj, values, existing=existing,
                                        user_id=session.user_id, journal=journal)
                results.append(upsert_result(None if errors else existing["Id"], errors,
                                              created=False))
            else:
                new_id, errors = self.store.write(obj, values, existing=None,
                                             user_id=session.user_id, journal=journal)
                results.append(upsert_result(new_id, errors, created=not errors))
        return self._finish(results, journal, all_or_none)

    def _collection_save(self, request: Request, session: Session, creating: bool) -> Response:
        all_or_none, raws = self._collection_body(request)
        prepared = []
        for raw in raws:
            obj = self._record_type(raw)
            prepared.append((obj, self.store.prepare(obj, raw)))
        results: list[dict[str, Any]] = []
        journal: list[tuple] = []
        for obj, values in prepared:
            if creating:
                if "Id" in values:
                    results.append(save_result(None, [err(
                        "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call",
                        ["Id"])]))
                    continue
                rid, errors = self.store.write(obj, values, existing=None, user_id=session.user_id,
                                          journal=journal)
                results.append(save_result(rid if not errors else None, errors))
                continue
            rid = values.pop("Id", None)
            if rid is None:
                results.append(save_result(None, [err(
                    "MISSING_ARGUMENT", "Id not specified in an update call", [])]))
                continue
            existing, error = self.store.lookup_for_write(obj, rid)
            if error:
                results.append(save_result(normalize_id(rid) if error["statusCode"] not in
                                            ("MALFORMED_ID",) else None, [error]))
                continue
            _, errors = self.store.write(obj, values, existing=existing, user_id=session.user_id,
                                    journal=journal)
            results.append(save_result(existing["Id"], errors))
        return self._finish(results, journal, all_or_none)

    def _collection_delete(self, request: Request) -> Response:
        ids = [i for i in (request.args.get("ids") or "").split(",") if i]
        if not ids:
            raise RequestError(400, "MISSING_ARGUMENT", "ids parameter is required")
        if len(ids) > MAX_COLLECTION_SIZE:
            raise _over_record_limit()
        all_or_none = (request.args.get("allOrNone") or "false").lower() == "true"
        results: list[dict[str, Any]] = []
        journal: list[tuple] = []
        for raw_id in ids:
            obj = self.store.object_for_id(raw_id)
            if obj is None:
                results.append(save_result(None, [err("MALFORMED_ID",
                                                        f"malformed id {raw_id}")]))
                continue
            self.store.records.setdefault(obj.name, {})
            error = self.store.delete(obj, raw_id, journal)
            rid = normalize_id(raw_id)
            results.append(save_result(rid, [error] if error else []))
        return self._finish(results, journal, all_or_none)

