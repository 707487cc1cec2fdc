"""The long-running services started as operators start them (``urbanpulse ...``), stopped as
systemd and terminals stop them: each leaves cleanly and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.ports import free_port
from devstack.waiting import wait_until
from storage.registry import register_sensors
from tests.harness import REPO, Stack


def _started(stack: Stack, command: list[str]) -> bool:
    """The service has done its first piece of work, so its signal handling is in place."""
    with stack.connect() as conn:
        match command[0]:
            case "forecast":
                found = conn.execute("SELECT count(*) FROM forecast_runs").fetchone()
            case "alerts":
                found = conn.execute("SELECT count(*) FROM alert_rules").fetchone()
            case _:
                found = conn.execute("SELECT count(*) FROM device_status").fetchone()
    return bool(found and found[0])


@pytest.mark.parametrize(
    ("command", "signum"),
    [(["ingest"], signal.SIGTERM), (["ingest"], signal.SIGINT), (["forecast", "run"], signal.SIGTERM),
     (["alerts", "run"], signal.SIGTERM)],
    ids=["ingest-sigterm", "ingest-sigint", "forecast-sigterm", "alerts-sigterm"],
)  # fmt: skip
def test_services_stop_cleanly_on_signals(stack: Stack, tmp_path: Path, command: list[str], signum: int) -> None:
    env = {**os.environ, "URBANPULSE_DATABASE_URL": stack.database_url, "URBANPULSE_MQTT_URL": stack.ingest_url(),
           "URBANPULSE_INGEST__METRICS_PORT": str(free_port()), "URBANPULSE_FORECAST__EVERY_S": "0.5",
           "URBANPULSE_ALERTS__EVERY_S": "0.5"}  # fmt: skip
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "api", *command], cwd=REPO, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    (device,) = stack.provision(1)
    with stack.connect() as conn:  # a sensor to forecast
        register_sensors(conn, {(device.device_id, "water_level")})
    try:
        if command == ["ingest"]:
            link = stack.link(device)  # its birth message is the ingestor's first piece of work
            link.stop()
        wait_until(lambda: _started(stack, command), timeout=60, what=f"urbanpulse {' '.join(command)} to work")
        process.send_signal(signum)
        status = process.wait(timeout=120)  # a hang guard, not a pace: a cycle under way ends first
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert status == 0, log.read_text()[-3000:]
    assert "stopping cleanly" in log.read_text()
