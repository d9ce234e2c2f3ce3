"""What every verb shares: the --config option, the consoles, one-line errors, the exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from syncd.core.errors import SyncdError

config_option = click.option(
    "--config", "-c", "config_path", type=click.Path(path_type=Path), envvar="SYNCD_CONFIG",
    help="Config file. Default: ./syncd.yaml, ~/.config/syncd/syncd.yaml, /etc/syncd/syncd.yaml.")

stdout = Console()
stderr = Console(stderr=True)


class Exit(Exception):
    """Leave the command with this exit code (README "Exit codes")."""

    def __init__(self, code: int) -> None:
        self.code = code


def fail(error: SyncdError) -> Exit:
    """Print the error on one line (with colour on a terminal) and return the Exit to raise."""
    if stderr.is_terminal:
        stderr.print(f"[red]error:[/red] {error}", highlight=False, markup=True, soft_wrap=True)
    else:
        print(f"error: {error}", file=sys.stderr)
    return Exit(int(error.exit_code))
