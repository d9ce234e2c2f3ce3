"""The agreement file: the bundled example loads; a malformed one fails with file, line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syncd.agreement import load_agreement
from syncd.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
GOOD = """\
version: 1
time_zone: Europe/Berlin
target: {sqls_per_month: 10}
definition:
  persona: {property: hs_role, in: [sales]}
first_contact: {within_hours: 8}
attempts: {minimum: 3}
"""


def test_the_bundled_example_is_valid_and_reads_its_properties():
    agreement = load_agreement(ROOT / "mappings" / "agreement.yaml")
    assert agreement.time_zone == "Europe/Berlin" and agreement.target.sqls_per_month == 120
    assert set(agreement.definition) == {"persona", "need", "budget"}
    assert len(agreement.definition["budget"]) == 2          # a list of conditions: all must hold
    assert agreement.properties() == ["budget_amount", "hs_role", "pain_points"]
    query = agreement.activity_query()
    assert query.task_subtypes == ("Call", "Email") and query.working_statuses == ("Working - Contacted",)
    assert agreement.first_contact.business_hours.weekdays == frozenset(range(5))


@pytest.mark.parametrize("old,new,where", [
    ("time_zone: Europe/Berlin", "time_zone: Mars/Olympus", r":2:\d+: time_zone: .*IANA"),
    ("in: [sales]", "within: [sales]", r":5:\d+: definition\.persona.*unknown key 'within'"),
    ("{within_hours: 8}", "{within_hours: 8, due_soon_hours: 9}", r":6:\d+: first_contact: .*due_soon_hours"),
    ("{minimum: 3}", "{minimum: 0}", r":7:\d+: attempts\.minimum: "),
    ("{sqls_per_month: 10}", "{sqls_per_month: lots}", r":3:\d+: target\.sqls_per_month: "),
    ("{within_hours: 8}", "{within_hours: 8, holidays: [2026-12-25]}", r":6:\d+: first_contact: .*holidays need"),
    ("{within_hours: 8}", "{within_hours: 8, business_hours: {start: '18:00', end: '09:00'}}",
     r":6:\d+: first_contact\.business_hours: .*start must be before end"),
    ("attempts: {minimum: 3}", "attempts: {minimum: 3}\nalerts: {salesforce_task: on}",
     r":8:\d+: alerts\.salesforce_task: "),
    ("version: 1", "version: 2", r":1:\d+: version: .*agreement version 1"),
    ("target: {sqls_per_month: 10}", "target: {sqls_per_month: 10", r":\d+:\d+: YAML syntax error"),
], ids=["zone", "operator", "due-soon", "attempts", "target", "holidays-alone", "hours", "task-switch",
        "version", "syntax"])
def test_a_malformed_agreement_names_file_line_and_field(tmp_path, old, new, where):
    path = tmp_path / "agreement.yaml"
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        load_agreement(path)
    assert re.search(re.escape(str(path)) + where, str(caught.value)), str(caught.value)


def test_a_part_may_be_one_condition_or_a_list(tmp_path):
    path = tmp_path / "agreement.yaml"
    path.write_text(GOOD.replace("first_contact:", "  budget:\n    - {property: budget_amount, exists: true}\n"
                                 "    - {property: budget_amount, gte: 10000}\nfirst_contact:"))
    agreement = load_agreement(path)
    assert [len(c) for c in agreement.definition.values()] == [1, 2]
