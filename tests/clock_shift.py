"""Run the tests with the clock moved: ``TEST_CLOCK_SHIFT_DAYS=365 pytest ...``.

Nothing in syncd may depend on today's date, and a test that passes today must pass next year. To
check, every test runs inside ``shifted()`` (an autouse fixture in ``tests/conftest.py``), and the
syncd processes tests start with ``tests.daemon.syncd_command`` run through this file, which moves
the clock the same way before calling ``syncd.cli.main``. Both travel with ``tick=True`` from the
real time plus the shift, so the test, the emulators in it and the daemon it started agree on
"now" (to within the microseconds it takes to start travelling).

The variable is not called ``SYNCD_...``: syncd refuses unknown ``SYNCD_*`` variables (a typo in a
setting must not pass silently), and the tests run syncd with this process's environment.

Unset, empty or 0: no travel at all, and the wrapper only calls ``syncd.cli.main``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

VARIABLE = "TEST_CLOCK_SHIFT_DAYS"


def shift_days(env: Mapping[str, str] = os.environ) -> float:
    value = env.get(VARIABLE, "").strip()
    try:
        return float(value) if value else 0.0
    except ValueError:
        raise SystemExit(f"{VARIABLE} must be a number of days, got {value!r}") from None


@contextmanager
def shifted(days: float) -> Iterator[None]:
    """The clock moved by ``days`` (and ticking) inside the block; no-op for 0."""
    if not days:
        yield
        return
    import time_machine

    # A timestamp, not a datetime: exact, and free of time zones.
    with time_machine.travel(time.time() + days * 86400, tick=True):
        yield


if __name__ == "__main__":       # python tests/clock_shift.py <syncd arguments>
    with shifted(shift_days()):
        from syncd.cli import main

        code = main(sys.argv[1:])
    sys.exit(code)
