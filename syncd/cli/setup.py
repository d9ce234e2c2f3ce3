"""`syncd setup hubspot`: create the contact properties the mapping's `feedback` section writes.

Idempotent: it reads the portal's property groups and contact properties (two GETs), creates the
`syncd` group and whatever property is missing, adds missing options to enumerations syncd
owns, and leaves everything else alone. It says what it created and what already existed, and
what it cannot fix by itself (a property of another type, a read-only one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from syncd import app
from syncd.app.setup import apply_setup
from syncd.cli.common import Exit, config_option, fail, stdout
from syncd.core.errors import ExitCode, SyncdError


@click.group()
def setup() -> None:
    """Prepare a connected system for syncd (one-off, safe to repeat)."""


@setup.command("hubspot")
@config_option
@click.option("--dry-run", is_flag=True, help="Show what is missing; create nothing.")
def setup_hubspot(config_path: Path | None, dry_run: bool) -> None:
    """Create the HubSpot contact properties the feedback mapping writes, in a `syncd` group.

    \b
    Example:
      syncd setup hubspot              # create what is missing, say what already existed
      syncd setup hubspot --dry-run    # only show what is missing
    Safe to run twice: existing properties are left as they are. Needs a private app token with
    the crm.schemas.contacts.write scope.
    """
    try:
        loaded = app.load(config_path, require_credentials=False)
        plan = apply_setup(loaded, dry_run=dry_run)
    except SyncdError as exc:
        raise fail(exc) from None
    feedback = loaded.mapping.feedback
    assert feedback is not None
    verb = "would create" if dry_run else "created"
    report = {
        "event": "setup.hubspot", "dry_run": dry_run, "group": feedback.group,
        "group_created": plan.create_group and not dry_run,
        "created": [d["name"] for d in plan.create],
        "options_added": plan.options_added,
        "existing": plan.existing, "problems": plan.problems,
    }
    if not stdout.is_terminal:
        print(json.dumps(report))
    else:
        if plan.create_group:
            stdout.print(f"{verb} property group [bold]{feedback.group}[/bold]", highlight=False)
        for definition in plan.create:
            options = f" ({len(definition['options'])} options)" if definition["options"] else ""
            stdout.print(f"{verb} [green]{definition['name']}[/green] — {definition['label']}, "
                         f"{definition['type']}{options}", highlight=False)
        for name, added in plan.options_added.items():
            stdout.print(f"{'would add' if dry_run else 'added'} option{'s' if len(added) > 1 else ''} "
                         f"{', '.join(added)} to [green]{name}[/green]", highlight=False)
        if plan.existing:
            stdout.print(f"already there ({len(plan.existing)}): {', '.join(plan.existing)}", highlight=False,
                         soft_wrap=True)
        if not plan.changes:
            stdout.print("nothing to do: every property the feedback mapping writes exists", highlight=False)
    if plan.problems:
        for problem in plan.problems:
            print(f"error: {problem}", file=sys.stderr)
        raise Exit(int(ExitCode.CONFIG_ERROR))
