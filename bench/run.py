"""syncd's benchmark: wall time, throughput, API calls against the minimum, memory and CPU.

    python bench/run.py [--sizes 10000,20000,100000] [--cases first,nochange,incremental,feedback,searchonly,naive]
                        [--latency-ms 20] [--naive-contacts N] [--json out.json]
    make bench                       # the default sizes
    python bench/run.py --sizes 2000 # a quick run, about a minute

Setup: the emulators run in their own process (``python -m emulators serve``) with a latency on
every API response (20 ms: a network round trip) and HubSpot's real limits for a Professional
private app (190 requests per rolling 10 s; search 5 per second, and counted in the 10 s window
too, the conservative reading). syncd runs as a child process, ``syncd run --once --config
<emulator config>``, and is measured from outside: wall time, peak RSS and CPU (user + sys) from
``os.wait4``, API calls per endpoint from the emulators' request logs (429s counted apart).

Cases, per size, in this order on one seeded org (N qualified contacts with email and form
history, last modified two hours ago so that the look-back window does not read them again):
``first`` (first sync with the bundled mapping, which reads property history), ``nochange``
(nothing changed), ``incremental`` (1 % of contacts edited just before), ``feedback`` (10 % of
the synced Leads converted in Salesforce with an Opportunity, half closed won, half closed
lost); then on a fresh org ``searchonly`` (first sync with a mapping whose properties fit in the
search request: no batch reads); and ``naive`` (one call per record, ``bench/naive.py``) at the
smallest size only (capped by ``--naive-contacts``).

Minimum calls per case: see ``bench/formulas.py``. The rate-limit floor of a case is the larger
of (HubSpot calls / 19 per second) and (search calls / 5 per second).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import formulas  # noqa: E402
from bench.emulator_process import REPO, EmulatorProcess  # noqa: E402
from bench.report import markdown_table, print_table  # noqa: E402

ALL_CASES = ("first", "nochange", "incremental", "feedback", "searchonly", "naive")
# The cycles after the first sync measure their own changes only: the look-back (which re-reads
# the previous window's last minutes, for HubSpot search's eventual consistency) is off for them.
# With the default 10 minutes a cycle also re-reads what changed in the previous cycle's last 10
# minutes: ⌈L/200⌉ more searches for L such contacts (no batch read: an unchanged contact is not
# read in full again) and ⌈L/2000⌉ more outcome query pages.
STEADY = {"SYNCD_SYNC__LOOKBACK_MINUTES": "0"}
SEARCH_ONLY_MAPPING = Path(__file__).resolve().parent / "mappings" / "search-only.yaml"


@dataclass
class CaseResult:
    case: str
    size: int
    records: int                     # N, C or M: what the case hands over
    exit_code: int
    wall_seconds: float
    peak_rss_mb: float
    cpu_seconds: float
    hubspot: dict[str, int]
    salesforce: dict[str, int]
    minimum: dict[str, Any]
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def hubspot_calls(self) -> int:
        return sum(v for k, v in self.hubspot.items() if k != "rate_limited")

    @property
    def salesforce_calls(self) -> int:
        return sum(self.salesforce.values())

    def summary(self) -> dict[str, Any]:
        searches = self.hubspot.get("search", 0)
        floor = max(self.hubspot_calls / 19, searches / 5)
        calls = self.hubspot_calls + self.salesforce_calls
        return {
            **asdict(self),
            "hubspot_calls": self.hubspot_calls, "salesforce_calls": self.salesforce_calls,
            "token_calls": self.salesforce.get("token", 0), "calls": calls,
            "records_per_second": self.records / self.wall_seconds if self.records and self.wall_seconds else None,
            "ratio_to_minimum": calls / self.minimum["total"] if self.minimum["total"] else None,
            "rate_limit_floor_seconds": floor,
            "wall_over_floor": self.wall_seconds / floor if floor else None,
            "cpu_seconds_per_1000": self.cpu_seconds * 1000 / self.size if self.size else None,
        }


def measure_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[int, float, float, float, str]:
    """Run ``cmd``; (exit code, wall s, peak RSS MB, CPU s, stdout) of that child alone (os.wait4)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda: out.append(proc.stdout.read())),  # type: ignore[union-attr]
               threading.Thread(target=lambda: err.append(proc.stderr.read()))]  # type: ignore[union-attr]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join()
    if proc.returncode != 0:
        sys.stderr.write(f"  ! {' '.join(cmd[-4:])} exited {proc.returncode}: {''.join(err)[-800:]}\n")
    return proc.returncode, wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, "".join(out)


def run_finished(stdout: str) -> dict[str, Any]:
    """The counts of syncd's ``run.finished`` lines, by leg."""
    legs: dict[str, Any] = {}
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "run.finished":
            legs[event.get("leg", "?")] = {k: v for k, v in event.items()
                                          if k not in ("event", "level", "timestamp", "run_id", "pipeline")}
    return legs


def syncd_command(config: Path) -> list[str]:
    exe = Path(sys.executable).with_name("syncd")
    return [str(exe) if exe.exists() else shutil.which("syncd") or "syncd", "run", "--once", "--config", str(config)]


def run_case(org: EmulatorProcess, case: str, size: int, records: int, minimum: formulas.Minimum,
             cmd: list[str], env: dict[str, str] | None = None) -> CaseResult:
    org.clear_request_logs()
    code, wall, rss, cpu, stdout = measure_child(cmd, env)
    calls = org.calls_by_endpoint()
    result = CaseResult(case, size, records, code, wall, rss, cpu, dict(calls["hubspot"]), dict(calls["salesforce"]),
                        {"hubspot": minimum.hubspot, "salesforce": minimum.salesforce, "total": minimum.total,
                         "formula": minimum.text}, run_finished(stdout))
    print(f"  {case:<12} N={size:<7} wall {wall:7.1f} s  calls HS {result.hubspot_calls:>5} SF "
          f"{result.salesforce_calls:>5} (min {minimum.total})  exit {code}", flush=True)
    return result


