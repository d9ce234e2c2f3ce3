"""One module per external system. Connectors do I/O only: they turn remote payloads into
``syncd.records`` and remote errors into ``syncd.errors``; every decision lives in the engine."""
