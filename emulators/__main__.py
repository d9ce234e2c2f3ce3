"""Run both emulators until stopped, with a syncd config that points at them.

    python -m emulators [DIR]
        for people: prints the URLs and the config path, serves until Ctrl-C.

    python -m emulators serve --dir DIR [--latency-ms 20] [--hubspot-limits real|off]
                              [--seed-contacts N] [--seed-age-hours 2] [--mapping PATH]
        for programs (the benchmark): seeds N qualified contacts with form history, last modified
        ``--seed-age-hours`` ago, prints ONE JSON line when ready
        (``{"hubspot_url", "salesforce_url", "config", "ca_bundle", "contacts", "seed_seconds", "pid"}``)
        and serves until SIGTERM or SIGINT. ``--hubspot-limits real`` is a Professional private
        app: 190 requests per rolling 10 s, search 5 per second and counted in the 10 s window too
        (conservative: whether it is, is not documented); ``off`` disables rate limiting.
        Drive it through the control API (``/__emulator/...``, see ``emulators.hubspot.control``
        and ``emulators.salesforce.control``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.stack import start_stack


def _interactive(directory: Path) -> None:
    stack = start_stack(directory)
    print(f"HubSpot emulator:    {stack.hubspot_server.url}")
    print(f"Salesforce emulator: {stack.salesforce_server.url}")
    print(f"CA bundle:           {stack.tls.ca_path}")
    print(f"syncd config:        {stack.config_path}")
    print(f"try:                 syncd run --once --config {stack.config_path}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stack.stop()


def serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators serve", description=__doc__.split("\n\n")[2])
    parser.add_argument("--dir", type=Path, required=True, help="where the TLS material, secrets, config and state go")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every API response (default 0)")
    parser.add_argument("--hubspot-limits", choices=("real", "off"), default="real")
    parser.add_argument("--seed-contacts", type=int, default=0, metavar="N")
    parser.add_argument("--seed-age-hours", type=float, default=2.0,
                        help="seeded contacts were last modified this long ago (default 2)")
    parser.add_argument("--mapping", type=Path, help="mapping YAML for the config (default: the bundled one)")
    args = parser.parse_args(argv)

    latency = args.latency_ms / 1000
    hubspot = HubSpotEmulator(access_tokens=(), rate_limits=args.hubspot_limits == "real", burst_limit=190,
                              burst_window_seconds=10.0, search_limit_per_second=5, search_in_burst=True,
                              latency_seconds=latency)
    stack = start_stack(args.dir, hubspot=hubspot, salesforce=SalesforceEmulator(latency_seconds=latency))
    if args.mapping:
        stack.write_config(mapping=args.mapping.resolve())
    started = time.perf_counter()
    if args.seed_contacts:
        hubspot.seed_contacts(args.seed_contacts, at=dt.datetime.now(dt.timezone.utc)
                              - dt.timedelta(hours=args.seed_age_hours))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(json.dumps({"hubspot_url": stack.hubspot_server.url, "salesforce_url": stack.salesforce_server.url,
                      "config": str(stack.config_path), "ca_bundle": str(stack.tls.ca_path),
                      "contacts": args.seed_contacts, "seed_seconds": round(time.perf_counter() - started, 2),
                      "pid": os.getpid()}), flush=True)
    stop.wait()
    stack.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
        return
    _interactive(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="syncd-emulators-")))


if __name__ == "__main__":
    main()
