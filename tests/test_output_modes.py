"""Every command that prints records, in every output mode: a terminal of a forced width, a pipe,
`--format` each value, `-o FILE` with each extension. In each the data is complete: no cell cut
with "…", JSON parses and equals the JSON answer, CSV has its header row and every record."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulators.hubspot import HubSpotEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.stack import start_stack
from syncd.cli import main
from syncd.cli.backfill import CSV_COLUMNS as BACKFILL_COLUMNS
from syncd.cli.common import FORMAT_BY_EXTENSION
from syncd.cli.rejected import COLUMNS as REJECTED_COLUMNS
from syncd.cli.run import DECISION_COLUMNS, SUMMARY_COLUMNS
from syncd.core.errors import ExitCode
from tests.conftest import Syncd, qualified
from tests.test_doctor import CHECKS
from tests.test_report import BY_SOURCE, seeded  # noqa: F401 - `seeded` is a fixture used below

# (id, arguments, file name for -o or None, terminal width or None for a pipe, format per command)
MODES = [
    ("terminal-60", [], None, 60, {"status": "table", "report": "table"}),
    ("terminal-200", [], None, 200, {"status": "table", "report": "table"}),
    ("pipe", [], None, None, {"status": "table", "report": "json"}),
    ("format-table", ["--format", "table"], None, None, {"status": "table", "report": "table"}),
    ("format-json", ["--format", "json"], None, None, {"status": "json", "report": "json"}),
    ("format-csv", ["--format", "csv"], None, None, {"status": "csv", "report": "csv"}),
    ("file-json", [], "out.json", None, {"status": "json", "report": "json"}),
    ("file-csv", [], "out.csv", None, {"status": "csv", "report": "csv"}),
    ("file-txt", [], "out.txt", None, {"status": "table", "report": "table"}),
    ("file-md", [], "out.md", None, {"status": "table", "report": "table"}),
    ("file-on-a-terminal", [], "out.txt", 60, {"status": "table", "report": "table"}),
    ("format-wins-over-extension", ["--format", "csv"], "out.txt", None, {"status": "csv", "report": "csv"}),
]


def columns(text: str) -> list[list[str]]:
    """Each table's columns, each the column's cells top to bottom joined without whitespace: a
    value folded over several lines joins up again, so a cut value cannot pass for a whole one."""
    tables, body = [], None
    for line in text.splitlines():
        if line.startswith("┡"):
            body = []
        elif line.startswith("└") and body is not None:
            width = max(len(cells) for cells in body)
            tables.append(["".join("".join(row[i].split()) for row in body if len(row) == width)
                           for i in range(width)])
            body = None
        elif body is not None and line.startswith("│"):
            body.append(line.strip("│").split("│"))
    return tables


def squeeze(*values: object) -> str:
    return "".join("".join(str(v).split()) for v in values)


def produce(capsys, monkeypatch, tmp_path: Path, config: Path, command: str, args: list[str],
            file: str | None, width: int | None) -> str:
    if width is None:
        monkeypatch.setenv("TTY_COMPATIBLE", "0")       # a pipe, even where the suite runs on a terminal
    else:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")       # rich's switch for "this is a terminal"
        monkeypatch.setenv("COLUMNS", str(width))
    capsys.readouterr()
    output = [] if file is None else ["-o", str(tmp_path / file)]
    assert main([command, *args, *output, "--config", str(config)]) == ExitCode.OK
    printed = capsys.readouterr().out
    if file is None:
        return printed
    assert printed == ""
    return (tmp_path / file).read_text()


@pytest.fixture
def synced(syncd, capsys):
    """Two runs' rows (forward and back), watermarks, and a rejection with a long message."""
    contacts = qualified(3)
    contacts[1]["company"] = "C" * 300
    syncd.hubspot.create_contacts(contacts)
    assert syncd.cli("run", "--once") == ExitCode.RECORDS_REJECTED
    capsys.readouterr()
    assert syncd.cli("status", "--json") == ExitCode.OK
    return syncd, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("mode, args, file, width, formats", MODES, ids=[m[0] for m in MODES])
