"""The planners: pure functions that decide what to write, one module per leg.

``forward``: HubSpot contacts -> Salesforce writes. ``feedback``: Salesforce outcomes -> HubSpot
updates, with the outcome rules in ``outcome_rules`` and the value formatting in
``feedback_values``. ``hubspot_properties``: what the feedback mapping needs to exist in HubSpot.
No clients, no clock, no database: everything they need is passed in.
"""
