"""The benchmark's table: one row per case, then the API calls per endpoint against the minimum."""

from __future__ import annotations

from typing import Any

from bench.formulas import __doc__ as FORMULAS

COLUMNS = ("case", "N", "wall s", "rec/s", "HS calls", "SF calls", "token", "min", "ratio", "floor s",
           "wall/floor", "RSS MB", "CPU s", "CPU s/1k", "exit")


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


def _cells(r: dict[str, Any]) -> tuple[str, ...]:
    return (r["case"], _fmt(r["size"]), _fmt(r["wall_seconds"], ".1f"), _fmt(r["records_per_second"], ".0f"),
            _fmt(r["hubspot_calls"]), _fmt(r["salesforce_calls"]), _fmt(r["token_calls"]),
            _fmt(r["minimum"]["total"]), _fmt(r["ratio_to_minimum"], ".2f"),
            _fmt(r["rate_limit_floor_seconds"], ".1f"), _fmt(r["wall_over_floor"], ".2f"),
            _fmt(r["peak_rss_mb"], ".0f"), _fmt(r["cpu_seconds"], ".1f"), _fmt(r["cpu_seconds_per_1000"], ".2f"),
            _fmt(r["exit_code"]))


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The same table as Markdown, for the README ("Performance"): pasted from one run."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def print_table(rows: list[dict[str, Any]], *, latency_ms: float) -> None:
    print(f"\nResults ({latency_ms:g} ms per API response; HubSpot 190 req/10 s, search 5/s). "
          "'min' is the minimum API calls for the case, 'ratio' calls/min (token included), 'floor' the rate-limit "
          "floor: max(HubSpot calls / 19, searches / 5) seconds.\n")
    table = [COLUMNS, *(_cells(r) for r in rows)]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(COLUMNS))]
    for row in table:
        print("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
    print("\nAPI calls per endpoint (actual / minimum):")
    for r in rows:
        hs = _pairs(r["hubspot"], r["minimum"]["hubspot"])
        sf = _pairs(r["salesforce"], r["minimum"]["salesforce"])
        print(f"  {r['case']:<12} N={r['size']:<7} HubSpot {hs}; Salesforce {sf}")
    print("\nMinimum formulas:")
    print("\n".join("  " + line for line in (FORMULAS or "").strip().splitlines()))


def _pairs(actual: dict[str, int], minimum: dict[str, int]) -> str:
    keys = list(minimum) + sorted(k for k in actual if k not in minimum)
    return ", ".join(f"{k} {actual.get(k, 0)}/{minimum.get(k, 0)}" for k in keys) or "none"