def test_status_is_complete_in_every_output_mode(synced, capsys, monkeypatch, tmp_path, mode, args, file,
                                                 width, formats):
    syncd, truth = synced
    text = produce(capsys, monkeypatch, tmp_path, syncd.stack.config_path, "status", args, file, width)
    assert "…" not in text
    runs = truth["runs"]
    assert len(runs) == 2 and truth["rejections"] and len(truth["rejections"][0]["message"]) > 100
    if formats["status"] == "json":
        assert json.loads(text) == truth
    elif formats["status"] == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["run_id", "leg", "status", "dry_run", "started_at", "finished_at", "read", "created",
                           "updated", "unchanged", "rejected", "error"]
        assert [(r[0], r[1], r[2], r[7]) for r in rows[1:]] == \
            [(r["id"], r["leg"], r["status"], str(r["counts"].get("created", 0))) for r in runs]
    else:
        run_table, watermark_table, rejection_table = columns(text)
        started = [re.sub(r"\.\d+.*|T", " ", r["started_at"]).strip() for r in runs]
        assert run_table[:3] == [squeeze(*started), squeeze(*(r["leg"] for r in runs)),
                                 squeeze(*(r["status"] for r in runs))]
        marks = truth["watermarks"]
        assert watermark_table[:2] == [squeeze(*marks), squeeze(*marks.values())]
        rejection = truth["rejections"][0]
        assert rejection_table == [squeeze(rejection["hubspot_id"]), squeeze(rejection["code"]),
                                   squeeze(rejection["message"])]
        if width is None:          # off a terminal nothing even folds: each value on one line, whole
            assert rejection["message"] in text and all(f"│ {value} " in text for value in marks.values())


@pytest.mark.parametrize("mode, args, file, width, formats", MODES, ids=[m[0] for m in MODES])
def test_report_is_complete_in_every_output_mode(seeded, capsys, monkeypatch, tmp_path, mode, args, file,  # noqa: F811
                                                 width, formats):
    text = produce(capsys, monkeypatch, tmp_path, seeded.stack.config_path, "report", args, file, width)
    assert "…" not in text
    sources = ["ORGANIC_SEARCH", "(none)", "PAID_SOCIAL"]          # most wins first
    if formats["report"] == "json":
        data = json.loads(text)
        assert {g.pop("source"): g for g in data["groups"]} == BY_SOURCE
    elif formats["report"] == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][:3] == ["source", "handed_over", "contacted"]
        assert [(r[0], r[1]) for r in rows[1:]] == \
            [*((s, str(BY_SOURCE[s]["handed_over"])) for s in sources), ("TOTAL", "11")]
    else:
        loop, why = columns(text)
        assert loop[:2] == [squeeze(*sources, "TOTAL"),
                            squeeze(*(BY_SOURCE[s]["handed_over"] for s in sources), 11)]
        reasons = {s: "; ".join(f"{k}={n}" for k, n in sorted(BY_SOURCE[s]["disqualified_by_reason"].items(),
                                                              key=lambda kv: (-kv[1], kv[0])))
                   for s in sources}
        shown = [s for s in sources if BY_SOURCE[s]["disqualified_by_reason"] or BY_SOURCE[s]["lost_by_reason"]]
        assert why[0] == squeeze(*shown)
        if width is None:
            assert all(f"│ {source} " in text for source in sources)
        assert why[1] == squeeze(*(reasons[s] or "—" for s in shown))


@pytest.mark.parametrize("command", ["status", "report"])
def test_an_output_file_whose_extension_names_no_format_is_a_usage_error(syncd, capsys, tmp_path, command):
    capsys.readouterr()
    assert syncd.cli(command, "-o", str(tmp_path / "out.xlsx")) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "cannot tell the format from the file name 'out.xlsx'" in err and "--format" in err
    assert not (tmp_path / "out.xlsx").exists()
    assert syncd.cli(command, "-o", str(tmp_path / "out.xlsx"), "--format", "csv") == ExitCode.OK
    assert (tmp_path / "out.xlsx").read_text().splitlines()[0].split(",")[0] in ("run_id", "source")


