"""What every verb shares: the --config option, the consoles, one-line errors, the exit code,
and where records go (``--format``, ``-o FILE``)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console, ConsoleDimensions

from syncd.core.errors import SyncdError

config_option = click.option(
    "--config", "-c", "config_path", type=click.Path(path_type=Path), envvar="SYNCD_CONFIG",
    help="Config file. Default: ./syncd.yaml, ~/.config/syncd/syncd.yaml, /etc/syncd/syncd.yaml.")

# Off a terminal (a pipe, a file) nobody reads the lines at a screen's width, and rich would cut
# table cells to 80 columns ("2026-…"): data lost. There tables take the width they need.
UNLIMITED_WIDTH = 1_000_000


class _Console(Console):
    """A console as wide as the terminal, and unlimited off a terminal (unless a width is set)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        if kwargs.get("width") is None:
            # rich fixes the width from $COLUMNS once, here; a pipe would then be cut at it.
            # Asked at each print instead: $COLUMNS (or the terminal's size) on a terminal only.
            self._width = None

    @property
    def size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)  # type: ignore[attr-defined]
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(UNLIMITED_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


stdout = _Console()
stderr = _Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "csv")
FORMAT_BY_EXTENSION = {".json": "json", ".csv": "csv", ".txt": "table", ".md": "table"}


def format_option(default_help: str) -> Callable[[F], F]:
    """--format, its help saying what the command does without it."""
    return click.option("--format", "fmt", type=click.Choice(FORMATS), help=(
        f"Default: {default_help}; with -o, from the file's extension (.json, .csv, .txt or .md: table)."))


output_option = click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
                             help="Write to this file instead of stdout.")


def output_format(fmt: str | None, output: Path | None, *, piped: str = "json") -> str:
    """--format if given; else the file's extension; else a table on a terminal and ``piped``
    in a pipe. An extension that names no format is a usage error (exit 2), not a guess."""
    if fmt is not None:
        return fmt
    if output is not None:
        found = FORMAT_BY_EXTENSION.get(output.suffix.lower())
        if found is None:
            raise click.UsageError(
                f"cannot tell the format from the file name {output.name!r}: add --format "
                f"{'|'.join(FORMATS)}, or name the file .json, .csv, .txt or .md")
        return found
    return "table" if stdout.is_terminal else piped


def emit_tables(renderables: list, output: Path | None) -> None:
    """Tables (and lines) to the terminal, or as plain text, uncut, to ``output``."""
    target = stdout if output is None else Console(file=io.StringIO(), width=UNLIMITED_WIDTH, color_system=None)
    for renderable in renderables:
        target.print(renderable, highlight=False)
    if output is not None:
        output.write_text(target.file.getvalue())  # type: ignore[attr-defined]


def emit_text(text: str, output: Path | None) -> None:
    """JSON or CSV text to stdout or to ``output``."""
    if output is not None:
        output.write_text(text)
    else:
        click.echo(text, nl=False)


def csv_text(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """A header row, then one row per dict (keys not in ``columns`` left out, missing ones empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def emit(fmt: str, output: Path | None, *, tables: Callable[[], list], data: object, columns: Sequence[str],
         rows: Callable[[], Iterable[dict[str, Any]]]) -> None:
    """One command's records in ``fmt`` (``output_format``'s answer): ``tables()`` as text, ``data``
    as one JSON document, or ``rows()`` under the header ``columns`` as CSV; to stdout or ``output``."""
    if fmt == "json":
        emit_text(json.dumps(data, indent=2, default=str) + "\n", output)
    elif fmt == "csv":
        emit_text(csv_text(columns, rows()), output)
    else:
        emit_tables(tables(), output)


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
