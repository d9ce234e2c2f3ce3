"""Run ``syncd ARGS`` (as ``tests/clock_shift.py`` does) with every SQLite database limited to
``TEST_STATE_MAX_PAGES`` pages: past that size each write fails with SQLITE_FULL, "database or disk
is full", the very error SQLite gives when the disk is full. (An RLIMIT_FSIZE limit gives EFBIG,
which SQLite reports as a generic I/O error instead.)

    TEST_STATE_MAX_PAGES=40 python -P tests/full_disk.py run --once --config syncd.yaml
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))   # clock_shift, beside this file

from sqlalchemy import event  # noqa: E402 - after the path is set
from sqlalchemy.engine import Engine  # noqa: E402

from clock_shift import shift_days, shifted  # noqa: E402

PAGES = int(os.environ["TEST_STATE_MAX_PAGES"])


@event.listens_for(Engine, "connect")
def _limit(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute(f"PRAGMA max_page_count = {PAGES}")


if __name__ == "__main__":
    sys.path.pop(0)               # tests/ must not shadow any package syncd imports
    with shifted(shift_days()):
        from syncd.cli import main

        code = main(sys.argv[1:])
    sys.exit(code)
