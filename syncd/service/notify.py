"""sd_notify(3) without a dependency: tell systemd we are ready, how we are doing, that we are
alive (watchdog) and that we are stopping (and how long that may take).

systemd passes ``NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for an abstract socket) to a
``Type=notify`` service; each message is one datagram of ``KEY=value`` lines. Without the
variable (a terminal, a container without systemd) every call is a no-op.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger("syncd.notify")


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET") or None
        # An abstract socket's name starts with a NUL byte; systemd writes it as '@'.
        self.address = "\0" + address[1:] if address and address.startswith("@") else address
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        mine = not pid or (pid.isdigit() and int(pid) == os.getpid())
        self.watchdog_usec = int(usec) if usec.isdigit() and int(usec) > 0 and mine else None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings: half of WatchdogSec=, as sd_watchdog_enabled(3) advises."""
        return self.watchdog_usec / 2_000_000 if self.watchdog_usec else None

    def send(self, **fields: object) -> bool:
        if self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except OSError as exc:
            if not self._warned:          # once: a broken socket would otherwise log every ping
                self._warned = True
                log.warning("notify.failed", error=f"{type(exc).__name__}: {exc.strerror or exc}")
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the reload to its request.
        return self.send(RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)

    def stopping(self, status: str | None = None, extend_seconds: float | None = None) -> bool:
        """STOPPING=1; ``extend_seconds`` asks for that long from now to finish (EXTEND_TIMEOUT_USEC=,
        systemd >= 236), so a shutdown bound longer than the unit's TimeoutStopSec= is honoured.
        systemd only ever lengthens the timeout with it, and older versions ignore it."""
        extend = {"EXTEND_TIMEOUT_USEC": round(extend_seconds * 1_000_000)} if extend_seconds else {}
        return self.send(STOPPING=1, **({"STATUS": status} if status else {}), **extend)
