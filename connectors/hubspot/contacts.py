"""HubSpot CRM v3 contacts: the contact source of the forward leg and the contact sink of the back
leg (``syncd.core.ports.ContactSource`` and ``ContactSink``).

Reading changed contacts: search pages by id (``connectors.hubspot.search``). The properties come
back in the search itself when the request stays under the 3,000-character body limit; otherwise
(or when property history is needed) the search lists each contact's id, ``lastmodifieddate``
and email only (``complete=False``), and ``read_contacts`` fetches the rest by batch read, 100
ids per call (50 with history), several calls at once within the account's limits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from connectors.errors import HUBSPOT, UNEXPECTED, record_retryable, remote_error
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.moves import MERGED_IDS, ContactMoves, merged_ids
from connectors.hubspot.properties import ContactProperties
from connectors.hubspot.search import PAGE_SIZE, STUB_PROPERTIES, fits_inline, search_body
from syncd.core.errors import ConfigError, Problem
from syncd.core.ports import ContactQuery, Page
from syncd.core.records import Contact, ContactWriteResult, GoneContact, HistoryEntry

BATCH_READ_LIMIT = 100          # batch read: at most 100 ids
BATCH_READ_HISTORY_LIMIT = 50   # batch read with propertiesWithHistory: at most 50 ids
BATCH_UPDATE_LIMIT = 100        # batch update: at most 100 inputs
READERS = 4                     # batch reads in flight at once (the limiter still paces them)


def _to_contact(obj: Any, complete: bool = True) -> Contact:
    if not isinstance(obj, dict) or obj.get("id") is None:
        raise remote_error(HUBSPOT, "read contacts", code=UNEXPECTED, message="a result without an id")
    history = {name: tuple(HistoryEntry(e.get("value"), str(e.get("timestamp", ""))) for e in entries or ())
               for name, entries in (obj.get("propertiesWithHistory") or {}).items()}
    properties = dict(obj.get("properties") or {})
    return Contact(str(obj["id"]), properties, history, complete, merged_ids(properties))


def _with_merged_ids(properties: Sequence[str]) -> list[str]:
    """Every read asks for the ids merged into the contact: a merge moves syncd's link (syncd.plan.contact_moves)."""
    return list(dict.fromkeys([*properties, MERGED_IDS]))


def _accused(batch: list[tuple[str, dict[str, str]]], details: list[dict[str, Any]]) -> set[str]:
    """Contacts whose value a whole-batch 400 names. HubSpot's validation messages begin with the
    refused value ("x was not one of the allowed options: [...]", "x is not a valid number.") or
    quote it ("Email address x is invalid"), under the property's name; a value that only
    appears inside the list of allowed options is not accused."""
    accused = set()
    for error in details:
        message = str(error.get("message") or "")
        for name in (error.get("context") or {}).get("propertyName") or []:
            for contact_id, properties in batch:
                value = str(properties.get(name) or "")
                if value and (message.startswith(f"{value} ") or f"address {value} is invalid" in message):
                    accused.add(contact_id)
    return accused


