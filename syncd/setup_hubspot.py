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
from typing import TYPE_CHECKING

import click

from syncd.cli import Exit, _fail, config_option, stdout
from syncd.core.errors import ConfigError, ExitCode, Problem, SyncdError

if TYPE_CHECKING:
    from syncd.property_setup import SetupPlan


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
    from syncd import app

    try:
        loaded = app.load(config_path, require_credentials=False)
        plan = apply_setup(loaded, dry_run=dry_run)
    except SyncdError as exc:
        raise _fail(exc) from None
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


def apply_setup(loaded, *, dry_run: bool = False) -> "SetupPlan":  # noqa: ANN001 - app.Loaded
    """Create the group, the missing properties and the missing options the feedback mapping
    needs; return the plan (what was, or with ``dry_run`` would be, done)."""
    from connectors.hubspot_schema import ContactProperties
    from syncd import app
    from syncd.property_setup import GROUP_LABEL, plan_setup

    feedback = loaded.mapping.feedback
    if feedback is None:
        raise ConfigError(Problem(loaded.mapping.source, "feedback", "no `feedback` section, so syncd writes "
                                  "no HubSpot properties; nothing to set up"))
    if loaded.settings.hubspot.access_token is None:
        raise ConfigError(Problem("environment", "hubspot.access_token", (
            "no HubSpot access token: set SYNCD_HUBSPOT__ACCESS_TOKEN (or SYNCD_HUBSPOT__ACCESS_TOKEN_FILE), "
            "or hubspot.access_token_file in the config file")))
    api = ContactProperties(app.hubspot_connector(loaded.settings))
    plan = plan_setup(feedback, api.properties(), api.groups())
    if not dry_run:
        if plan.create_group:
            api.create_group(feedback.group, GROUP_LABEL)
        for definition in plan.create:
            api.create_property(definition)
        for name, options in plan.add_options.items():
            api.set_options(name, options)
    return plan
