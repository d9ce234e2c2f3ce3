"""python -m emulators [DIR]: run both emulators until Ctrl-C, with a config syncd can use."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from emulators.stack import start_stack


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="syncd-emulators-"))
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


if __name__ == "__main__":
    main()
