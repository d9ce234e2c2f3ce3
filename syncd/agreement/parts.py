"""Which parts of the lead definition a contact meets: the mapping's own conditions, evaluated as
the forward leg qualifies a contact read by id (``mapping.transform.qualifies``)."""

from __future__ import annotations

from syncd.agreement.model import Agreement
from syncd.core.records import Contact
from syncd.mapping.transform import qualifies


def parts_met(contact: Contact, agreement: Agreement) -> dict[str, bool]:
    """{part: met} for every part of the definition; a part met when all its conditions hold."""
    return {name: qualifies(contact, [condition.as_filter() for condition in conditions])
            for name, conditions in agreement.definition.items()}
