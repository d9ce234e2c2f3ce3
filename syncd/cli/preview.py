"""`syncd preview`: one contact (or a few) as the next run would treat it; reads only."""

from __future__ import annotations

from pathlib import Path

import click

from syncd import app
from syncd.app.logs import configure_logging
from syncd.app.preview import preview_contacts
from syncd.cli.common import Exit, config_option, fail, format_option, output_format, output_option, stderr
from syncd.cli.run import Shape, show_decisions
from syncd.core.errors import ExitCode, SyncdError


@click.command()
@config_option
@click.argument("keys", nargs=-1, required=True, metavar="CONTACT_ID|EMAIL...")
@format_option("a table on a terminal, JSON otherwise; csv: one row per field that changes")
@output_option
@click.option("--unchanged", "show_unchanged", is_flag=True, help="List the fields that keep their value too.")
def preview(config_path: Path | None, keys: tuple[str, ...], fmt: str | None, output: Path | None,
            show_unchanged: bool) -> None:
    """Show what the next run would write for a contact, against what Salesforce holds now.

    Whether it qualifies (and which condition fails), the Salesforce record it would write to
    (linked, by external id, matched by email, or the converted Lead's Contact), and each field
    that changes, old → new. Reads only: nothing is written anywhere.

    \b
    Example:
      syncd preview 101
      syncd preview ada@example.com --unchanged
      syncd preview 101 --format json | jq .records
      syncd preview 101 102 -o diff.csv
    """
    fmt = output_format(fmt, output)          # a file name that names no format: exit 2 before any work
    try:
        loaded = app.load(config_path)
        settings = loaded.settings
        configure_logging(settings.logging.format, settings.logging.level, settings.secret_values())
        store = app.open_store(settings)
    except SyncdError as exc:
        raise fail(exc) from None
    try:
        decisions, missing = preview_contacts(loaded, store, keys)
    except SyncdError as exc:
        raise fail(exc) from None
    finally:
        store.close()
    show_decisions(decisions, Shape(fmt, output), show_unchanged=show_unchanged, title="Preview (old → new)",
                   data={"not_found": missing})
    for key in missing:
        stderr.print(f"[red]error:[/red] HubSpot has no contact {key!r}", highlight=False)
    if missing:
        raise Exit(int(ExitCode.USAGE))
    raise Exit(int(ExitCode.RECORDS_REJECTED if any(d.action == "reject" for d in decisions) else ExitCode.OK))
