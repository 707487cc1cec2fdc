"""The demo stopped the ways people and machines stop it: Ctrl-C typed into a real terminal (a
pseudo-terminal, so the kernel signals the whole foreground process group) and SIGTERM (systemd,
``timeout``). Either way it exits 0 (once its drain is done), leaves no server running and has stored every
reading it published. A demo killed outright (SIGKILL: nothing runs) leaves its servers; the next
start in that folder stops them."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.simulation.live import FORECAST_DRAIN_S
from devstack.stack import LocalStack
from devstack.waiting import wait_until
from tests.harness import REPO

# Becomes a session leader with the pseudo-terminal as its controlling terminal, then runs the demo:
# exactly what a shell in a terminal window does for a foreground command.
IN_A_TERMINAL = (
    "import fcntl, os, sys, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="urbanpulse-demo-"))
    path.chmod(0o755)  # reachable by the postgres/mosquitto accounts when run as root
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Demo:
    """``urbanpulse demo`` as a child process, in a pseudo-terminal or on a pipe, its output collected."""

    def __init__(self, workdir: Path, in_a_terminal: bool) -> None:
        self.data_dir, self.summary_path = workdir / ".urbanpulse", workdir / "summary.json"
        demo = ["-m", "api", "demo", "--sites", "4", "--speed", "600", "--duration", "900", "--history-days", "1",
                "--data-dir", str(self.data_dir), "--summary-json", str(self.summary_path)]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.output = bytearray()
        self.terminal: int | None = None
        if in_a_terminal:
            self.terminal, child_side = pty.openpty()
            self.process = subprocess.Popen([sys.executable, "-c", IN_A_TERMINAL, *demo], stdin=child_side,
                                            stdout=child_side, stderr=child_side, cwd=REPO, env=env)  # fmt: skip
            os.close(child_side)
            source = self.terminal
        else:
            self.process = subprocess.Popen([sys.executable, *demo], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            cwd=REPO, env=env)  # fmt: skip
            assert self.process.stdout is not None
            source = self.process.stdout.fileno()
        self._reader = threading.Thread(target=self._read_all, args=(source,), daemon=True)
        self._reader.start()

    def _read_all(self, fd: int) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal's other side closed (EIO)
                return
            if not chunk:
                return
            self.output += chunk

    def wait_publishing(self) -> list[int]:
        """Once readings are being stored: the private servers' process ids."""
        wait_until(lambda: re.search(rb"stored\s+[1-9]", self.output) and len(self.server_pids()) == 2, timeout=240,
                   what="the demo to be publishing and storing")  # fmt: skip
        return self.server_pids()

    def server_pids(self) -> list[int]:
        files = [self.data_dir / "mosquitto" / "broker.pid", self.data_dir / "postgres" / "pgdata" / "postmaster.pid"]
        return [int(f.read_text().split()[0]) for f in files if f.exists()]

    def close(self) -> str:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.terminal is not None:
            os.close(self.terminal)
        return self.output.decode(errors="replace")


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped (state Z in /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.parametrize("how", ["ctrl-c-in-a-terminal", "sigterm"])
@pytest.mark.timeout(1500)  # a hang guard: the demo's start (up to 240 s) and its drain on a shared machine
def test_the_demo_stops_cleanly_stores_what_it_published_and_leaves_no_server(workdir: Path, how: str) -> None:
    demo = Demo(workdir, in_a_terminal=how == "ctrl-c-in-a-terminal")
    try:
        servers = demo.wait_publishing()
        if demo.terminal is not None:
            os.write(demo.terminal, b"\x03")  # the terminal's interrupt character: SIGINT to the foreground group
        else:
            demo.process.send_signal(signal.SIGTERM)
        # It waits for the last receipts and up to FORECAST_DRAIN_S for the forecasts still owed: a hang
        # guard, not a pace.
        status = demo.process.wait(timeout=FORECAST_DRAIN_S + 300)
    finally:
        text = demo.close()
    assert status == 0, text[-3000:]
    # PostgreSQL removes its pid file a moment before its process ends: allow that moment.
    wait_until(lambda: not [pid for pid in servers if _alive(pid)], timeout=30, what="no private server left")
    summary = json.loads(demo.summary_path.read_text())
    assert summary["readings_published"] > 0
    assert summary["readings_stored"] + summary["duplicates_ignored"] == summary["readings_published"], summary
    assert "stopping cleanly" in text


@pytest.mark.timeout(900)  # a hang guard: the demo's start alone may take 240 s on a shared machine
def test_servers_a_killed_demo_left_behind_are_stopped_by_the_next_start(workdir: Path) -> None:
    demo = Demo(workdir, in_a_terminal=False)
    try:
        servers = demo.wait_publishing()
        demo.process.kill()  # SIGKILL: no handler runs, nothing is stopped
        demo.process.wait(timeout=10)
    finally:
        demo.close()
    assert all(_alive(pid) for pid in servers), "the servers outlive a killed demo"
    stack = LocalStack.start(demo.data_dir, durable=False)  # what the next `urbanpulse demo` does first
    try:
        wait_until(lambda: not [pid for pid in servers if _alive(pid)], timeout=30, what="the old servers to stop")
        assert set(demo.server_pids()).isdisjoint(servers)
    finally:
        stack.stop()
