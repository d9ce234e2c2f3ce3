"""Every command that prints records, in every output mode: a terminal of a forced width, a pipe,
`--format` each value, `-o FILE` with each extension. In each the data is complete: no cell cut
with "…", JSON parses and equals the JSON answer, CSV has its header row and every record."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.core.errors import ExitCode
from tests.conftest import qualified
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