class HubSpotContacts:
    system = HUBSPOT

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        # The SDK builds a new API client (and connection pool) on every attribute access: take
        # each once, so calls reuse kept-alive connections. Bodies go as plain JSON dicts (the SDK
        # passes dicts through); building its models for thousands of ids costs more than the call.
        self.search_api = client.sdk.crm.contacts.search_api
        self.batch_api = client.sdk.crm.contacts.batch_api
        self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="hubspot-read")
        self.moves = ContactMoves(client)

    def server_skew(self) -> float | None:
        return self.client.clock.skew

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the contact source -----------------------------------------------------------------
    def changed_contacts(self, query: ContactQuery) -> Iterator[Page[Contact]]:
        """Every contact meeting the filters and modified inside the window, a page at a time."""
        wanted = _with_merged_ids(query.properties)
        inline = not query.history and fits_inline(query.filters, query.window, wanted)
        properties = wanted if inline else _with_merged_ids(STUB_PROPERTIES)
        after_id: str | None = None
        while True:
            request = search_body(query.filters, query.window, after_id, properties)
            body = self.client.call("search", lambda: self.search_api.do_search(
                public_object_search_request=request, _request_timeout=self.client.timeout,
                _preload_content=False), search=True, lists=("results",))
            results = body["results"]
            contacts = [_to_contact(o, complete=inline) for o in results]
            if not contacts:
                return
            last_id = contacts[-1].id
            if after_id is not None and int(last_id) <= int(after_id):
                raise remote_error(HUBSPOT, "search", code=UNEXPECTED,
                                   message=f"paging went backwards ({last_id} after {after_id})")
            total = body.get("total")
            yield Page(contacts, total if isinstance(total, int) else None)
            if len(results) < PAGE_SIZE or not body.get("paging"):
                return
            after_id = last_id

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str],
                      history: Sequence[str] = ()) -> list[Contact]:
        """Batch read by id (100 per call, 50 with history). Missing or archived ids are left out."""
        size = BATCH_READ_HISTORY_LIMIT if history else BATCH_READ_LIMIT
        chunks = [list(ids[start:start + size]) for start in range(0, len(ids), size)]
        found: dict[str, Contact] = {}
        for results in self._pool.map(lambda chunk: self._read(chunk, properties, history), chunks):
            found.update((c.id, c) for c in results)
        return [found[i] for i in ids if i in found]

    def read_contacts_by_email(self, emails: Sequence[str], properties: Sequence[str],
                               history: Sequence[str] = ()) -> list[Contact]:
        """Batch read by email (HubSpot's ``idProperty``), for `syncd preview`; unknown emails are left out."""
        size = BATCH_READ_HISTORY_LIMIT if history else BATCH_READ_LIMIT
        found: list[Contact] = []
        for start in range(0, len(emails), size):
            found += self._read(list(emails[start:start + size]), properties, history, id_property="email")
        return found

    def _read(self, ids: list[str], properties: Sequence[str], history: Sequence[str],
              id_property: str | None = None) -> list[Contact]:
        request = {"inputs": [{"id": i} for i in ids], "properties": _with_merged_ids(properties),
                   "propertiesWithHistory": list(history)}
        if id_property:
            request["idProperty"] = id_property
        body = self.client.call("batch read", lambda: self.batch_api.read(
            batch_read_input_simple_public_object_id=request, archived=False,
            _request_timeout=self.client.timeout, _preload_content=False), lists=("results",))
        return [_to_contact(obj) for obj in body["results"]]

    def archived_contacts(self) -> Iterator[Page[GoneContact]]:
        return self.moves.archived_contacts()

    def trace_contacts(self, ids: Sequence[str]) -> list[GoneContact]:
        return self.moves.trace_contacts(ids)

    # -- the contact sink ---------------------------------------------------------------------
    def current_values(self, ids: Sequence[str], name: str) -> dict[str, str | None]:
        return {c.id: c.properties.get(name) for c in self.read_contacts(ids, [name])}

    def property_definitions(self) -> dict[str, dict[str, Any]]:
        return ContactProperties(self.client).properties()

    def update_contacts(self, updates: Sequence[tuple[str, dict[str, str]]]) -> list[ContactWriteResult]:
        """Batch update by id, 100 per call; one answer per input, in order. HubSpot answers 207
        for ids it no longer has (deleted or merged): those come back as OBJECT_NOT_FOUND."""
        results: list[ContactWriteResult] = []
        for start in range(0, len(updates), BATCH_UPDATE_LIMIT):
            results.extend(self._update_batch(list(updates[start:start + BATCH_UPDATE_LIMIT])))
        return results

    def _update_batch(self, batch: list[tuple[str, dict[str, str]]]) -> list[ContactWriteResult]:
        request = {"inputs": [{"id": i, "properties": p} for i, p in batch]}
        body = self.client.call("batch update", lambda: self.batch_api.update(
            batch_input_simple_public_object_batch_input=request, _request_timeout=self.client.timeout,
            _preload_content=False), accept=(400,), lists=("results", "errors"))
        if body.get("_status") == 400:          # one invalid input refuses the whole batch
            return self._refused_batch(batch, body)
        done = {str(r.get("id")) for r in body["results"] if isinstance(r, dict)}
        errors = [e for e in body["errors"] if isinstance(e, dict)]
        results = []
        for contact_id, _ in batch:
            if contact_id in done:
                results.append(ContactWriteResult(contact_id, True))
                continue
            # Only an error that names this contact is its error; never borrow another's.
            error = next((e for e in errors if contact_id in ((e.get("context") or {}).get("ids") or [])), {})
            code = str(error.get("category") or "NOT_UPDATED")
            results.append(ContactWriteResult(contact_id, False, code,
                                              str(error.get("message") or "HubSpot did not update it")[:500],
                                              record_retryable(HUBSPOT, code)))
        return results

    def _refused_batch(self, batch: list[tuple[str, dict[str, str]]], body: dict[str, Any]) -> list[ContactWriteResult]:
        """A 400 names the bad value but not the contact. The contacts holding that value are tried
        alone and the rest as one batch; when no value can be matched, the batch is halved until
        the contact is found. A property HubSpot does not have is configuration, not a record problem."""
        details = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        missing = sorted({name for e in details if e.get("code") == "PROPERTY_DOESNT_EXIST"
                          for name in (e.get("context") or {}).get("propertyName") or []})
        if missing or "PROPERTY_DOESNT_EXIST" in str(body.get("message")):
            raise ConfigError(Problem("HubSpot", "feedback.properties", (
                f"HubSpot has no contact propert{'y' if len(missing) == 1 else 'ies'} "
                f"{', '.join(missing) or '(see its message)'}; run `syncd setup hubspot`")))
        accused = _accused(batch, details) if len(batch) > 1 else set()
        if accused and len(accused) < len(batch):
            # The contacts holding the refused value go alone (so each answer is their own), the
            # rest as one batch: one bad contact costs two more calls, not a halving.
            alone = [self._update_batch([item]) for item in batch if item[0] in accused]
            rest = iter(self._update_batch([item for item in batch if item[0] not in accused]))
            alone_by_id = {results[0].hubspot_id: results[0] for results in alone}
            return [alone_by_id[cid] if cid in accused else next(rest) for cid, _ in batch]
        if len(batch) > 1:
            middle = len(batch) // 2
            return self._update_batch(batch[:middle]) + self._update_batch(batch[middle:])
        first = details[0] if details else {}
        message = str(first.get("message") or body.get("message") or "refused")[:500]
        named = (first.get("context") or {}).get("propertyName") or []
        if named:              # said last, the way a Salesforce error names its fields (`syncd rejected list`)
            message += f" (property: {', '.join(str(n) for n in named)})"
        return [ContactWriteResult(batch[0][0], False, first.get("code") or body.get("category") or "VALIDATION_ERROR",
                                   message)]
