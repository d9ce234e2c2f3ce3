"""HubSpotContacts.update_contacts: per-record answers from 207s and from whole-batch 400s.

The SDK's batch endpoint is replaced by a small stand-in (the SDK is injected, not patched):
HubSpot refuses a whole batch with 400 when one input has a bad value, without naming the
contact: the contacts holding the value its message names go alone and the rest as one batch;
when no value matches, the connector halves the batch until it finds the contact.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from hubspot.crm.contacts.exceptions import ApiException

from connectors.hubspot import HubSpotClient, HubSpotContacts
from syncd.core.errors import ConfigError


class FakeBatchApi:
    """Refuses any batch holding a contact in ``bad`` (400), reports ``gone`` ids as 207 errors."""

    def __init__(self, bad: set[str] = frozenset(), gone: set[str] = frozenset(), code: str = "INVALID_OPTION"):
        self.bad, self.gone, self.code = bad, gone, code
        self.calls: list[list[str]] = []

    def update(self, batch_input_simple_public_object_batch_input, **_kwargs):  # noqa: ANN001 - SDK signature
        ids = [i["id"] for i in batch_input_simple_public_object_batch_input["inputs"]]   # the JSON body
        self.calls.append(ids)
        if self.bad & set(ids):
            exc = ApiException(status=400, reason="Bad Request")
            exc.body = json.dumps({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": "Property values were not valid",
                                   "errors": [{"message": "x was not one of the allowed options", "code": self.code,
                                               "context": {"propertyName": ["syncd_outcome"]}}]})
            raise exc
        done = [i for i in ids if i not in self.gone]
        body = {"status": "COMPLETE", "results": [{"id": i} for i in done]}
        if len(done) < len(ids):
            body["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found",
                               "context": {"ids": [i for i in ids if i in self.gone]}}]
        return SimpleNamespace(status=207 if len(done) < len(ids) else 200, data=json.dumps(body).encode())


def connector(api: FakeBatchApi) -> HubSpotContacts:
    client = HubSpotClient(access_token="pat-test", base_url="https://hubspot.invalid")
    client.sdk = SimpleNamespace(crm=SimpleNamespace(contacts=SimpleNamespace(batch_api=api, search_api=None)))
    return HubSpotContacts(client)


def updates(n: int) -> list[tuple[str, dict[str, str]]]:
    return [(str(i), {"syncd_outcome": "won"}) for i in range(1, n + 1)]


def test_one_bad_value_in_a_batch_is_isolated_by_halving_and_the_others_land():
    api = FakeBatchApi(bad={"13"})
    results = connector(api).update_contacts(updates(16))
    assert [r.hubspot_id for r in results] == [str(i) for i in range(1, 17)]
    assert [(r.hubspot_id, r.code) for r in results if not r.ok] == [("13", "INVALID_OPTION")]
    assert len(api.calls) == 1 + 2 * 4                        # halving 16 -> 1: two requests per level
    assert "allowed options" in next(r.message for r in results if not r.ok)


class NamingBatchApi(FakeBatchApi):
    """Refuses a batch as HubSpot does: its message starts with the first refused value."""

    def __init__(self, bad_values: dict[str, str]) -> None:
        super().__init__(bad=set(bad_values))
        self.bad_values = bad_values

    def update(self, batch_input_simple_public_object_batch_input, **kwargs):  # noqa: ANN001
        inputs = batch_input_simple_public_object_batch_input["inputs"]
        refused = [i for i in inputs if i["properties"].get("syncd_outcome") in self.bad_values.values()]
        if not refused:
            return super().update(batch_input_simple_public_object_batch_input, **kwargs)
        self.calls.append([i["id"] for i in inputs])
        value = refused[0]["properties"]["syncd_outcome"]
        exc = ApiException(status=400, reason="Bad Request")
        exc.body = json.dumps({"status": "error", "category": "VALIDATION_ERROR",
                               "message": "Property values were not valid",
                               "errors": [{"message": f"{value} was not one of the allowed options: [won, lost]",
                                           "code": "INVALID_OPTION", "context": {"propertyName": ["syncd_outcome"]}}]})
        raise exc


def test_a_refused_value_named_by_hubspot_costs_two_more_calls_not_a_halving():
    api = NamingBatchApi({"57": "w0n"})
    batch = [(cid, {"syncd_outcome": "w0n" if cid == "57" else "won"}) for cid, _ in updates(100)]
    results = connector(api).update_contacts(batch)
    assert [r.hubspot_id for r in results] == [str(i) for i in range(1, 101)]
    assert [(r.hubspot_id, r.code) for r in results if not r.ok] == [("57", "INVALID_OPTION")]
    assert [len(c) for c in api.calls] == [100, 1, 99]        # refused, the accused alone, the rest


def test_a_valid_value_listed_among_the_allowed_options_is_not_accused():
    api = NamingBatchApi({"3": "w0n"})
    batch = [(cid, {"syncd_outcome": "w0n" if cid == "3" else "lost"}) for cid, _ in updates(8)]
    results = connector(api).update_contacts(batch)
    assert [(r.hubspot_id, r.code) for r in results if not r.ok] == [("3", "INVALID_OPTION")]
    assert [len(c) for c in api.calls] == [8, 1, 7]           # "lost" is in the message's list, not at its start


def test_ids_hubspot_no_longer_has_come_back_as_object_not_found_in_order():
    results = connector(FakeBatchApi(gone={"2", "4"})).update_contacts(updates(5))
    assert [(r.hubspot_id, r.ok, r.code) for r in results] == [
        ("1", True, None), ("2", False, "OBJECT_NOT_FOUND"), ("3", True, None), ("4", False, "OBJECT_NOT_FOUND"),
        ("5", True, None)]


def test_250_updates_go_100_per_call():
    api = FakeBatchApi()
    assert all(r.ok for r in connector(api).update_contacts(updates(250)))
    assert [len(c) for c in api.calls] == [100, 100, 50]


def test_a_property_hubspot_does_not_have_is_a_configuration_error_naming_it():
    with pytest.raises(ConfigError, match=r"syncd_outcome.*syncd setup hubspot"):
        connector(FakeBatchApi(bad={"1"}, code="PROPERTY_DOESNT_EXIST")).update_contacts(updates(3))
