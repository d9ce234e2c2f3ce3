"""`syncd doctor`: config, credentials, reachability, scopes and permissions on both systems, the
state database and the live mapping check, one line each, with the fix for what fails."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from syncd.app.doctor import diagnose
from syncd.app.doctor_result import FAIL, OK, WARN, Line, exit_code
from syncd.app.logs import SCRUBBER
from syncd.cli.common import Exit, config_option, emit_text, format_option, output_format, output_option, stdout

_COLOUR = {OK: "green", WARN: "yellow", FAIL: "red"}


def _clean(line: Line) -> dict[str, str]:
    """Every field scrubbed: a remote message could echo a secret back."""
    return {key: SCRUBBER.scrub(value) for key, value in line.as_dict().items()}


def _text(lines: list[dict[str, str]], colour: bool) -> str:
    width = max(len(line["check"]) for line in lines)
    out = []
    for line in lines:
        status = f"{line['status']:<7}"
        if colour and line["status"] in _COLOUR:
            status = f"[{_COLOUR[line['status']]}]{status}[/{_COLOUR[line['status']]}]"
        fix = f" (fix: {line['fix']})" if line["fix"] else ""
        out.append(f"{status} {line['check']:<{width}}  {line['detail']}{fix}")
    return "\n".join(out) + "\n"


@click.command()
@config_option
@format_option("one line per check on a terminal, JSON otherwise")
@output_option
def doctor(config_path: Path | None, fmt: str | None, output: Path | None) -> None:
    """Check everything a run needs, one line per check, before you enable the service.

    \b
    Example:
      syncd doctor --config /etc/syncd/syncd.yaml
    Checks the config, the mapping, the state database, HubSpot (reachable, token, scopes),
    Salesforce (reachable, login, API version, object and field permissions, the External ID
    field) and the mapping against both (`syncd mapping check` lists its findings). Each line is
    ok, warn, FAIL (with the fix) or skipped (needing a check that failed). Writes nothing. Exit 0
    when nothing failed (warnings too); else the most serious failure's code: 7 state store,
    5 a system unreachable, a credential refused or a scope or permission missing, 4 config or mapping.
    """
    fmt = output_format(fmt, output)
    lines = diagnose(config_path)
    rows = [_clean(line) for line in lines]
    if fmt == "json":
        emit_text(json.dumps(rows, indent=2) + "\n", output)
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["check", "status", "detail", "fix"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        emit_text(buffer.getvalue(), output)
    elif output is not None:
        output.write_text(_text(rows, colour=False))
    else:
        stdout.print(_text(rows, colour=stdout.is_terminal), end="", highlight=False, soft_wrap=True,
                     markup=stdout.is_terminal)
    code = exit_code(lines)
    if code:
        raise Exit(code)
