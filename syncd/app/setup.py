"""`syncd setup hubspot`, composed: compare the feedback mapping with the portal's properties
(``syncd.plan.hubspot_properties``), then create what is missing. Idempotent."""

from __future__ import annotations

from connectors.hubspot import ContactProperties
from syncd.app import Loaded
from syncd.app.connectors import hubspot_client
from syncd.core.errors import ConfigError, Problem
from syncd.plan.hubspot_properties import GROUP_LABEL, SetupPlan, plan_setup


def apply_setup(loaded: Loaded, *, dry_run: bool = False) -> SetupPlan:
    """Create the group, the missing properties and the missing options the feedback mapping
    needs; return the plan (what was, or with ``dry_run`` would be, done)."""
    feedback = loaded.mapping.feedback
    if feedback is None:
        raise ConfigError(Problem(loaded.mapping.source, "feedback", "no `feedback` section, so syncd writes "
                                  "no HubSpot properties; nothing to set up"))
    if loaded.settings.hubspot.access_token is None:
        raise ConfigError(Problem("environment", "hubspot.access_token", (
            "no HubSpot access token: set SYNCD_HUBSPOT__ACCESS_TOKEN (or SYNCD_HUBSPOT__ACCESS_TOKEN_FILE), "
            "or hubspot.access_token_file in the config file")))
    api = ContactProperties(hubspot_client(loaded.settings))
    plan = plan_setup(feedback, api.properties(), api.groups())
    if not dry_run:
        if plan.create_group:
            api.create_group(feedback.group, GROUP_LABEL)
        for definition in plan.create:
            api.create_property(definition)
        for name, options in plan.add_options.items():
            api.set_options(name, options)
    return plan
