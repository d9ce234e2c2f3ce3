"""Local emulators of the HubSpot CRM v3 and Salesforce REST endpoints syncd uses.

They are real HTTP servers on 127.0.0.1 (Salesforce over TLS, because simple-salesforce
insists on https; HubSpot too, so the CA-bundle option is exercised for both systems).
The demo and the tests drive the real SDKs against them.
"""