def setup_hubspot(org: EmulatorProcess) -> None:
    """Create the feedback properties once per org (not measured)."""
    exe = Path(sys.executable).with_name("syncd")
    subprocess.run([str(exe), "setup", "hubspot", "--config", str(org.config)], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def seeded_org(work: Path, name: str, size: int, args: argparse.Namespace, mapping: Path | None = None) -> EmulatorProcess:
    started = time.perf_counter()
    org = EmulatorProcess(work / name, latency_ms=args.latency_ms, hubspot_limits=args.hubspot_limits,
                          seed_contacts=size, mapping=mapping)
    setup_hubspot(org)
    print(f"org {name}: {size} contacts seeded in {org.info['seed_seconds']} s "
          f"(ready in {time.perf_counter() - started:.1f} s)", flush=True)
    return org


def run_size(size: int, cases: list[str], work: Path, args: argparse.Namespace, smallest: bool) -> list[CaseResult]:
    results: list[CaseResult] = []
    cmd_for = syncd_command
    if any(c in cases for c in ("first", "nochange", "incremental", "feedback")):
        with seeded_org(work, f"org-{size}", size, args) as org:
            cmd = cmd_for(org.config)
            if "first" in cases:
                results.append(run_case(org, "first", size, size, formulas.first_sync(size, history=True), cmd))
            if "nochange" in cases:
                results.append(run_case(org, "nochange", size, 0, formulas.no_change(), cmd, env=STEADY))
            if "incremental" in cases:
                changed = list(range(1, size + 1, 100))  # 1 %: every 100th contact (ids are 1..N)
                org.control("hubspot", "POST", "/contacts/batch-update", {"updates": [
                    {"id": str(i), "properties": {"jobtitle": "Chief Revenue Officer"}} for i in changed]})
                results.append(run_case(org, "incremental", size, len(changed), formulas.incremental(len(changed)), cmd,
                                        env=STEADY))
            if "feedback" in cases:
                closed = list(range(5, size + 1, 10))  # 10 % of the synced Leads
                conversions = [{"key": str(hid), "opportunity": (
                    {"StageName": "Closed Won", "Amount": 12000} if n % 2 == 0
                    else {"StageName": "Closed Lost", "Loss_Reason__c": "Price"})} for n, hid in enumerate(closed)]
                answer = org.control("salesforce", "POST", "/leads/convert",
                                     {"by": "HubSpot_Contact_Id__c", "conversions": conversions})
                failed = [r for r in answer["results"] if r.get("errors")]
                if failed:
                    print(f"  ! {len(failed)} conversions failed, e.g. {failed[0]}", flush=True)
                won = sum(1 for c, r in zip(conversions, answer["results"])
                          if not r.get("errors") and c["opportunity"]["StageName"] == "Closed Won")
                results.append(run_case(org, "feedback", size, len(closed) - len(failed),
                                        formulas.feedback(len(closed) - len(failed), moving=won), cmd,
                                        env=STEADY))
    if "searchonly" in cases:
        with seeded_org(work, f"org-{size}-search-only", size, args, mapping=SEARCH_ONLY_MAPPING) as org:
            results.append(run_case(org, "searchonly", size, size, formulas.first_sync(size, history=False),
                                    cmd_for(org.config)))
    if "naive" in cases and smallest:
        n = min(size, args.naive_contacts or size)
        with seeded_org(work, f"org-{n}-naive", n, args) as org:
            results.append(run_case(org, "naive", n, n, formulas.first_sync(n, history=True),
                                    [sys.executable, str(Path(__file__).with_name("naive.py")),
                                     "--config", str(org.config)]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--sizes", default="10000,20000,100000", help="contacts per org, comma-separated")
    parser.add_argument("--cases", default=",".join(ALL_CASES), help=f"any of {','.join(ALL_CASES)}")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--hubspot-limits", choices=("real", "off"), default="real")
    parser.add_argument("--naive-contacts", type=int, default=None,
                        help="cap the naive baseline at this many contacts (default: the smallest size; "
                             "it takes ~0.08 s per contact)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--markdown", type=Path, help="also write the table here, as Markdown (the README's)")
    parser.add_argument("--keep", action="store_true", help="keep the emulators' directories (configs, state)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(cases) - set(ALL_CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {','.join(ALL_CASES)}")
    work = Path(tempfile.mkdtemp(prefix="syncd-bench-"))
    print(f"syncd benchmark: sizes {sizes}, cases {cases}, latency {args.latency_ms} ms, HubSpot limits "
          f"{args.hubspot_limits}; work in {work}", flush=True)
    results: list[CaseResult] = []
    try:
        for size in sizes:
            results += run_size(size, cases, work, args, smallest=size == sizes[0])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    summaries = [r.summary() for r in results]
    print_table(summaries, latency_ms=args.latency_ms)
    if args.json:
        args.json.write_text(json.dumps({"latency_ms": args.latency_ms, "hubspot_limits": args.hubspot_limits,
                                         "results": summaries}, indent=2))
        print(f"\nJSON: {args.json}")
    if args.markdown:
        args.markdown.write_text(markdown_table(summaries))
        print(f"Markdown: {args.markdown}")


if __name__ == "__main__":
    main()
