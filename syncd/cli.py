"""The `syncd` command line. Few verbs, an example in each help text, one-line errors.

Exit codes (README "Exit codes"): 0 success; 3 finished but some records were rejected;
4 configuration or mapping error, nothing written; 5 remote system unavailable, quota used up or
authentication failed; 6 another syncer holds the lock; 2 bad command line; 1 a bug.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from syncd import __version__
from syncd.core.errors import ConfigError, ExitCode, SyncdError

config_option = click.option(
    "--config", "-c", "config_path", type=click.Path(path_type=Path), envvar="SYNCD_CONFIG",
    help="Config file. Default: ./syncd.yaml, ~/.config/syncd/syncd.yaml, /etc/syncd/syncd.yaml.")

stdout = Console()
stderr = Console(stderr=True)


class Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _fail(error: SyncdError) -> Exit:
    stderr.print(f"[red]error:[/red] {error}", highlight=False, markup=True, soft_wrap=True) \
        if stderr.is_terminal else print(f"error: {error}", file=sys.stderr)
    return Exit(int(error.exit_code))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syncd")
def cli() -> None:
    """syncd hands qualified HubSpot leads to Salesforce with their context, and brings
    what Sales learned back to Marketing.

    \b
    Start here:   syncd demo
    Sync now:     syncd run --once
    Check a map:  syncd mapping validate mappings/hubspot-to-salesforce.yaml
    """


@cli.command()
@config_option
@click.option("--once", is_flag=True, help="Run one sync cycle and exit.")
@click.option("--dry-run", is_flag=True, help="Read and plan, show what would be written, write nothing.")
@click.option("--full", is_flag=True,
              help="Re-read every qualifying contact, not only changes (unchanged ones are still not written).")
def run(config_path: Path | None, once: bool, dry_run: bool, full: bool) -> None:
    """Sync HubSpot leads to Salesforce.

    \b
    Example:
      syncd run --once              # one cycle now, summary at the end
      syncd run --once --dry-run    # what would be written
      syncd run                     # the service: a cycle on the schedule until SIGTERM
    """
    from contextlib import nullcontext

    from syncd import app
    from syncd.logs import configure_logging

    if not once:
        if dry_run or full:
            raise click.UsageError("--dry-run and --full go with --once (the service reads "
                                   "sync.dry_run from the config)")
        from syncd.service import serve

        try:
            raise Exit(serve(config_path))
        except SyncdError as exc:           # config (4) or another syncer holds the lock (6)
            raise _fail(exc) from None
    try:
        loaded = app.load(config_path)
    except ConfigError as exc:
        raise _fail(exc) from None
    settings = loaded.settings
    human = configure_logging(settings.logging.format, settings.logging.level, settings.secret_values())
    store = app.open_store(settings)
    dry_run = dry_run or settings.sync.dry_run
    try:
        from state.lock import holding
        from syncd.service import graceful_stop

        # A dry run writes nothing, so it needs no lock and may run beside the service.
        with (nullcontext() if dry_run else holding(store, settings.sync.pipeline, "once")) as lease, \
                graceful_stop() as stop_requested:
            # Stop at the next batch on a signal, or when another syncer took the lease over
            # (this process stalled past its TTL): never write beside another syncer.
            def should_stop() -> bool:
                return stop_requested() or (lease is not None and not lease.held)

            result = _run_once(loaded, store, dry_run=dry_run, full=full, human=human,
                               should_stop=should_stop)
    except SyncdError as exc:               # LockHeld: another syncer runs this pipeline
        raise _fail(exc) from None
    finally:
        store.close()
    raise Exit(int(result.exit_code))


def _run_once(loaded, store, *, dry_run: bool, full: bool, human: bool, should_stop=None):  # noqa: ANN001, ANN202
    from syncd import console
    from syncd.cycle import run_cycle

    if human:
        with console.RunProgress(stderr) as progress:
            cycle = run_cycle(loaded, store, dry_run=dry_run, full=full, progress=progress,
                              should_stop=should_stop)
        for result in cycle.results:
            stdout.print(console.run_summary(result))
            if result.planned:
                stdout.print(console.planned_table(result.planned))
            if result.rejections:
                stdout.print(console.rejections_table(result.rejections[:20], "Rejected in this run"))
            if result.error:
                stderr.print(f"[red]error:[/red] {result.error}", highlight=False)
    else:
        cycle = run_cycle(loaded, store, dry_run=dry_run, full=full, should_stop=should_stop)
        for result in cycle.results:
            for write in result.planned:
                print(json.dumps({"event": "plan.write", "hubspot_id": write.hubspot_id, "kind": write.kind,
                                  "target_id": write.target_id, "fields": write.fields}, default=str))
    return cycle


@cli.group()
def mapping() -> None:
    """Check the mapping file, or print its JSON Schema."""


@mapping.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@config_option
def mapping_validate(path: Path | None, config_path: Path | None) -> None:
    """Check a mapping file; every problem is shown with its file, line and field.

    \b
    Example:
      syncd mapping validate mappings/hubspot-to-salesforce.yaml
    With no PATH, checks the mapping the config points to (or the bundled default).
    """
    from syncd.mapping import load_mapping

    try:
        if path is None:
            from syncd import app

            loaded = app.load(config_path, require_credentials=False)
            result, path = loaded.mapping, Path(loaded.mapping.source)
        else:
            result = load_mapping(path)
    except ConfigError as exc:
        raise _fail(exc) from None
    conditions = " and ".join(f"{c.property} {c.operator} {c.operand}" for c in result.qualify)
    stdout.print(f"[green]ok[/green] {path}: {len(result.all_rules())} Salesforce fields from "
                 f"{len(result.properties_to_read())} HubSpot properties"
                 f"{' (+ history of ' + ', '.join(result.history_properties()) + ')' if result.history_properties() else ''}; "
                 f"hands over contacts where {conditions}"
                 + (f"; carries Sales outcomes back to {len(result.feedback.written_properties())} HubSpot "
                    f"properties" if result.feedback else ""), highlight=False, soft_wrap=True)


@mapping.command("schema")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to a file instead of stdout.")
def mapping_schema(output: Path | None) -> None:
    """Print the mapping's JSON Schema (for editor completion and checks).

    \b
    Example:
      syncd mapping schema -o mappings/mapping.schema.json
    """
    from syncd.mapping import mapping_json_schema

    text = json.dumps(mapping_json_schema(), indent=2) + "\n"
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=10, show_default=True, help="How many runs and rejections to show.")
def status(config_path: Path | None, as_json: bool, limit: int) -> None:
    """Show who is syncing (the lock holder and its next cycle), the last runs, their counts,
    the watermarks and the rejected records.

    \b
    Example:
      syncd status
      syncd status --json | jq .rejections
      syncd status --json | jq .lock.next_run_at
    """
    from state.lock import current_lease, utcnow
    from state.outcomes import OutcomeStore
    from syncd import app, console

    try:
        loaded = app.load(config_path, require_credentials=False)
    except ConfigError as exc:
        raise _fail(exc) from None
    store = app.open_store(loaded.settings)
    pipeline = loaded.settings.sync.pipeline
    try:
        runs = store.recent_runs(pipeline, limit)
        cursors = store.cursors(pipeline)
        rejections = store.list_rejections(pipeline, limit)
        feedback_rejections = OutcomeStore(store).list_rejections(pipeline, limit)
        links, rejected_total = store.count_links(pipeline), store.count_rejections(pipeline)
        lease, now = current_lease(store, pipeline), utcnow()
    finally:
        store.close()
    if as_json:
        print(json.dumps({
            "pipeline": pipeline, "linked_contacts": links, "rejected_records": rejected_total,
            "lock": lease.as_dict(now) if lease else None,
            "runs": [r.model_dump(mode="json") for r in runs],
            "watermarks": {c.name: c.value for c in cursors},
            "rejections": [r.model_dump(mode="json") for r in rejections],
            "feedback_rejections": [r.model_dump(mode="json") for r in feedback_rejections],
        }, indent=2, default=str))
        return
    stdout.print(f"pipeline [bold]{pipeline}[/bold]: {links} contacts linked to Salesforce, "
                 f"{rejected_total} rejected records", highlight=False)
    stdout.print(console.lock_line(lease, now), highlight=False)
    stdout.print(console.runs_table(runs) if runs else "no runs yet")
    if cursors:
        stdout.print(console.cursors_table(cursors))
    if rejections:
        stdout.print(console.rejections_table(rejections, "Rejected by Salesforce or the mapping (forward)"))
    if feedback_rejections:
        stdout.print(console.rejections_table(feedback_rejections, "Outcomes HubSpot refused (back)"))


def _register_optional_commands() -> None:
    from syncd.report import report              # the closed loop: issue #3
    from syncd.setup_hubspot import setup

    cli.add_command(report)
    cli.add_command(setup)
    try:
        from syncd.demo import demo
    except ImportError:  # pragma: no cover - demo is being written
        return
    cli.add_command(demo)


def main(argv: list[str] | None = None) -> int:
    _register_optional_commands()
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
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
