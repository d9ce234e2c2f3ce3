"""syncd: hand qualified HubSpot leads to Salesforce with their context, and bring outcomes back."""

from syncd.core import __version__

__all__ = ["__version__"]
