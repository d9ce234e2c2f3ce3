"""Benchmark: syncd's batched forward sync side by side with a naive per-record integration.

Both run in one process against the same local emulators (HTTPS, real SDKs), on the same
contacts, one after the other:

- baseline: what a straightforward integration does — page the search, then per contact read it
  (GET /contacts/{id}), look its email up in Salesforce (one SOQL query) and upsert one Lead
  (PATCH /sobjects/Lead/<ext>/<id>).
- syncd: `syncd run --once` (search pages, batch reads, one email query and one Collections upsert
  per 200 records).

It prints API calls and wall time for each. The emulators answer in microseconds, so wall time
here measures client-side cost; against the real APIs each call also costs a network round trip
(typically 100-500 ms), which makes the call count the number that matters.

    python scripts/benchmark.py --contacts 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hubspot import HubSpot  # noqa: E402
from simple_salesforce import Salesforce, format_external_id, format_soql  # noqa: E402

from emulators.hubspot import HubSpotEmulator  # noqa: E402
from emulators.salesforce import SalesforceEmulator  # noqa: E402
from emulators.stack import start_stack  # noqa: E402
from syncd import app  # noqa: E402
from syncd.logs import configure_logging  # noqa: E402
from syncd.core.records import Contact, HistoryEntry  # noqa: E402
from syncd.mapping.transform import render_fields  # noqa: E402
from tests.conftest import qualified  # noqa: E402


def naive_sync(stack, loaded) -> int:
    """One call per record where a batch exists. Returns the number of records written."""
    hubspot = HubSpot(access_token=stack.hubspot_token, host=stack.hubspot_server.url,
                      ssl_ca_cert=str(stack.tls.ca_path))
    salesforce_connector = app.salesforce_connector(loaded.settings)
    token = salesforce_connector.auth.fetch_token()
    sf = Salesforce(instance_url=token.instance_url, session_id=token.access_token,
                    version=loaded.settings.salesforce.api_version, session=salesforce_connector.session)
    mapping = loaded.mapping
    properties = mapping.properties_to_read()
    written, after = 0, None
    while True:
        page = hubspot.crm.contacts.search_api.do_search(public_object_search_request={
            "filterGroups": [{"filters": [{"propertyName": "lifecyclestage", "operator": "IN",
                                           "values": ["marketingqualifiedlead", "salesqualifiedlead"]}]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["hs_object_id"], "limit": 100, **({"after": after} if after else {})})
        for hit in page.results:
            contact = hubspot.crm.contacts.basic_api.get_by_id(hit.id, properties=properties,
                                                               properties_with_history=mapping.history_properties())
            record = Contact(str(contact.id), dict(contact.properties),
                             {k: tuple(HistoryEntry(e.value, e.timestamp.isoformat()) for e in v)
                              for k, v in (contact.properties_with_history or {}).items()})
            fields = render_fields(record, mapping)
            sf.query(format_soql("SELECT Id FROM Lead WHERE Email = {}", record.email or ""))
            external = fields.pop(mapping.salesforce.external_id_field)
            sf.Lead.upsert(format_external_id(mapping.salesforce.external_id_field, external), fields)
            written += 1
        if not page.paging or not page.paging.next:
            return written
        after = page.paging.next.after


def measure(label: str, stack, fn) -> dict:
    stack.hubspot.requests.clear()
    stack.salesforce.requests.clear()
    started = time.perf_counter()
    written = fn()
    seconds = time.perf_counter() - started
    hs, sf = len(stack.hubspot.requests.entries()), len(stack.salesforce.requests.entries())
    return {"label": label, "written": written, "hubspot": hs, "salesforce": sf, "calls": hs + sf, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1000)
    args = parser.parse_args()
    configure_logging("json", "error", [])
    rows = []
    for label in ("baseline: one call per record", "syncd run --once"):
        directory = Path(tempfile.mkdtemp(prefix="syncd-bench-"))
        stack = start_stack(directory, hubspot=HubSpotEmulator(access_tokens=(), rate_limits=False),
                            salesforce=SalesforceEmulator())
        try:
            stack.hubspot.create_contacts(qualified(args.contacts))
            loaded = app.load(stack.config_path, env={})
            if label.startswith("baseline"):
                rows.append(measure(label, stack, lambda: naive_sync(stack, loaded)))
            else:
                store = app.open_store(loaded.settings)
                rows.append(measure(label, stack, lambda: app.forward_sync(loaded, store).run().counts["created"]))
                store.close()
        finally:
            stack.stop()
    print(f"{args.contacts} new qualified contacts, HubSpot and Salesforce emulators on loopback\n")
    print(f"{'':34} {'written':>8} {'HubSpot':>8} {'Salesforce':>10} {'calls':>7} {'seconds':>8}")
    for row in rows:
        print(f"{row['label']:34} {row['written']:>8} {row['hubspot']:>8} {row['salesforce']:>10} "
              f"{row['calls']:>7} {row['seconds']:>8.1f}")
    base, ours = rows
    print(f"\nsyncd makes {base['calls'] / ours['calls']:.0f}x fewer API calls and runs "
          f"{base['seconds'] / ours['seconds']:.1f}x faster here. At 200 ms per call against the real "
          f"APIs: baseline ≈ {base['calls'] * 0.2 / 60:.0f} min, syncd ≈ {ours['calls'] * 0.2:.0f} s "
          f"of round trips.")


if __name__ == "__main__":
    main()
