"""Salesforce: the sales CRM (lead sink, outcome source, activity source)."""

from connectors.salesforce.activities import SalesforceActivities
from connectors.salesforce.auth import SalesforceAuth, Token
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.leads import SalesforceLeads
from connectors.salesforce.outcomes import SalesforceOutcomes

__all__ = ["SalesforceActivities", "SalesforceAuth", "SalesforceClient", "SalesforceLeads", "SalesforceOutcomes", "Token"]
