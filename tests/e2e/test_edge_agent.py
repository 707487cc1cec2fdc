"""``python -m edge`` as a real process: killed with SIGKILL while draining its backlog, it loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.ports import free_port
from devstack.waiting import wait_until
from tests.harness import REPO, Stack

READINGS = 300
STOP_S = 60  # a hang guard for a clean stop, not a pace


def _start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config)], cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _stop(agent: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM and a clean exit; if it hangs, its threads' stacks (SIGUSR1) go into the failure."""
    agent.send_signal(signal.SIGTERM)
    try:
        assert agent.wait(timeout=STOP_S) == 0
    except subprocess.TimeoutExpired:
        agent.send_signal(signal.SIGUSR1)
        wait_until(lambda: "Thread 0x" in log.read_text(errors="replace"), timeout=30, what="the stack dump")
        agent.kill()
        agent.wait(timeout=10)
        pytest.fail(f"the agent did not stop within {STOP_S} s of SIGTERM:\n" + log.read_text(errors="replace")[-6000:])


@pytest.mark.parametrize("restart_ingest", [False, True], ids=["agent-killed", "agent-killed-and-ingest-restarted"])
def test_agent_killed_mid_drain_loses_nothing(stack: Stack, tmp_path: Path, restart_ingest: bool) -> None:
    """The restarted agent takes over its own stale session (same client id, old socket maybe not yet
    noticed by the broker); optionally the ingestor is killed and restarted too while the agent drains."""
    (device,) = stack.provision(1)
    stack.start_ingestor()
    truth = tmp_path / "sampled.txt"
    config = tmp_path / "edge.toml"
    config.write_text(
        f'device_id = "{device.device_id}"\n'
        f'mqtt_url = "mqtt://{device.device_id}:{device.password}@127.0.0.1:{stack.broker.port}"\n'
        f'[queue]\npath = "{tmp_path / "queue.db"}"\n'
        "[forward]\nreadings_per_message = 10\nmax_in_flight = 2\ndrain_max_readings_per_s = 100\n"
        '[[sensors]]\nname = "water_level"\ndriver = "tests.edge.plugin_drivers:LoggedRamp"\ninterval_s = 0.005\n'
        f'[sensors.options]\nlog = "{truth}"\nlimit = {READINGS}\n'
    )
    stack.broker.stop()  # the whole sampling run happens during an outage
    agent = _start_agent(config, tmp_path / "agent.log")
    wait_until(lambda: len(_lines(truth)) == READINGS, timeout=60, what="the agent to take every reading")
    stack.broker.start()
    wait_until(lambda: stack.rows() >= 60, timeout=60, what="the drain to start")
    agent.send_signal(signal.SIGKILL)
    agent.wait(timeout=10)
    assert stack.rows() < READINGS, "the kill must land in the middle of the drain"

    agent = _start_agent(config, tmp_path / "agent.log")  # at once: the broker may still hold the old session
    try:
        if restart_ingest:
            wait_until(lambda: stack.rows() > 100, timeout=60, what="the drain to resume")
            stack.ingestors[-1].kill9()
            assert stack.rows() < READINGS, "the ingestor restart must land in the middle of the drain"
            stack.start_ingestor(wait_subscribed=False)
        stack.wait_rows(READINGS, timeout=60)
    finally:
        _stop(agent, tmp_path / "agent.log")
    sampled = {float(line.split()[0]) for line in _lines(truth)}
    with stack.connect() as conn:
        stored = {row[0] for row in conn.execute("SELECT extract(epoch FROM time)::float8 FROM readings")}
    assert len(stored) == READINGS
    assert max(abs(a - b) for a, b in zip(sorted(sampled), sorted(stored), strict=True)) < 1e-5
    assert os.path.exists(tmp_path / "queue.db")


def test_sigusr1_prints_every_threads_stack_and_the_agent_keeps_running(tmp_path: Path) -> None:
    """How a hung device is diagnosed in the field: the dump must not stop it, SIGTERM still must."""
    config = tmp_path / "edge.toml"
    config.write_text(  # no broker listens there: the agent keeps its readings on disk meanwhile
        f'device_id = "gauge-1"\nmqtt_url = "mqtt://gauge-1:secret@127.0.0.1:{free_port()}"\n'
        f'[queue]\npath = "{tmp_path / "queue.db"}"\n'
        '[[sensors]]\nname = "water_level"\ndriver = "tests.edge.plugin_drivers:LoggedRamp"\ninterval_s = 0.05\n'
        f'[sensors.options]\nlog = "{tmp_path / "sampled.txt"}"\nlimit = 1000\n'
    )
    log = tmp_path / "agent.log"
    agent = _start_agent(config, log)
    wait_until(lambda: len(_lines(tmp_path / "sampled.txt")) > 0, timeout=60, what="the agent to sample")
    agent.send_signal(signal.SIGUSR1)
    wait_until(lambda: "Thread 0x" in log.read_text(errors="replace"), timeout=30, what="the stack dump")
    taken = len(_lines(tmp_path / "sampled.txt"))
    wait_until(lambda: len(_lines(tmp_path / "sampled.txt")) > taken, timeout=60, what="sampling to go on")
    _stop(agent, log)
    assert "stopped" in log.read_text(errors="replace")
