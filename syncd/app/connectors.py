"""Both systems' clients, built from the settings, with one limiter set and one retry policy each.

One ``Connectors`` pair serves both legs of a cycle, and in the service every cycle until a
reload changes the settings: one Salesforce login, warm connection pools, and one rate limiter
per account shared by every thread that calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from connectors.hubspot import HubSpotClient, HubSpotContacts
from connectors.http import SyncdSession
from connectors.errors import HUBSPOT, SALESFORCE
from connectors.metadata import Metadata
from connectors.limits import hubspot_limits, salesforce_limits
from connectors.quota import QuotaReserve
from connectors.retry import RetryPolicy
from connectors.salesforce import (
    SalesforceActivities,
    SalesforceAuth,
    SalesforceClient,
    SalesforceLeads,
    SalesforceOutcomes,
)
from connectors.salesforce.tasks import SalesforceTasks
from connectors.trust import trust_bundle
from syncd.config import Settings
from syncd.core.errors import ConfigError, Problem


def _secret(value) -> str | None:  # noqa: ANN001 - pydantic SecretStr or None
    return value.get_secret_value() if value is not None else None


def _ca_bundle(settings: Settings) -> str | None:
    return trust_bundle(settings.tls.ca_bundle, Path(settings.state.directory))


def hubspot_client(settings: Settings) -> HubSpotClient:
    hs = settings.hubspot
    ordinary, search = hubspot_limits(burst=hs.requests_per_ten_seconds, search_per_second=hs.search_requests_per_second)
    return HubSpotClient(access_token=_secret(hs.access_token) or "", base_url=str(hs.base_url),
                         ca_bundle=_ca_bundle(settings), timeout=hs.timeout_seconds,
                         policy=RetryPolicy(attempts=hs.max_retries + 1), limits=ordinary, search_limits=search,
                         reserve=QuotaReserve(HUBSPOT, hs.quota_reserve_percent, "hubspot.quota_reserve_percent"))


def salesforce_client(settings: Settings) -> SalesforceClient:
    sf = settings.salesforce
    session = SyncdSession(ca_bundle=_ca_bundle(settings), timeout=sf.timeout_seconds)
    policy = RetryPolicy(attempts=sf.max_retries + 1)
    private_key = _secret(sf.auth.private_key)
    if private_key is None and sf.auth.private_key_file is not None:
        try:
            private_key = Path(sf.auth.private_key_file).read_text()
        except OSError as exc:
            raise ConfigError(Problem("environment", "salesforce.auth.private_key_file",
                                      f"cannot read {sf.auth.private_key_file}: {exc.strerror}")) from None
    auth = SalesforceAuth(login_url=str(sf.login_url), flow=sf.auth.flow, client_id=sf.auth.client_id or "",
                          session=session, client_secret=_secret(sf.auth.client_secret),
                          username=sf.auth.username, private_key=private_key, policy=policy)
    return SalesforceClient(auth, api_version=sf.api_version, session=session, policy=policy,
                            limits=salesforce_limits(),
                            reserve=QuotaReserve(SALESFORCE, sf.quota_reserve_percent,
                                                 "salesforce.quota_reserve_percent"))


@dataclass
class Connectors:
    """The ports of both legs, over one client per system."""

    hubspot: HubSpotClient
    salesforce: SalesforceClient
    contacts: HubSpotContacts = field(init=False)
    leads: SalesforceLeads = field(init=False)
    outcomes: SalesforceOutcomes = field(init=False)
    activities: SalesforceActivities = field(init=False)   # what Sales did (the agreement's tracking)
    metadata: Metadata = field(init=False)       # describe and properties, cached: the mapping check
    tasks: SalesforceTasks = field(init=False)      # the agreement's alert Tasks

    def __post_init__(self) -> None:
        self.contacts = HubSpotContacts(self.hubspot)
        self.leads = SalesforceLeads(self.salesforce)
        self.outcomes = SalesforceOutcomes(self.salesforce)
        self.activities = SalesforceActivities(self.salesforce)
        self.metadata = Metadata(self.salesforce, self.hubspot)
        self.tasks = SalesforceTasks(self.salesforce)

    @classmethod
    def build(cls, loaded) -> Connectors:  # noqa: ANN001 - syncd.app.Loaded
        return cls(hubspot_client(loaded.settings), salesforce_client(loaded.settings))

    def calls(self) -> dict[str, int]:
        return {"hubspot": self.hubspot.calls, "salesforce": self.salesforce.calls}

    def quota(self) -> dict[str, int | None]:
        return {"hubspot": self.hubspot.quota_remaining, "salesforce": self.salesforce.quota_remaining}

    def quota_left(self) -> dict[str, int | None]:
        """Calls each system's allocation still allows syncd before its reserve (None: not known yet)."""
        return {"hubspot": self.hubspot.reserve.left, "salesforce": self.salesforce.reserve.left}

    def close(self) -> None:
        self.contacts.close()
        self.salesforce.session.close()
