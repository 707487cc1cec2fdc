"""The admin commands, run as a person would, against the real database and broker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib

from devstack.waiting import wait_until
from edge.config import parse_config
from edge.link import DeviceLink
from tests.harness import REPO, Stack


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "URBANPULSE_DATABASE_URL": stack.database_url, "URBANPULSE_MQTT_URL": stack.ingest_url()}
    return subprocess.run([sys.executable, "-m", "api", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_device_add_provisions_a_device_that_can_publish_at_once(stack: Stack) -> None:
    reloads = stack.broker.reloads_logged()
    added = _cli(stack, "device", "add", "hcm-q7-0042", "--district", "Quận 7", "--lat", "10.7295", "--lon",
                 "106.7218", "--broker-dir", str(stack.broker.base_dir))  # fmt: skip
    assert added.returncode == 0, added.stderr
    # The command signals the broker and returns; Mosquitto re-reads its accounts at its next turn.
    wait_until(lambda: stack.broker.reloads_logged() > reloads, timeout=60, what="the broker to reload")
    config = parse_config(tomllib.loads(added.stdout))  # what it prints is a valid edge config
    assert config.device_id == "hcm-q7-0042" and config.sensors == ()
    endpoint = config.endpoint
    assert endpoint.username == "hcm-q7-0042" and endpoint.port == stack.broker.port
    link = DeviceLink(endpoint, "hcm-q7-0042")
    link.start()
    assert link.connected.wait(60), f"refused: {link.refused}"  # the reloaded broker knows the new device
    link.stop()
    assert "not authorised" not in stack.broker.log_path.read_text(), "accepted at its first try"

    listed = _cli(stack, "device", "list")
    assert listed.returncode == 0 and re.search(r"hcm-q7-0042\s+0\s+Quận 7", listed.stdout), listed.stdout
    with stack.connect() as conn:
        stored = conn.execute("SELECT credential_hash FROM devices WHERE device_id = 'hcm-q7-0042'").fetchone()
    assert stored is not None and endpoint.password not in stored[0]  # only the hash is kept


def test_invalid_device_ids_are_refused_clearly(stack: Stack) -> None:
    result = _cli(stack, "device", "add", "Bad_ID")
    assert result.returncode == 2 and "invalid device id 'Bad_ID'" in result.stderr
    result = _cli(stack, "device", "add", "hcm-q7-0043", "--metadata", "{crown: 1.4}")
    assert result.returncode == 2 and "--metadata is not valid JSON" in result.stderr


def test_device_add_registers_a_streets_drainage_facts_for_the_flood_outlook(stack: Stack) -> None:
    facts = {"crown_m": 1.42, "drain_mm_h": 30.0, "river_km": 0.3}
    added = _cli(stack, "device", "add", "hcm-bt-0101", "--metadata",
                 json.dumps({"alarm_levels": {"water_level": 0.1}, "drainage": facts}))  # fmt: skip
    assert added.returncode == 0, added.stderr
    with stack.connect() as conn:
        stored = conn.execute("SELECT metadata FROM devices WHERE device_id = 'hcm-bt-0101'").fetchone()
    assert stored is not None and stored[0]["drainage"] == facts and stored[0]["alarm_levels"] == {"water_level": 0.1}


def test_db_migrate_is_idempotent(stack: Stack) -> None:
    result = _cli(stack, "db", "migrate")
    assert result.returncode == 0 and "applied 0 migration(s)" in result.stdout
