"""One line of `syncd doctor`: a check, its status, what it found and, on failure, the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

OK, WARN, FAIL, SKIPPED = "ok", "warn", "FAIL", "skipped"


@dataclass(frozen=True)
class Line:
    check: str              # e.g. "hubspot.token"
    status: str             # OK, WARN, FAIL or SKIPPED
    detail: str             # what was found (never a secret)
    fix: str = ""           # on FAIL (and some warnings): what to do
    exit_code: int = 0      # on FAIL: the README exit code this failure means

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if k != "exit_code"}


def ok(check: str, detail: str) -> Line:
    return Line(check, OK, detail)


def warn(check: str, detail: str, fix: str = "") -> Line:
    return Line(check, WARN, detail, fix)


def failed(check: str, detail: str, fix: str, exit_code: int) -> Line:
    return Line(check, FAIL, detail, fix, exit_code)


def skipped(check: str, needs: str) -> Line:
    return Line(check, SKIPPED, f"needs {needs}")


# The most serious failure decides the exit code: the state store (7) before a remote system (5)
# before the config or mapping (4).
_SEVERITY = (7, 5, 4)


def exit_code(lines: list[Line]) -> int:
    codes = {line.exit_code for line in lines if line.status == FAIL}
    return next((code for code in _SEVERITY if code in codes), max(codes, default=0))
