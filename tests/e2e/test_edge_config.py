"""Remote configuration through the real broker: applied without restart and acknowledged; a bad
one refused with a reason while the device keeps its current settings."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from devstack.waiting import wait_until
from edge import protocol
from edge.agent import Agent, SensorSchedule
from edge.forwarder import Forwarder
from edge.store import ReadingStore
from ingest.remote_config import push_config
from tests.e2e.test_edge_outage import FastClock, Ramp
from tests.harness import REPO, Stack


def _config_answer(stack: Stack, device_id: str) -> tuple[int, str, str] | None:
    with stack.connect() as conn:
        return conn.execute(
            "SELECT config_version, config_status, config_reason FROM device_status WHERE device_id = %s",
            (device_id,),
        ).fetchone()


def test_remote_config_is_applied_acknowledged_and_a_bad_one_refused(stack: Stack, tmp_path: Path) -> None:
    (device,) = stack.provision(1)
    stack.start_ingestor()
    link = stack.link(device)
    store = ReadingStore(tmp_path / "queue.db")
    agent = Agent(
        [SensorSchedule("water_level", 1.0, Ramp()), SensorSchedule("rainfall", 1.0, Ramp())],
        store, Forwarder(store, link), FastClock(time.time() - 7200), link=link,
    )  # fmt: skip
    env = {**os.environ, "URBANPULSE_DATABASE_URL": stack.database_url, "URBANPULSE_MQTT_URL": stack.ingest_url()}
    pushed = subprocess.run(
        [sys.executable, "-m", "api", "device", "configure", device.device_id, "--interval", "rainfall=5",
         "--disable", "water_level"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr

    def applied() -> bool:
        agent.step()
        return agent.config_version is not None

    wait_until(applied, timeout=30, what="the device to apply the config")
    version = agent.config_version
    before = agent.readings_taken
    for _ in range(100):  # 200 simulated seconds: rainfall every 5 s, no water level
        agent.step()
    assert 38 <= agent.readings_taken - before <= 42
    wait_until(lambda: _config_answer(stack, device.device_id) == (version, "applied", ""), timeout=30,
               what="the ingestor to record the device's answer")  # fmt: skip

    bad = protocol.RemoteConfig(version + 1, {"traffic_count": protocol.SensorSetting(enabled=False)})  # type: ignore[operator]
    push_config(protocol.parse_mqtt_url(stack.ingest_url()), device.device_id, bad)

    def answered() -> tuple[int, str, str] | None:
        agent.step()
        answer = _config_answer(stack, device.device_id)
        return answer if answer and answer[1] == "rejected" else None

    refused = wait_until(answered, timeout=30, what="the device to refuse the bad config")
    assert version is not None and refused[0] == version + 1 and "traffic_count" in refused[2]
    assert agent.config_version == version  # the working config stays
    link.stop()
    store.close()
