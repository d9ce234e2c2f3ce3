"""The HubSpot emulator's contacts that move (issue #8): merge, the archived listing, restore and
GDPR delete, driven by the real SDK over TLS (fixtures from test_hubspot_emulator)."""

from __future__ import annotations

import pytest
import requests
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, PublicMergeInput
from hubspot.crm.contacts.exceptions import NotFoundException

from tests.emulators.test_hubspot_emulator import (  # noqa: F401 - fixtures
    HsRig,
    hs,
    hs_make,
    hs_shared_server,
    hs_tls,
    ids_of,
    hs_search,
)

PROPS = ["email", "firstname", "jobtitle", "hs_merged_object_ids", "hs_additional_emails", "lastmodifieddate"]


def _two(hs: HsRig) -> tuple[str, str]:
    primary = hs.emulator.create_contact({"email": "ada@acme.com", "firstname": "Ada"})
    hs.clock.advance(seconds=5)
    other = hs.emulator.create_contact({"email": "ada.l@acme.com", "firstname": "A.", "jobtitle": "CTO"})
    hs.clock.advance(seconds=5)
    return primary, other


def test_a_merge_mints_a_new_record_that_lists_both_ids_and_the_old_ids_answer_only_single_calls(hs):
    primary, other = _two(hs)
    merged = hs.client.crm.contacts.basic_api.merge(PublicMergeInput(primary_object_id=primary,
                                                                     object_id_to_merge=other))
    survivor = merged.id
    assert survivor not in (primary, other) and int(survivor) > int(other)
    got = hs.client.crm.contacts.basic_api.get_by_id(survivor, properties=PROPS)
    assert got.properties["hs_merged_object_ids"] == f"{primary};{other}"
    assert got.properties["email"] == "ada@acme.com" and got.properties["firstname"] == "Ada"   # the primary's
    assert got.properties["jobtitle"] == "CTO"                    # only the other had one: kept
    assert got.properties["hs_additional_emails"] == "ada.l@acme.com"
    assert got.updated_at.isoformat().startswith(hs.clock.now.isoformat()[:19])
    assert ids_of(hs_search(hs)) == [survivor]                    # the old ids left search
    read = hs.client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": primary}, {"id": other}, {"id": survivor}], properties=["email"]))
    assert ids_of(read) == [survivor] and read.errors[0].context == {"ids": [primary, other]}
    # A single GET or PATCH of an old id reaches the survivor, which answers with its own id.
    assert hs.client.crm.contacts.basic_api.get_by_id(other).id == survivor
    assert hs.http("PATCH", f"/crm/v3/objects/contacts/{primary}",
                   {"properties": {"jobtitle": "CEO"}}).json()["id"] == survivor
    # Batch update does not follow them: 207, OBJECT_NOT_FOUND naming the old id.
    answer = hs.http("POST", "/crm/v3/objects/contacts/batch/update",
                     {"inputs": [{"id": other, "properties": {"jobtitle": "x"}},
                                 {"id": survivor, "properties": {"jobtitle": "y"}}]})
    assert answer.status_code == 207 and answer.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert answer.json()["errors"][0]["context"] == {"ids": [other]}
    # Merged, not deleted: not in the archived listing.
    archived = hs.http("GET", "/crm/v3/objects/contacts", params={"archived": "true"}).json()
    assert archived["results"] == []


def test_the_older_merge_keeps_the_primary_id_and_a_later_merge_lists_every_id(hs_make):
    hs = hs_make(merge_mints_new_id=False)
    primary, other = _two(hs)
    third = hs.emulator.create_contact({"email": "ada3@acme.com"})
    assert hs.emulator.merge_contacts(primary, other) == primary
    assert hs.http("POST", "/crm/v3/objects/contacts/merge",
                   {"primaryObjectId": primary, "objectIdToMerge": third}).json()["id"] == primary
    merged = hs.emulator.get_contact(primary)["properties"]["hs_merged_object_ids"]
    assert merged == f"{other};{third}"
    itself = hs.http("POST", "/crm/v3/objects/contacts/merge", {"primaryObjectId": primary, "objectIdToMerge": primary})
    assert itself.status_code == 400


def test_archived_contacts_are_listed_100_a_page_with_archived_at_and_can_be_restored(hs):
    ids = hs.emulator.create_contacts([{"email": f"c{i}@x.com"} for i in range(103)])
    for contact_id in ids[:102]:
        hs.emulator.archive_contact(contact_id)
    page = hs.client.crm.contacts.basic_api.get_page(limit=100, archived=True, properties=["email"])
    assert len(page.results) == 100 and all(c.archived and c.archived_at for c in page.results)
    rest = hs.client.crm.contacts.basic_api.get_page(limit=100, archived=True, after=page.paging.next.after)
    assert [c.id for c in rest.results] == ids[100:102] and rest.paging is None
    hs.clock.advance(minutes=1)
    hs.emulator.restore_contact(ids[0])
    assert hs.client.crm.contacts.basic_api.get_by_id(ids[0], properties=["email"]).properties["email"] == "c0@x.com"
    assert ids[0] in ids_of(hs_search(hs, limit=200))


def test_a_gdpr_delete_is_for_good_and_not_in_the_archived_listing(hs):
    kept, gone, archived_then_gone = hs.emulator.create_contacts([{"email": f"g{i}@x.com"} for i in range(3)])
    hs.emulator.archive_contact(archived_then_gone)
    for contact_id in (gone, archived_then_gone):
        answer = hs.http("POST", "/crm/v3/objects/contacts/gdpr-delete", {"objectId": contact_id})
        assert answer.status_code == 204
    with pytest.raises(NotFoundException):
        hs.client.crm.contacts.basic_api.get_by_id(gone)
    with pytest.raises(NotFoundException):
        hs.client.crm.contacts.basic_api.get_by_id(gone, archived=True)
    assert ids_of(hs_search(hs)) == [kept]
    assert hs.http("GET", "/crm/v3/objects/contacts", params={"archived": "true"}).json()["results"] == []
    answer = hs.http("POST", "/crm/v3/objects/contacts/batch/update", {"inputs": [
        {"id": gone, "properties": {"firstname": "x"}}, {"id": kept, "properties": {"firstname": "y"}}]})
    assert answer.status_code == 207 and answer.json()["errors"][0]["context"] == {"ids": [gone]}
    assert hs.http("POST", "/crm/v3/objects/contacts/gdpr-delete", {"objectId": gone}).status_code == 404
    assert hs.http("POST", "/crm/v3/objects/contacts/gdpr-delete",
                   {"objectId": "nobody@x.com", "idProperty": "email"}).status_code == 204


def test_the_control_api_mirrors_merge_restore_and_gdpr_delete(hs):
    primary, other = _two(hs)

    def control(path: str) -> requests.Response:
        return hs.http("POST", f"/__emulator{path}", {"primary": primary, "merge": other}, token=None)

    survivor = control("/contacts/merge").json()["id"]
    assert hs.emulator.get_contact(survivor)["properties"]["hs_merged_object_ids"] == f"{primary};{other}"
    assert control(f"/contacts/{survivor}/archive").json()["archived"] is True
    assert control(f"/contacts/{survivor}/restore").json()["archived"] is False
    assert control(f"/contacts/{survivor}/gdpr-delete").status_code == 204
    assert hs.emulator.get_contact(survivor) is None
