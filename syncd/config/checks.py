"""Checks on single setting values, in plain words. Each raises ValueError with the words an
admin should read; none quotes the value it rejects (it may be a secret)."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MIN_API_VERSION = 46.0                                    # sObject Collections upsert
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def https_url(value: str, example: str) -> str:
    """https only; plain http only to this machine, for emulators and local testing."""
    value = value.strip()
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - reading it raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"has an invalid port; expected a URL like {example}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"must be a URL starting with https://, like {example}")
    if parts.username or parts.password:
        raise ValueError("must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("must not contain '?' or '#'")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError("must use https:// - plain http would send credentials unencrypted; "
                         "http:// is only allowed for 127.0.0.1, localhost or [::1] (local "
                         "testing)")
    return value.rstrip("/")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")


def secret_text(value: Any, *, multiline: bool = False) -> Any:
    """A secret must be one line of printable text (a PEM key: lines). A newline or another control
    character is a second value pasted in, or a damaged file; sent as it is, it would break the
    HTTP header it goes into and show up in the error. Where it is is said; what it is, never."""
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    if isinstance(text, str):
        bad = (_CONTROL_BUT_LINES if multiline else _CONTROL).search(text)
        if bad:
            what = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}.get(bad.group(),
                                                                                         "a control character")
            raise ValueError(f"contains {what} at character {bad.start() + 1} of {len(text)}; a secret must be "
                             "a single line (is there a second value, or a stray line, in the file?)")
    return value


def existing_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise ValueError(f"{what} not found: {path}")
    if not path.is_file():
        raise ValueError(f"{what} is not a file: {path}")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{what} is not readable by the user running syncd: {path}")
    return path


def api_version(value: Any) -> str:
    """``62.0``, ``"62.0"``, ``62`` or ``"v62.0"`` (copied from a URL) -> ``"62.0"``."""
    bad = 'must be a Salesforce API version like "62.0"'
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(bad)
    text = str(float(value)) if isinstance(value, int | float) else value.strip().lstrip("vV")
    match = re.fullmatch(r"(\d{1,3})(?:\.(\d{1,2}))?", text)
    if not match:
        raise ValueError(bad)
    version = f"{int(match[1])}.{int(match[2] or 0)}"
    if float(version) < MIN_API_VERSION:
        raise ValueError(f"is {version}; must be {MIN_API_VERSION} or newer (syncd needs "
                         "sObject Collections upsert)")
    return version


def database_url(url: str) -> None:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "sqlite":
        if url != "sqlite://" and not url.startswith("sqlite:////"):
            raise ValueError("a sqlite path must be absolute: sqlite:////var/lib/syncd/"
                             "syncd.db (four slashes)")
    elif scheme not in ("postgresql", "postgresql+psycopg"):
        raise ValueError("must start with sqlite:/// or postgresql+psycopg://")


def listen_address(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` or ``"[::1]:9464"`` -> (host, port)."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([A-Za-z0-9.-]+):(\d{1,5})", value)
    if not match:
        raise ValueError('must be host:port, like "127.0.0.1:9464" or "[::1]:9464"')
    host, port = (match[1], match[2]) if match[1] else (match[3], match[4])
    if match[1]:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("is not a valid IPv6 address") from None
    if not 1 <= int(port) <= 65535:
        raise ValueError("port must be between 1 and 65535")
    return host, int(port)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def cron(value: str) -> None:
    from apscheduler.triggers.cron import CronTrigger   # heavy import; only when used
    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"is not a valid cron expression ({exc}); expected 5 fields: "
                         "minute hour day-of-month month day-of-week") from None
