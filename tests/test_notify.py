"""sd_notify: datagrams on $NOTIFY_SOCKET (path or abstract), nothing without it."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from syncd.service.notify import Notifier


@pytest.fixture
def path_socket(tmp_path: Path):
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield str(path), sock
    sock.close()


def test_messages_reach_a_filesystem_socket_as_key_value_lines(path_socket):
    address, sock = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.ready(status="started; every 15 min")
    assert sock.recv(4096) == b"READY=1\nSTATUS=started; every 15 min"
    assert notifier.watchdog() and sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping() and sock.recv(4096) == b"STOPPING=1"
    # the shutdown bound plus a margin, asked of systemd (>= 236) as the stop begins
    assert notifier.stopping(status="stopping", extend_seconds=3615)
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=stopping\nEXTEND_TIMEOUT_USEC=3615000000"
    assert notifier.reloading() and sock.recv(4096).startswith(b"RELOADING=1\nMONOTONIC_USEC=")


def test_an_at_sign_names_an_abstract_socket():
    name = f"syncd-notify-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).status("syncing")
        assert sock.recv(4096) == b"STATUS=syncing"


def test_without_notify_socket_every_call_is_a_no_op():
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    assert notifier.ready() is False and notifier.watchdog() is False


@pytest.mark.parametrize("env, interval", [
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),      # meant for another process
    ({"WATCHDOG_USEC": "0"}, None),
], ids=["half-of-watchdogsec", "our-pid", "another-pid", "disabled"])
def test_the_watchdog_is_pinged_at_half_its_timeout_and_only_when_meant_for_us(env, interval):
    assert Notifier(env).watchdog_interval == interval


def test_a_dead_socket_is_reported_once_and_never_raises(tmp_path):
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.watchdog() is False and notifier.watchdog() is False
