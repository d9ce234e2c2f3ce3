"""What the service writes when something goes wrong is still safe to ship to a log store."""

from __future__ import annotations

import json

import structlog

from syncd.app.logs import configure_logging

SECRET = "-----BEGIN PRIVATE KEY-----" + "k" * 200 + "-----END PRIVATE KEY-----"


def test_a_crash_traceback_in_json_logs_has_frames_but_no_local_variables(capsys):
    configure_logging("json", "info", [SECRET])
    log = structlog.get_logger("syncd.service")

    def cycle() -> None:
        contact = {"email": "mai.nguyen@example.com", "firstname": "Mai"}   # personal data
        private_key = SECRET                                                  # longer than a repr keeps
        raise RuntimeError(f"boom with {len(contact)} fields and a {len(private_key)}-byte key")

    try:
        cycle()
    except RuntimeError:
        log.exception("service.cycle_crashed", error_type="RuntimeError")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["event"] == "service.cycle_crashed"
    frames = entry["exception"][0]["frames"]
    assert frames[-1]["name"] == "cycle" and all("locals" not in frame for frame in frames)
    assert "mai.nguyen@example.com" not in line and "kkkkkkkk" not in line and "BEGIN PRIVATE KEY" not in line
