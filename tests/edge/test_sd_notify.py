from __future__ import annotations

import socket
from pathlib import Path

from edge.sd_notify import Notifier


def test_ready_and_rate_limited_watchdog_reach_the_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "60000000"})
        assert notifier.ready() and server.recv(64) == b"READY=1"
        assert notifier.watchdog() and server.recv(64) == b"WATCHDOG=1"
        assert not notifier.watchdog()  # 30 s have not passed


def test_without_systemd_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and not notifier.ready() and not notifier.watchdog()
