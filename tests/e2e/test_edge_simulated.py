"""The simulated driver through the real agent process: ``urbanpulse edge`` with ``driver = "simulated"``."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.harness import REPO, Stack


def test_urbanpulse_edge_runs_simulated_sensors_end_to_end(stack: Stack, tmp_path: Path) -> None:
    (device,) = stack.provision(1)
    stack.start_ingestor()
    config = tmp_path / "edge.toml"
    sensors = "".join(
        f'[[sensors]]\nname = "{kind}"\ndriver = "simulated"\ninterval_s = 0.05\noptions = {{ kind = "{kind}" }}\n'
        for kind in ("water_level", "rainfall", "traffic_count", "traffic_speed")
    )
    config.write_text(
        f'device_id = "{device.device_id}"\n'
        f'mqtt_url = "mqtt://{device.device_id}:{device.password}@127.0.0.1:{stack.broker.port}"\n'
        f'[queue]\npath = "{tmp_path / "queue.db"}"\n' + sensors
    )
    agent = subprocess.Popen([sys.executable, "-m", "api", "edge", "--config", str(config)], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        stack.wait_rows(40, timeout=60)
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0  # a hang guard, not a pace
    with stack.connect() as conn:
        query = "SELECT s.kind, count(*) FROM readings r JOIN sensors s USING (sensor_id) GROUP BY 1"
        kinds: dict[str, int] = dict(conn.execute(query).fetchall())
        flags = {qc for (qc,) in conn.execute("SELECT DISTINCT qc FROM readings")}
    assert set(kinds) == {"water_level", "rainfall", "traffic_count", "traffic_speed"}
    assert flags <= {1, 3}  # plausible values, not absurd ones
