"""The mapping's `feedback` section: each field has one direction, problems name file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.core.errors import ConfigError
from syncd.mapping import bundled_mapping_path, load_mapping

BUNDLED = bundled_mapping_path().read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list:
    with pytest.raises(ConfigError) as caught:
        load_mapping(write(tmp_path, text))
    return caught.value.problems


def line_of(text: str, needle: str, after: str = "feedback:") -> int:
    offset = text.index(after)
    return text[:text.index(needle, offset)].count("\n") + 1


def test_the_bundled_mapping_carries_the_loop_back():
    feedback = load_mapping().feedback
    assert feedback is not None
    assert feedback.properties["syncd_outcome"].from_ == "outcome"
    assert feedback.lifecycle is not None and feedback.lifecycle.moves == {"opportunity": "opportunity",
                                                                           "won": "customer"}
    assert feedback.lead_fields() == ["Id", "Status", "Unqualified_Reason__c"]
    assert "Loss_Reason__c" in feedback.opportunity_fields()


def test_a_hubspot_property_written_from_salesforce_and_read_as_context_is_rejected_with_its_line(tmp_path):
    # pain_points feeds Pain_Points__c and the brief; writing it from Salesforce would loop.
    text = BUNDLED.replace("    syncd_lead_status:\n", "    pain_points:\n")
    (problem,) = problems(tmp_path, text)
    assert problem.field == "feedback.properties.pain_points"
    assert problem.line == line_of(text, "label: Salesforce lead status")     # its first line
    assert "also read by the forward leg" in problem.message and "forward_may_read" in problem.message


def test_forward_may_read_is_the_rule_that_allows_it(tmp_path):
    text = BUNDLED.replace("    syncd_lead_status:\n      label: Salesforce lead status\n",
                           "    pain_points:\n      forward_may_read: true\n")
    assert "pain_points" in load_mapping(write(tmp_path, text)).feedback.properties


def test_a_salesforce_outcome_field_the_forward_leg_writes_is_rejected_whatever_the_rules(tmp_path):
    text = BUNDLED.replace("  Country:\n    from: country\n", "  Country:\n    from: country\n"
                                                                 "  Status:\n    value: Open - Not Contacted\n")
    (problem,) = problems(tmp_path, text)
    assert problem.field == "feedback.properties.syncd_lead_status.from"
    assert "HubSpot never writes outcome fields" in problem.message
    assert problem.line == line_of(text, "from: Lead.Status")


def test_the_disqualification_reason_field_cannot_be_written_by_the_forward_leg(tmp_path):
    text = BUNDLED.replace("  Country:\n    from: country\n", "  Country:\n    from: country\n"
                                                                 "  Unqualified_Reason__c:\n    from: jobtitle\n")
    (problem,) = problems(tmp_path, text)
    assert problem.field == "feedback.lead.reason_field"


@pytest.mark.parametrize("old,new,field,words", [
    ("      unmapped: other                  # a picklist", "      # a picklist",
     "feedback.properties.syncd_outcome_reason", "needs `unmapped`"),
    ("      opportunity: opportunity\n      won: customer", "      won: champion",
     "feedback.lifecycle.moves.won", "not in `order`"),
    ("    syncd_lead_status:\n      label: Salesforce lead status\n      from: Lead.Status",
     "    syncd_lead_status:\n      from: Lead.Status\n      type: number\n      values: {A: b}",
     "feedback.properties.syncd_lead_status", "do not apply to type number"),
    ("      from: Lead.Status", "      from: Account.Name", "feedback.properties.syncd_lead_status.from",
     "match the pattern"),
    ("    syncd_lead_status:\n", "    email:\n", "feedback.properties.email", "never writes it"),
    ("    syncd_lead_status:\n", "    lifecyclestage:\n", "feedback.properties.lifecyclestage",
     "moved by `feedback.lifecycle`"),
], ids=["enumeration-without-unmapped", "stage-not-in-order", "values-on-a-number", "unknown-object",
        "reserved-property", "lifecycle-twice"])
def test_feedback_problems_name_the_field(tmp_path, old, new, field, words):
    assert old in BUNDLED
    found = problems(tmp_path, BUNDLED.replace(old, new))
    assert any(p.field == field and words in p.message for p in found), [str(p) for p in found]
