"""The forward leg records, per lead handed over, which parts of the lead definition it met."""

from __future__ import annotations

from sqlmodel import select

from state.models import LinkRow
from tests.conftest import qualified

AGREEMENT = """\
version: 1
target: {sqls_per_month: 10}
definition:
  persona: {property: jobtitle, in: [CFO, CEO]}
  need: {property: pain_points, exists: true}
  size:
    - {property: numemployees, exists: true}
    - {property: numemployees, in: [100-500, 500-1000, 1000+]}
first_contact: {within_hours: 8}
attempts: {minimum: 2}
"""


def test_a_run_records_the_parts_each_new_lead_met_once(syncd):
    path = syncd.tmp / "agreement.yaml"
    path.write_text(AGREEMENT)
    syncd.write_config(extra=f"agreement: {path}\n")
    cfo, intern = qualified(2)
    ids = syncd.hubspot.create_contacts([{**cfo, "jobtitle": "CFO", "numemployees": "100-500"},
                                         {**intern, "jobtitle": "Intern", "pain_points": ""}])
    assert syncd.run().counts["created"] == 2
    syncd.hubspot.update_contact(ids[0], {"jobtitle": "Intern"})      # after the hand-over: not re-judged
    syncd.run()
    store = syncd.store()
    try:
        with store.session() as session:
            parts = {row.hubspot_id: row.agreement_parts for row in session.exec(select(LinkRow))}
    finally:
        store.close()
    assert parts == {ids[0]: {"persona": True, "need": True, "size": True},
                     ids[1]: {"persona": False, "need": False, "size": False}}
