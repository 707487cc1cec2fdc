"""The demo stopped the ways people and machines stop it: Ctrl-C typed into a real terminal (a
pseudo-terminal, so the kernel signals the whole foreground process group) and SIGTERM (systemd,
``timeout``). Either way it exits 0 within 10 s, leaves no server running and has stored every
reading it published."""

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


def _server_pids(data_dir: Path) -> list[int]:
    """The private servers' process ids, from the files they (or we) write."""
    files = [data_dir / "mosquitto" / "broker.pid", data_dir / "postgres" / "pgdata" / "postmaster.pid"]
    return [int(f.read_text().split()[0]) for f in files if f.exists()]


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped (state Z in /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.parametrize("how", ["ctrl-c-in-a-terminal", "sigterm"])
def test_the_demo_stops_cleanly_stores_what_it_published_and_leaves_no_server(workdir: Path, how: str) -> None:
    data_dir, summary_path = workdir / ".urbanpulse", workdir / "summary.json"
    demo = ["-m", "api", "demo", "--sites", "4", "--speed", "600", "--duration", "900", "--history-days", "1",
            "--data-dir", str(data_dir), "--summary-json", str(summary_path)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    output = bytearray()
    if how == "ctrl-c-in-a-terminal":
        terminal, child_side = pty.openpty()
        process = subprocess.Popen([sys.executable, "-c", IN_A_TERMINAL, *demo], stdin=child_side, stdout=child_side,
                                   stderr=child_side, cwd=REPO, env=env)  # fmt: skip
        os.close(child_side)
        source = terminal
    else:
        process = subprocess.Popen([sys.executable, *demo], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO,
                                   env=env)  # fmt: skip
        assert process.stdout is not None
        source = process.stdout.fileno()
    reader = threading.Thread(target=_read_all, args=(source, output), daemon=True)
    reader.start()
    try:
        wait_until(lambda: re.search(rb"stored\s+[1-9]", output) and len(_server_pids(data_dir)) == 2, timeout=240,
                   what="the demo to be publishing and storing")  # fmt: skip
        servers = _server_pids(data_dir)
        if how == "ctrl-c-in-a-terminal":
            os.write(terminal, b"\x03")  # the terminal's interrupt character: SIGINT to the foreground group
        else:
            process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        else:
            os.close(terminal)
    text = output.decode(errors="replace")
    assert status == 0, text[-3000:]
    # PostgreSQL removes its pid file a moment before its process ends: allow that moment.
    wait_until(lambda: not [pid for pid in servers if _alive(pid)], timeout=5, what="no private server left")
    summary = json.loads(summary_path.read_text())
    assert summary["readings_published"] > 0
    assert summary["readings_stored"] + summary["duplicates_ignored"] == summary["readings_published"], summary
    assert "stopping cleanly" in text


def _read_all(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's other side closed (EIO)
            return
        if not chunk:
            return
        into += chunk