# -- every command that prints records, on one shared stack ------------------------------------------
# (id, file name for -o or None, terminal width or None for a pipe)
OUTPUTS = [("terminal", None, 60), ("pipe", None, None), ("file-json", "out.json", None),
           ("file-csv", "out.csv", None), ("file-txt", "out.txt", None), ("file-unknown", "out.xlsx", None),
           ("file-on-a-terminal", "out.json", 60)]
PIPED = {"run": "lines", "run-dry": "lines", "preview": "json", "rejected": "json", "doctor": "json",
         "backfill": "lines"}
LONG = "the handoff from marketing to sales loses context every single time it happens, " * 3


@dataclass
class World:
    syncd: Syncd
    contact: str            # linked; each case gives it a new long pain point
    message: str            # the long message Salesforce refused the 300-character company with


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    """One stack for every case: a linked contact, and a rejected one whose message is long."""
    tmp = tmp_path_factory.mktemp("outputs")
    stack = start_stack(tmp / "stack", hubspot=HubSpotEmulator(access_tokens=(), rate_limits=False),
                        salesforce=SalesforceEmulator())
    try:
        syncd = Syncd(stack, tmp)
        contacts = qualified(2)
        contacts[1]["company"] = "C" * 300
        contact, _ = syncd.hubspot.create_contacts(contacts)
        [rejection] = syncd.run().rejections
        assert len(rejection.message) > 100
        yield World(syncd, contact, rejection.message)
    finally:
        stack.stop()


def _changed(world: World, mode: str) -> str:
    """A pain point the next run would send, long and this case's own."""
    value = f"{mode}: {LONG}".strip()
    world.syncd.hubspot.update_contact(world.contact, {"pain_points": value})
    return value


def _run(world: World, mode: str) -> list[str]:
    """`run --once` after a new contact whose 300-character company Salesforce refuses (long message)."""
    if mode != "file-unknown":             # that case exits 2 before any work: its contact would count in the next
        world.syncd.hubspot.create_contacts(qualified(1, start=100 + [o[0] for o in OUTPUTS].index(mode),
                                                      company="C" * 300))
    return ["run", "--once"]


COMMANDS = {
    "run": lambda world, mode: (_run(world, mode), ExitCode.RECORDS_REJECTED, None),
    "run-dry": lambda world, mode: (["run", "--once", "--dry-run"], ExitCode.OK, _changed(world, mode)),
    "preview": lambda world, mode: (["preview", world.contact], ExitCode.OK, _changed(world, mode)),
    "rejected": lambda world, mode: (["rejected", "list"], ExitCode.OK, None),
    # the bundled mapping against the emulator's org: `mapping.live` FAILs with its fix (exit 4)
    "doctor": lambda world, mode: (["doctor"], ExitCode.CONFIG_ERROR, None),
    # every mapped field of the linked contact against its Lead: the new pain point differs
    "backfill": lambda world, mode: (["backfill", "--dry-run"], ExitCode.OK, _changed(world, mode)),
}


def _check_table(command: str, text: str, world: World, value: str | None) -> None:
    tables = columns(text)
    if command == "doctor":
        assert all(re.search(rf"^(ok|warn|FAIL)\s+{re.escape(check)} ", text, re.MULTILINE) for check in CHECKS), text
        assert "(fix: run `syncd mapping check` for each with file, line and fix)" in text
    elif command == "run":
        assert [t for t in tables if len(t) == 3 and squeeze(world.message) in t[2]], text
    elif command == "rejected":
        assert [t for t in tables if len(t) >= 5 and squeeze(world.message) in t[4]], text
    else:
        assert [t for t in tables if len(t) == 4 and squeeze(value) in t[3]], text


def _log_line(line: str) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and "level" in event and "event" in event


