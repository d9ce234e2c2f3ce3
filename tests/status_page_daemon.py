"""`syncd run` (the service) with a fixed agreement month, for the status page's browser test:
``python -P tests/status_page_daemon.py CONFIG MONTH_JSON``. The month is what the agreement's
provider (``syncd.service.serve(agreement=…)``) would compute from state; the rest of the page comes
from the running daemon's own state. The clock moves as in ``tests/clock_shift.py``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))     # -P: the project, not tests/
    from tests.clock_shift import shift_days, shifted

    with shifted(shift_days()):
        from syncd.core.agreement import AgreementMonth, ShareRow
        from syncd.service import serve

        data = json.loads(Path(sys.argv[2]).read_text())
        for key in ("by_source", "by_campaign", "by_owner"):
            data[key] = [ShareRow(**row) for row in data[key]]
        month = AgreementMonth(**data)
        code = serve(Path(sys.argv[1]), agreement=lambda: month)
    sys.exit(code)
