"""Logging, configured once: structlog JSON lines for log shippers, a console renderer on a TTY.

Every line passes the secret scrubber: any configured secret value (tokens, client secret,
private key, database password) is replaced by "***" wherever it appears, and so are values of
keys that name a credential. Standard-library loggers (urllib3, apscheduler) go through the same
pipeline. The HubSpot SDK logs whole response bodies (personal data) at DEBUG, so its loggers
and urllib3's stay at WARNING whatever the level.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, Callable, TextIO
from urllib.parse import quote, quote_plus

import structlog

_SECRET_KEY = re.compile(r"(token|secret|password|passwd|authorization|assertion|private_key|api_key)", re.I)
QUIET_LOGGERS = ("hubspot", "urllib3", "simple_salesforce", "werkzeug", "apscheduler.executors.default")
MASK = "***"


def _forms(secret: str) -> set[str]:
    """The ways a secret can show up in text: as is, escaped in JSON or a Python repr (a
    traceback), URL-encoded (a form body or query string), base64 (a Basic header, an encoded
    blob), and each long line of a multi-line secret (a PEM key)."""
    raw = secret.encode("utf-8", "surrogatepass")
    forms = {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], repr(raw)[2:-1],
             quote(secret, safe=""), quote_plus(secret), base64.b64encode(raw).decode(),
             base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("=")}
    forms |= {line.strip() for line in secret.splitlines() if len(line.strip()) >= 16}
    return forms


class SecretScrubber:
    """structlog processor: remove secret values from every string in the event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        forms = {form for secret in secrets if secret for form in _forms(secret)}
        self.secrets = sorted({s for s in forms if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every form of every secret masked: for text that bypasses structlog
        (a traceback printed on the way out)."""
        return self._clean(text)

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
        # A plain traceback, as text, before the scrubber sees the event: the console renderer's
        # own (rich) tracebacks would show every frame's locals, secrets included, unscrubbed.
        shared.append(structlog.processors.format_exc_info)
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
