"""The composition root: reads the configuration, builds the connectors and the state store, and
hands them to the leg runner as ports (the runner never imports a concrete connector).

- ``load``: settings, mapping and agreement, fully validated before anything touches the network;
- ``open_store``: the state database, migrated (``open_store_for_reading``: read-only if need be);
- ``syncd.app.connectors``: both systems' clients, their limiters and retry policy;
- ``syncd.app.cycle``: one sync cycle (forward, then back), as `run --once`, the service and the
  demo all run it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from state.store import StateStore
from syncd.agreement import Agreement, load_agreement
from syncd.config import Settings, load_settings, require_config
from syncd.core.errors import StateUnavailable
from syncd.mapping import Mapping, load_mapping


@dataclass
class Loaded:
    settings: Settings
    mapping: Mapping
    agreement: Agreement | None = None    # the Sales–Marketing agreement, when configured


def load(config: Path | None, *, require_credentials: bool = True, env: dict[str, str] | None = None) -> Loaded:
    """Settings, mapping and agreement (when configured), fully validated before anything touches the network."""
    environ = dict(os.environ if env is None else env)
    settings = load_settings(require_config(config, environ), environ, require_credentials=require_credentials)
    agreement = load_agreement(settings.agreement) if settings.agreement is not None else None
    return Loaded(settings, load_mapping(settings.mapping), agreement)


def load_settings_only(config: Path | None, *, env: dict[str, str] | None = None) -> Settings:
    """The settings with credentials, without loading the mapping (`mapping check` reports the
    mapping's problems itself, beside what the live orgs say)."""
    environ = dict(os.environ if env is None else env)
    return load_settings(require_config(config, environ), environ, require_credentials=True)


def open_store(settings: Settings) -> StateStore:
    store = StateStore(settings.state.database_url.get_secret_value())
    store.migrate()
    return store


def open_store_for_reading(settings: Settings) -> StateStore:
    """The state store for commands that only read it (status, report): migrated when it can be
    written, else opened read-only, so an operator without write access can still look."""
    try:
        return open_store(settings)
    except StateUnavailable as exc:
        if exc.kind != "read_only":
            raise
    return StateStore(settings.state.database_url.get_secret_value(), read_only=True)
