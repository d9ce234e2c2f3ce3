"""Logging, configured once: structlog JSON lines for log shippers, a console renderer on a TTY.

Every line passes the secret scrubber: any configured secret value (tokens, client secret,
private key, database password) is replaced by "***" wherever it appears, and so are values of
keys that name a credential. Standard-library loggers (urllib3, apscheduler) go through the same
pipeline. The HubSpot SDK logs whole response bodies (personal data) at DEBUG, so its loggers
and urllib3's stay at WARNING whatever the level.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, Callable, TextIO

import structlog

_SECRET_KEY = re.compile(r"(token|secret|password|passwd|authorization|assertion|private_key|api_key)", re.I)
QUIET_LOGGERS = ("hubspot", "urllib3", "simple_salesforce", "werkzeug", "apscheduler.executors.default")
MASK = "***"


class SecretScrubber:
    """structlog processor: remove secret values from every string in the event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, MASK)
            return value
        if isinstance(value, dict):
            return {k: (MASK if isinstance(k, str) and _SECRET_KEY.search(k) and v else self._clean(v))
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._clean(v) for v in value)
        return value

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        return self._clean(event_dict)


SCRUBBER = SecretScrubber()


class _LateStreamLogger:
    """Writes to the stream current at call time (rich's live display swaps sys.stderr)."""

    def __init__(self, stream: Callable[[], TextIO]) -> None:
        self._stream = stream

    def msg(self, message: str) -> None:
        stream = self._stream()
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def use_console(fmt: str, stream: TextIO | None = None) -> bool:
    if fmt == "console":
        return True
    if fmt == "json":
        return False
    target = stream or sys.stderr
    return bool(getattr(target, "isatty", lambda: False)())


def configure_logging(fmt: str = "auto", level: str = "info", secrets: Iterable[str] = ()) -> bool:
    """Configure structlog and the stdlib root logger. Returns True when rendering for a human."""
    SCRUBBER.set_secrets(secrets)
    console = use_console(fmt)
    numeric_level = getattr(logging, level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if console:
        renderer: Any = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        stream: Callable[[], TextIO] = lambda: sys.stderr  # noqa: E731 - looked up per line
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=False, default=str)
        stream = lambda: sys.stdout  # noqa: E731
        # Structured tracebacks, but without local variables: structlog shows them by default, and
        # a cycle's locals hold contacts (personal data) and, cut to 80 characters, secrets that
        # the scrubber could no longer recognise.
        shared.append(structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)))
    structlog.configure(
        processors=[*shared, SCRUBBER, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=lambda *_: _LateStreamLogger(stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, SCRUBBER, renderer],
    ))
    handler.stream = sys.stderr if console else sys.stdout
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric_level))
    return console
