"""The Salesforce REST API emulator; see ``emulators.salesforce.app``.

Module map: ``app`` (composition root, routing, Python control API), ``store`` (records,
indexes, writes, users) with ``validation`` and ``coercion``, ``schema`` / ``demo_org`` / ``ids``
(what an org's objects look like), ``oauth`` (connected apps, sessions, token endpoint),
``sobjects_api``, ``collections_api`` and ``query_api`` (REST resources), ``soql`` (the query
language), ``limits`` (daily API allocation), ``conversion`` (Lead conversion), ``control`` (the
HTTP control API), ``errors`` and ``wire`` (small shared helpers).
"""

from emulators.salesforce.app import SalesforceEmulator
from emulators.salesforce.errors import SalesforceEmulatorError
from emulators.salesforce.oauth import JWT_BEARER

__all__ = ["SalesforceEmulator", "SalesforceEmulatorError", "JWT_BEARER"]
