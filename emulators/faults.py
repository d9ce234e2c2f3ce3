"""Injected faults, shared by both emulators: "the next N requests matching this answer so".

Tests and the benchmark use them to model outages, rate limiting and bad responses mid-run.
Each emulator turns a taken ``Fault`` into a response in its own dialect (default bodies differ).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    method: str | None          # None: any method
    path_contains: str
    status: int
    body: Any
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 0              # matching requests let through before the fault starts


class FaultQueue:
    """Armed faults, first armed first matched; thread-safe on its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def arm(self, method: str | None, path_contains: str, status: int, body: Any = None, times: int = 1,
            headers: dict[str, str] | None = None, after: int = 0) -> None:
        with self._lock:
            self._faults.append(Fault(None if method in (None, "*") else method.upper(), path_contains,
                                      int(status), body, int(times), dict(headers or {}), int(after)))

    def take(self, method: str, path: str) -> Fault | None:
        """The fault this request meets (counting it down), or None."""
        with self._lock:
            for fault in self._faults:
                if (fault.method is None or fault.method == method) and fault.path_contains in path \
                        and fault.times > 0:
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
