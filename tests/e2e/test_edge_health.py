"""Device health end to end: birth message and Last Will in the registry, heartbeats stored,
evictions during an outage visible to the operations centre."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.waiting import wait_until
from edge import protocol
from edge.agent import Agent, SensorSchedule
from edge.forwarder import Forwarder
from edge.heartbeat import HeartbeatSender
from edge.store import ReadingStore
from tests.e2e.test_edge_outage import FastClock, Ramp
from tests.harness import REPO, Stack


def _state(stack: Stack, device_id: str) -> str | None:
    with stack.connect() as conn:
        row = conn.execute("SELECT state FROM device_status WHERE device_id = %s", (device_id,)).fetchone()
    return row[0] if row else None


def _heartbeats(stack: Stack, device_id: str) -> list[tuple[int, int, str]]:
    with stack.connect() as conn:
        return conn.execute(
            "SELECT queue_depth, evicted_total, clock FROM device_heartbeats WHERE device_id = %s ORDER BY time",
            (device_id,),
        ).fetchall()


def test_agent_birth_heartbeat_and_last_will(stack: Stack, tmp_path: Path) -> None:
    (device,) = stack.provision(1)
    stack.start_ingestor()
    config = tmp_path / "edge.toml"
    config.write_text(
        f'device_id = "{device.device_id}"\n'
        f'mqtt_url = "mqtt://{device.device_id}:{device.password}@127.0.0.1:{stack.broker.port}"\n'
        f'[queue]\npath = "{tmp_path / "queue.db"}"\n[health]\nheartbeat_s = 0.2\n'
        '[[sensors]]\nname = "rainfall"\ndriver = "tests.edge.plugin_drivers:LoggedRamp"\ninterval_s = 0.1\n'
        f'[sensors.options]\nlog = "{tmp_path / "sampled.txt"}"\nlimit = 1000\n'
    )
    agent = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config)], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until(lambda: _state(stack, device.device_id) == "online", timeout=30, what="the birth message")
        wait_until(lambda: len(_heartbeats(stack, device.device_id)) >= 2, timeout=30, what="heartbeats")
        _, evicted, clock = _heartbeats(stack, device.device_id)[-1]
        assert evicted == 0 and clock in (protocol.CLOCK_SYNCED, protocol.CLOCK_UNSYNCED)
    finally:
        agent.send_signal(signal.SIGKILL)  # no goodbye: the broker must send the Last Will
        agent.wait(timeout=10)
    wait_until(lambda: _state(stack, device.device_id) == "offline", timeout=30, what="the Last Will")


def test_evictions_during_an_outage_reach_the_heartbeat(stack: Stack, tmp_path: Path) -> None:
    (device,) = stack.provision(1)
    stack.start_ingestor()
    link = stack.link(device)
    store = ReadingStore(tmp_path / "queue.db", max_readings=100)
    forwarder = Forwarder(store, link)
    heartbeat = HeartbeatSender(link, store, forwarder, interval_s=3600)
    clock = FastClock(time.time() - 3600)
    agent = Agent([SensorSchedule("water_level", 1.0, Ramp())], store, forwarder, clock, heartbeat)
    stack.broker.stop()
    wait_until(lambda: not link.connected.is_set(), timeout=60, what="the link to drop")
    for _ in range(500):
        agent.step()
    assert store.stats().evicted_total > 0
    stack.broker.start()
    # paho tries again after 1, 2, 4, ... up to 30 s: a long outage on a busy machine waits the longest
    wait_until(link.connected.is_set, timeout=120, what="the link to come back")
    assert heartbeat.maybe_send(time.time(), agent.readings_held, protocol.CLOCK_SYNCED)
    wait_until(lambda: _heartbeats(stack, device.device_id), timeout=60, what="the heartbeat")
    (depth, evicted, _), *_ = _heartbeats(stack, device.device_id)
    assert evicted == store.stats().evicted_total and depth <= 100
    link.stop()
    store.close()


def test_readings_are_held_while_the_clock_is_implausible(stack: Stack, tmp_path: Path) -> None:
    (device,) = stack.provision(1)
    link = stack.link(device)
    store = ReadingStore(tmp_path / "queue.db")
    agent = Agent([SensorSchedule("rainfall", 1.0, Ramp())], store, Forwarder(store, link), FastClock(5.0))
    for _ in range(20):  # a Pi that booted without network: its clock says 1970
        agent.step()
    assert agent.readings_held > 0 and agent.readings_taken == 0 and store.stats().depth == 0
    link.stop()
    store.close()
