"""Contacts that move, in the HubSpot emulator: merges, restores from the recycle bin, GDPR deletes.

Merge (``POST /crm/v3/objects/contacts/merge``), as HubSpot's changelog "Updated merge functionality
for contacts and companies" describes it: a NEW record with a new id is created and both records are
merged into it (``mints_new_id``; the older behaviour, where the primary keeps its id, is the other
setting). Its current values are the primary's, and a value only the other record has is kept; the
history of both is combined; ``hs_merged_object_ids`` lists every id merged into it (semicolon
separated, earlier merges included); the other record's email goes to ``hs_additional_emails``;
``lastmodifieddate`` moves to the merge. The merged-away ids leave search, the paged listing and
batch read/update (``OBJECT_NOT_FOUND``, as for a deleted id), but a single GET or PATCH of one of
them reaches the record it was merged into, which answers with its own id. A merged-away id is
not in the archived listing: it was merged, not deleted, and cannot be restored [UNCONFIRMED: the
docs do not say; HubSpot's recycle bin offers no merged records].

Restore puts an archived contact back with its id (the recycle bin keeps it 90 days). GDPR delete
(``POST /crm/v3/objects/contacts/gdpr-delete``) removes a contact for good: it is in no search,
listing (archived or not) or read afterwards. The blocklist HubSpot keeps for a GDPR delete by an
email it does not know is not modelled.
"""

from __future__ import annotations

from typing import Any

from emulators.hubspot.store import Contact, ContactStore
from emulators.hubspot.timefmt import iso_ms

MERGED_IDS = "hs_merged_object_ids"
ADDITIONAL_EMAILS = "hs_additional_emails"
_KEPT_BY_MERGE = ("hs_object_id", "createdate", "lastmodifieddate", MERGED_IDS, ADDITIONAL_EMAILS)


class MergeError(ValueError):
    """A merge HubSpot refuses (the same record twice, an archived record)."""


def _ids(c: Contact) -> list[str]:
    return [i for i in (c.props.get(MERGED_IDS) or "").split(";") if i]


def _emails(c: Contact) -> list[str]:
    return [e for e in (c.props.get(ADDITIONAL_EMAILS) or "").split(";") if e]


def merge(store: ContactStore, primary: Contact, other: Contact, at_ms: int, at_iso: str, *,
          mints_new_id: bool) -> Contact:
    """Merge ``other`` into ``primary``; the contact that results (a new one when ``mints_new_id``)."""
    if primary.id == other.id:
        raise MergeError("Cannot merge an object with itself")
    if primary.archived or other.archived:
        raise MergeError("Cannot merge an archived object")
    merged_ids = _ids(primary) + ([str(primary.id)] if mints_new_id else []) + _ids(other) + [str(other.id)]
    emails = [e for e in _emails(primary) + [other.props.get("email") or ""] + _emails(other)
              if e and e.lower() != (primary.props.get("email") or "").lower()]
    values = {k: v for k, v in {**other.props, **primary.props}.items() if k not in _KEPT_BY_MERGE}
    gone = [primary, other] if mints_new_id else [other]
    for c in gone:
        store.unindex(c)
    if mints_new_id:
        created = min(primary.created_ms, other.created_ms)
        survivor = store.new_contact({}, created, iso_ms(created), {"sourceType": "MERGE", "sourceId": "merge"})
        history: dict[str, list[dict[str, Any]]] = {}
        for c in (other, primary):
            for name, entries in c.history.items():
                if name not in _KEPT_BY_MERGE:
                    history.setdefault(name, []).extend(entries)
        for name, entries in history.items():
            survivor.history[name] = sorted(entries, key=lambda e: str(e.get("timestamp", "")))
        for name, text in values.items():
            survivor.props[name] = text
            survivor.typed[name] = other.typed.get(name) if name not in primary.typed else primary.typed[name]
        if values.get("email"):
            store.claim_email(survivor, values["email"])
        store.add(survivor)
    else:
        survivor = primary
        for name, text in values.items():
            if name not in primary.props:
                store.set_text(survivor, name, text, at_iso, {"sourceType": "MERGE", "sourceId": "merge"})
    for c in gone:
        c.merged_into = survivor.id
    source = {"sourceType": "MERGE", "sourceId": "merge"}
    store.set_text(survivor, MERGED_IDS, ";".join(dict.fromkeys(merged_ids)), at_iso, source)
    if emails:
        store.set_text(survivor, ADDITIONAL_EMAILS, ";".join(dict.fromkeys(emails)), at_iso, source)
    store.touch(survivor, at_ms, at_iso)
    return survivor


def restore(store: ContactStore, c: Contact, at_ms: int, at_iso: str) -> None:
    """An archived contact back from the recycle bin, with its id; ``lastmodifieddate`` moves."""
    owner = store.email_owner(c.props.get("email"))
    if owner is not None and owner != c.id:
        raise MergeError(f"Contact already exists with email {c.props['email']} (id {owner})")
    c.archived, c.archived_ms = False, None
    store.reinstate(c)
    store.touch(c, at_ms, at_iso)


def purge(store: ContactStore, c: Contact) -> None:
    """A GDPR delete: gone for good, archived or not."""
    if not c.archived and c.merged_into is None:
        store.unindex(c)
    del store.by_id[c.id]
    store.changed()
