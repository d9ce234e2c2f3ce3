"""The HubSpot CRM v3 emulator (contacts and contact properties); see ``emulators.hubspot.app``.

Module map: ``app`` (composition root, routing, Python control API), ``portal`` (what the
REST handlers share: registry, store, clock), ``store`` (contacts and their indexes),
``search`` / ``search_request`` / ``search_filters`` (CRM search), ``batch_api`` and
``contacts_api`` (contact endpoints), ``properties_api`` with ``properties`` (validation) and
``property_definitions`` (data), ``rate_limits``, ``control`` (the HTTP control API),
``seeding`` (synthetic contacts for volume runs), ``errors``, ``wire`` and ``timefmt`` (small
shared helpers).
"""

from emulators.hubspot.app import HubSpotEmulator

__all__ = ["HubSpotEmulator"]
