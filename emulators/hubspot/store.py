"""The contacts of one emulated HubSpot portal, with the sorted indexes search narrows by.

A contact keeps its property values twice: ``props`` as HubSpot returns them (normalised strings)
and ``typed`` as search compares them (numbers, epoch ms, lower-cased text), so a search over
100,000 contacts compares plain Python values. ``history`` keeps every write, oldest first, with
its source, for ``propertiesWithHistory``.

``version`` goes up on every change; search caches its matches per version (see
``emulators.hubspot.search``), so anything that changes a contact must go through this class.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Iterable

from emulators.hubspot.property_definitions import ALWAYS_RETURNED
from emulators.hubspot.properties import PropertyRegistry, typed_value
from emulators.hubspot.timefmt import iso_ms, parse_time_ms

CALCULATED = {"sourceType": "CALCULATED", "sourceId": "ObjectPropertyHandler"}
# Set by the store itself (the id, and every write moves the modification date); a written value
# for them is ignored.
SYSTEM_KEPT = ("hs_object_id", "lastmodifieddate")


@dataclass(eq=False)
class Contact:
    """One stored contact.  ``props`` holds non-empty normalised strings; ``typed`` the
    comparable values search uses; ``history`` per property, oldest first."""

    id: int
    created_ms: int
    updated_ms: int
    props: dict[str, str] = field(default_factory=dict)
    typed: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    archived: bool = False
    archived_ms: int | None = None
    merged_into: int | None = None      # merged away: its id now names this contact (``merges``)


class ContactStore:
    """Contacts by id, live ids in ascending order, live ``(lastmodified ms, id)`` pairs in
    ascending order, and the email → id index (emails are unique per portal, case-insensitive)."""

    def __init__(self, registry: PropertyRegistry, first_id: int = 1) -> None:
        self.registry = registry
        self.by_id: dict[int, Contact] = {}
        self.ids: list[int] = []
        self.mod_index: list[tuple[int, int]] = []
        self._emails: dict[str, int] = {}
        self._next_id = first_id
        self.version = 0

    def changed(self) -> None:
        """Something search depends on changed (a contact, or a property definition)."""
        self.version += 1

    # -- writes

    def set_text(self, c: Contact, name: str, text: str, at_iso: str, source: dict[str, Any]) -> None:
        """Write one normalised value ('' clears it) and record it in the property's history."""
        self.version += 1
        ptype = self.registry.type_of(name) or "string"
        old_email = c.props.get("email") if name == "email" else None
        if text == "":
            c.props.pop(name, None)
            c.typed.pop(name, None)
        else:
            c.props[name] = text
            c.typed[name] = typed_value(ptype, text)
        if name == "email":
            if old_email and self._emails.get(old_email.lower()) == c.id:
                del self._emails[old_email.lower()]
            if text:
                self._emails[text.lower()] = c.id
        if name == "createdate" and text:
            c.created_ms = parse_time_ms(text) or c.created_ms
        c.history.setdefault(name, []).append({"value": text, "timestamp": at_iso, **source})

    def set_history(self, c: Contact, name: str, entries: Iterable[tuple[str, str]],
                    source: dict[str, Any]) -> None:
        """Replay past values (``(text, iso timestamp)``, oldest first) of one property; the last
        one becomes the current value. For seeding contacts that have a past."""
        for text, at_iso in entries:
            self.set_text(c, name, text, at_iso, source)

    def touch(self, c: Contact, at_ms: int, at_iso: str) -> None:
        """Move ``lastmodifieddate`` (and the contact's place in the modification index)."""
        self.version += 1
        if not c.archived:
            old = (c.updated_ms, c.id)
            i = bisect.bisect_left(self.mod_index, old)
            if i < len(self.mod_index) and self.mod_index[i] == old:
                del self.mod_index[i]
            bisect.insort(self.mod_index, (at_ms, c.id))
        c.updated_ms = at_ms
        c.props["lastmodifieddate"] = at_iso
        c.typed["lastmodifieddate"] = at_ms
        c.history.setdefault("lastmodifieddate", []).append(
            {"value": at_iso, "timestamp": at_iso, "sourceType": "CALCULATED", "sourceId": "RollupProperties"})

    def update(self, c: Contact, values: dict[str, str], at_ms: int, at_iso: str, source: dict[str, Any]) -> None:
        """Write validated values to an existing contact, then move its ``lastmodifieddate``."""
        for name, text in values.items():
            if name not in SYSTEM_KEPT:
                self.set_text(c, name, text, at_iso, source)
        self.touch(c, at_ms, at_iso)

    def new_contact(self, values: dict[str, str], at_ms: int, at_iso: str, source: dict[str, Any]) -> Contact:
        """A contact with the next id, not yet in the indexes (``add`` / ``add_many`` put it there)."""
        cid = self._next_id
        self._next_id += 1
        c = Contact(id=cid, created_ms=at_ms, updated_ms=at_ms)
        sid = str(cid)
        c.props.update(hs_object_id=sid, createdate=at_iso, lastmodifieddate=at_iso)
        c.typed.update(hs_object_id=float(cid), createdate=at_ms, lastmodifieddate=at_ms)
        c.history.update(
            hs_object_id=[{"value": sid, "timestamp": at_iso, **CALCULATED}],
            createdate=[{"value": at_iso, "timestamp": at_iso, **CALCULATED}],
            lastmodifieddate=[{"value": at_iso, "timestamp": at_iso, **CALCULATED}],
        )
        for name, text in values.items():
            if name in SYSTEM_KEPT:
                continue
            if name == "createdate":
                c.history["createdate"] = []
            if text != "":
                self.set_text(c, name, text, at_iso, source)
        self.by_id[cid] = c
        return c

    def add(self, c: Contact) -> None:
        self.version += 1
        self.ids.append(c.id)  # ids are allocated in ascending order
        bisect.insort(self.mod_index, (c.updated_ms, c.id))

    def add_many(self, contacts: list[Contact]) -> None:
        self.version += 1
        self.ids.extend(c.id for c in contacts)
        self.mod_index.extend((c.updated_ms, c.id) for c in contacts)
        self.mod_index.sort()

    def archive(self, c: Contact, at_ms: int) -> None:
        if c.archived:
            return
        c.archived, c.archived_ms = True, at_ms
        self.unindex(c)

    def unindex(self, c: Contact) -> None:
        """Out of search, the listing and the email index (archived, merged away or purged)."""
        self.version += 1
        i = bisect.bisect_left(self.ids, c.id)
        if i < len(self.ids) and self.ids[i] == c.id:
            del self.ids[i]
        key = (c.updated_ms, c.id)
        j = bisect.bisect_left(self.mod_index, key)
        if j < len(self.mod_index) and self.mod_index[j] == key:
            del self.mod_index[j]
        email = c.props.get("email")
        if email and self._emails.get(email.lower()) == c.id:
            del self._emails[email.lower()]

    def claim_email(self, c: Contact, email: str) -> None:
        """``c`` is the contact this email names (a merge's survivor takes its primary's email)."""
        self._emails[email.lower()] = c.id

    def reinstate(self, c: Contact) -> None:
        """Back in the id list and the email index (restored from the recycle bin)."""
        self.version += 1
        bisect.insort(self.ids, c.id)
        if c.props.get("email"):
            self.claim_email(c, c.props["email"])

    # -- reads

    def email_owner(self, email: str | None) -> int | None:
        if not email:
            return None
        return self._emails.get(email.lower())

    def live(self, cid: int) -> Contact | None:
        c = self.by_id.get(cid)
        return c if c is not None and not c.archived and c.merged_into is None else None

    def follow(self, c: Contact | None) -> Contact | None:
        """The contact a merged-away one now is (itself when it was never merged away)."""
        while c is not None and c.merged_into is not None:
            c = self.by_id.get(c.merged_into)
        return c

    def resolve(self, raw_id: Any, id_property: str | None, *, archived: bool = False,
                follow_merges: bool = False) -> Contact | None:
        """The contact an API input names (by id, email or another unique property). A merged-away
        id names nothing, except where ``follow_merges`` (single-record GET and PATCH) leads it to
        the contact it was merged into."""
        text = str(raw_id).strip() if raw_id is not None else ""
        if id_property in (None, "", "hs_object_id"):
            if not text.isdigit():
                return None
            c = self.by_id.get(int(text))
            c = self.follow(c) if follow_merges else c
        elif id_property == "email":
            owner = self.email_owner(text)
            c = self.by_id.get(owner) if owner is not None else None
        else:
            c = next((x for x in self.by_id.values() if x.props.get(id_property) == text), None)
        if c is None or c.archived != archived or c.merged_into is not None:
            return None
        return c

    def render(self, c: Contact, properties: Iterable[str], history: Iterable[str] = ()) -> dict[str, Any]:
        """A contact as the API returns it: asked-for properties (null when empty) plus the
        always-returned ones, and ``propertiesWithHistory`` newest first."""
        props: dict[str, Any] = {}
        for name in list(properties) + list(ALWAYS_RETURNED):
            if name not in props and self.registry.get(name) is not None:
                props[name] = c.props.get(name)
        out: dict[str, Any] = {"id": str(c.id), "properties": props, "createdAt": iso_ms(c.created_ms),
                               "updatedAt": iso_ms(c.updated_ms), "archived": c.archived}
        if c.archived and c.archived_ms is not None:
            out["archivedAt"] = iso_ms(c.archived_ms)
        hist = [h for h in history if self.registry.get(h) is not None]
        if hist:
            out["propertiesWithHistory"] = {h: [dict(e) for e in reversed(c.history.get(h, []))] for h in hist}
        return out

    def snapshot(self, c: Contact) -> dict[str, Any]:
        """Everything about one contact, for the control API."""
        return {
            "id": str(c.id),
            "properties": dict(c.props),
            "propertiesWithHistory": {k: [dict(e) for e in reversed(v)] for k, v in c.history.items()},
            "createdAt": iso_ms(c.created_ms),
            "updatedAt": iso_ms(c.updated_ms),
            "archived": c.archived,
            **({"archivedAt": iso_ms(c.archived_ms)} if c.archived_ms is not None else {}),
        }
