"""syncd: hand qualified HubSpot leads to Salesforce with their context, and bring outcomes back."""

__version__ = "0.1.0"
