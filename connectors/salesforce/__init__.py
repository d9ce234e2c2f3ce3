"""Salesforce: the sales CRM (lead sink, outcome source)."""

from connectors.salesforce.auth import SalesforceAuth, Token
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.leads import SalesforceLeads
from connectors.salesforce.outcomes import SalesforceOutcomes

__all__ = ["SalesforceAuth", "SalesforceClient", "SalesforceLeads", "SalesforceOutcomes", "Token"]
