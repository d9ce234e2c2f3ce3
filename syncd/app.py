"""Build syncd's parts from validated settings: one place that knows how they fit together."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from connectors.http import SyncdSession
from connectors.trust import trust_bundle
from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector
from connectors.salesforce_auth import SalesforceAuth
from state.store import StateStore
from syncd.config import Settings, find_config, load_settings
from syncd.core.errors import ConfigError, Problem
from syncd.mapping import Mapping, load_mapping
from syncd.runner import ForwardSync, Progress


@dataclass
class Loaded:
    settings: Settings
    mapping: Mapping


def load(config: Path | None, *, require_credentials: bool = True, env: dict[str, str] | None = None) -> Loaded:
    """Settings and mapping, fully validated before anything touches the network."""
    import os

    environ = dict(os.environ if env is None else env)
    settings = load_settings(find_config(config, environ), environ, require_credentials=require_credentials)
    return Loaded(settings, load_mapping(settings.mapping))


def _secret(value) -> str | None:  # noqa: ANN001 - pydantic SecretStr or None
    return value.get_secret_value() if value is not None else None


def open_store(settings: Settings) -> StateStore:
    store = StateStore(settings.state.database_url.get_secret_value())
    store.migrate()
    return store


def _ca_bundle(settings: Settings) -> str | None:
    return trust_bundle(settings.tls.ca_bundle, Path(settings.state.directory))


def hubspot_connector(settings: Settings) -> HubSpotConnector:
    hs = settings.hubspot
    return HubSpotConnector(
        access_token=_secret(hs.access_token) or "",
        base_url=str(hs.base_url),
        ca_bundle=_ca_bundle(settings),
        timeout=hs.timeout_seconds, max_retries=hs.max_retries,
        search_requests_per_second=hs.search_requests_per_second,
    )


def salesforce_connector(settings: Settings) -> SalesforceConnector:
    sf = settings.salesforce
    session = SyncdSession(ca_bundle=_ca_bundle(settings),
                           timeout=sf.timeout_seconds, max_retries=sf.max_retries)
    private_key = _secret(sf.auth.private_key)
    if private_key is None and sf.auth.private_key_file is not None:
        try:
            private_key = Path(sf.auth.private_key_file).read_text()
        except OSError as exc:
            raise ConfigError(Problem("environment", "salesforce.auth.private_key_file",
                                      f"cannot read {sf.auth.private_key_file}: {exc.strerror}")) from None
    auth = SalesforceAuth(login_url=str(sf.login_url), flow=sf.auth.flow, client_id=sf.auth.client_id or "",
                          session=session, client_secret=_secret(sf.auth.client_secret),
                          username=sf.auth.username, private_key=private_key)
    return SalesforceConnector(auth, api_version=sf.api_version, session=session)


def forward_sync(loaded: Loaded, store: StateStore, *, progress: Progress | None = None,
                 hubspot: HubSpotConnector | None = None,
                 salesforce: SalesforceConnector | None = None) -> ForwardSync:
    settings = loaded.settings
    return ForwardSync(
        mapping=loaded.mapping, store=store,
        hubspot=hubspot or hubspot_connector(settings),
        salesforce=salesforce or salesforce_connector(settings),
        pipeline=settings.sync.pipeline,
        lookback=dt.timedelta(minutes=settings.sync.lookback_minutes),
        progress=progress,
    )
