"""One module per external system. Connectors do I/O only: they turn remote payloads into
``syncd.core.records`` and remote errors into ``syncd.core.errors``; every decision lives in the engine."""
