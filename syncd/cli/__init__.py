"""The `syncd` command line. Few verbs, an example in each help text, one-line errors.

One module per verb group (``run``, ``mapping``, ``status``, ``report``, ``setup``, ``demo``); the
tables and the progress bar are in ``console``. The CLI is the only part of syncd that prints.

Exit codes (README "Exit codes"): 0 success; 3 finished but some records were rejected;
4 configuration or mapping error, nothing written; 5 remote system unavailable, quota used up or
authentication failed; 6 another syncer holds the lock; 7 the state store cannot be used
(read-only, full, corrupt, missing, unreachable); 2 bad command line; 1 a bug.
"""

from __future__ import annotations

import sys
import traceback

import click

from syncd.app.logs import SCRUBBER
from syncd.cli.agreement import agreement
from syncd.cli.backfill import backfill
from syncd.cli.common import Exit
from syncd.cli.demo import demo
from syncd.cli.doctor import doctor
from syncd.cli.mapping import mapping
from syncd.cli.preview import preview
from syncd.cli.rejected import rejected
from syncd.cli.report import report
from syncd.cli.run import run
from syncd.cli.setup import setup
from syncd.cli.status import status
from syncd.core import __version__
from syncd.core.errors import ExitCode, SyncdError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syncd")
def cli() -> None:
    """syncd hands qualified HubSpot leads to Salesforce with their context, and brings
    what Sales learned back to Marketing.

    \b
    Start here:   syncd demo
    Sync now:     syncd run --once
    Check a map:  syncd mapping validate mappings/hubspot-to-salesforce.yaml
    Before the service: syncd doctor
    """


for command in (run, mapping, status, report, agreement, setup, demo, rejected, preview, backfill, doctor):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="syncd", standalone_mode=False)
    except Exit as exc:
        return exc.code
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SyncdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except Exception:  # noqa: BLE001 - a bug: the traceback is for its report, secrets masked, no locals
        print(SCRUBBER.scrub(traceback.format_exc()), file=sys.stderr)
        return int(ExitCode.INTERNAL_ERROR)
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