def _check_records(command: str, fmt: str, text: str, world: World, value: str | None) -> None:
    """The content parses in its format, and the long value is in it whole."""
    if fmt == "table":
        _check_table(command, text, world, value)
        return
    if fmt == "lines":                  # JSON log lines, a dry run's plan.write/plan.skip among them
        events = [json.loads(line) for line in text.splitlines()]
        if command == "run":
            assert [e["rejected"] for e in events if e["event"] == "run.finished" and e["leg"] == "forward"] == [1]
        elif command == "backfill":
            assert [e for e in events if e["event"] == "backfill.lead" and e["hubspot_id"] == world.contact
                    and e["changes"]["Pain_Points__c"]["new"] == value]
        else:
            assert [e for e in events if e["event"] == "plan.write" and e["hubspot_id"] == world.contact
                    and e["changes"]["Pain_Points__c"]["new"] == value]
        return
    if fmt == "json":                   # off a terminal the JSON log lines come first (logging.format auto)
        data = json.loads("\n".join(line for line in text.splitlines() if not _log_line(line)))
        if command == "doctor":
            assert [line["check"] for line in data] == CHECKS
        elif command == "rejected":
            assert world.message in [row["message"] for row in data]
        elif command == "run":
            [forward, _back] = data["runs"]
            assert forward["leg"] == "forward" and forward["counts"]["rejected"] == 1
            assert [r["message"] for r in forward["rejections"]] == [world.message]
        elif command == "backfill":
            assert data["finished"]["status"] == "dry_run" and [
                r for r in data["leads"] if r["hubspot_id"] == world.contact
                and r["changes"]["Pain_Points__c"]["new"] == value]
        else:
            assert [r for r in data["records"] if r["hubspot_id"] == world.contact
                    and r["changes"]["Pain_Points__c"]["new"] == value]
        return
    header, *rows = list(csv.reader(io.StringIO(text)))
    records = [dict(zip(header, row)) for row in rows]
    if command == "doctor":
        assert header == ["check", "status", "detail", "fix"] and [r["check"] for r in records] == CHECKS
    elif command == "rejected":
        assert header == list(REJECTED_COLUMNS) and world.message in [r["message"] for r in records]
    elif command == "run":
        assert header == list(SUMMARY_COLUMNS)
        assert {(r["leg"], r["count"], r["value"]) for r in records} >= {("forward", "rejected", "1"),
                                                                         ("back", "read", "0")}
    elif command == "backfill":
        assert header == list(BACKFILL_COLUMNS)
        assert [r for r in records if (r["hubspot_id"], r["field"], r["new"], r["compared"]) ==
                (world.contact, "Pain_Points__c", value, "True")]
    else:
        assert header == list(DECISION_COLUMNS)
        assert [r for r in records if (r["hubspot_id"], r["field"], r["new"]) ==
                (world.contact, "Pain_Points__c", value)]


@pytest.mark.parametrize("mode, file, width", OUTPUTS, ids=[o[0] for o in OUTPUTS])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_that_prints_records_is_whole_in_every_output_mode(world, capsys, monkeypatch, tmp_path,
                                                                         command, mode, file, width):
    if width is None:
        monkeypatch.setenv("TTY_COMPATIBLE", "0")
    else:                               # a terminal: rich's switch, and syncd's logs for a person (stderr)
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
        monkeypatch.setenv("COLUMNS", str(width))
        monkeypatch.setenv("SYNCD_LOGGING__FORMAT", "console")
    args, code, value = COMMANDS[command](world, mode)
    output = [] if file is None else ["-o", str(tmp_path / file)]
    capsys.readouterr()
    exit_code = main([*args, *output, "--config", str(world.syncd.stack.config_path)])
    captured = capsys.readouterr()
    if file == "out.xlsx":
        assert exit_code == ExitCode.USAGE
        assert "cannot tell the format from the file name 'out.xlsx'" in captured.err
        assert ".json, .csv, .txt" in captured.err and not (tmp_path / file).exists()
        return
    assert exit_code == code, captured.err
    if file is None:
        fmt, text = ("table" if width else PIPED[command]), captured.out
    else:
        fmt, text = FORMAT_BY_EXTENSION[Path(file).suffix], (tmp_path / file).read_text()
        # stdout keeps only the JSON log lines (off a terminal, `run`): the records are in the file alone
        assert not [line for line in captured.out.splitlines()
                    if not _log_line(line) or json.loads(line)["event"].startswith("plan.")]
    if file is not None and width is not None and command.startswith("run"):
        assert "written to" in captured.err and "syncd run" in captured.err      # the summary stays on the terminal
    assert "…" not in text
    _check_records(command, fmt, text, world, value)
