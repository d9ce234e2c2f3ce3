"""HubSpot: the marketing platform (contact source, contact sink, property admin)."""

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.contacts import HubSpotContacts
from connectors.hubspot.properties import ContactProperties

__all__ = ["ContactProperties", "HubSpotClient", "HubSpotContacts"]
