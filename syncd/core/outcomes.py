"""What Sales did with a lead, in the words both teams use (README "Closing the loop").

The outcome rules that derive one from the Salesforce records live in ``syncd.plan.outcome_rules``;
this is only the vocabulary, shared by the mapping, the planners, state and the report.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    CONTACTED = "contacted"          # Sales worked the Lead (moved it out of the open statuses)
    DISQUALIFIED = "disqualified"    # the Lead's status is a disqualified status
    OPPORTUNITY = "opportunity"      # converted into an Opportunity that is still open
    WON = "won"                      # ... closed and won
    LOST = "lost"                    # ... closed and not won
