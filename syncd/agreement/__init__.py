"""The Sales–Marketing agreement file (issue #10) as typed objects: the lead definition, the
monthly target, the first-contact deadline and the minimum attempts (``model``, ``load``), and the
pure functions that apply it: which parts a contact meets (``parts``), the business-hours calendar
(``clock``)."""

from syncd.agreement.load import (
    AGREEMENT_VERSION,
    agreement_json_schema,
    load_agreement,
)
from syncd.agreement.model import Agreement

__all__ = ["AGREEMENT_VERSION", "Agreement", "agreement_json_schema", "load_agreement"]
