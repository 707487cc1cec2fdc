"""The virtual city through real MQTT into the database: what is stored is what the ground truth says was sent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from devstack.waiting import wait_until
from simulators import run, scenarios
from simulators.emission import Action, Outgoing
from simulators.faults import FaultKind
from simulators.sites import city_sites
from simulators.truth import GroundTruth
from tests.harness import REPO, Stack

STEP = 300.0


def test_a_faulty_fleet_run_stores_exactly_what_the_ground_truth_says_was_sent(stack: Stack) -> None:
    sites = tuple(city_sites(20))
    start = (time.time() - 8 * 3600) // STEP * STEP  # recent, so the ingestor's age limit admits it
    config = scenarios.scenario_config("sensor-faults", sites, start, hours=6, step_s=STEP, seed=3)
    devices = stack.provision_ids([s.site_id for s in sites])
    stack.start_ingestor()
    fleet = stack.fleet(devices)
    try:
        truth = run.run(config, fleet.send, speed=0, scenario="sensor-faults")
        assert fleet.wait_acknowledged(timeout=180)  # the whole run was published at once
    finally:
        fleet.stop()
    expected = int(np.isfinite(truth.delivered).sum())
    stack.wait_rows(expected)

    with stack.connect() as conn:
        rows = conn.execute(
            "SELECT s.device_id || '/' || s.name, extract(epoch FROM r.time)::float8, r.value "
            "FROM readings r JOIN sensors s USING (sensor_id)"
        ).fetchall()
    stored = {(name, round(t), round(v, 3)) for name, t, v in rows}
    sent = {
        (name, round(float(truth.times[k] + truth.time_offset_s[i, k])), round(float(truth.delivered[i, k]), 3))
        for i, name in enumerate(truth.sensors)
        for k in np.flatnonzero(np.isfinite(truth.delivered[i]))
    }
    assert len(rows) == expected and stored == sent
    with stack.connect() as conn:  # the map's newest value per sensor, kept through duplicates and late readings
        differ = conn.execute(
            """SELECT count(*) FROM (SELECT DISTINCT ON (sensor_id) sensor_id, time, value, qc FROM readings
                                     ORDER BY sensor_id, time DESC) newest
               FULL JOIN sensor_latest kept USING (sensor_id)
               WHERE (kept.time, kept.value, kept.qc) IS DISTINCT FROM (newest.time, newest.value, newest.qc)"""
        ).fetchone()
    assert differ == (0,)
    malformed = [f for f in truth.faults if f.kind == FaultKind.MALFORMED]
    assert stack.quarantine_reasons()["not_json"] == sum(
        int(((truth.times >= f.start) & (truth.times < f.end)).sum()) for f in malformed
    )


def _state(stack: Stack, device: str) -> str | None:
    with stack.connect() as conn:
        row = conn.execute("SELECT state FROM device_status WHERE device_id = %s", (device,)).fetchone()
    return row[0] if row else None


def test_an_offline_fault_drops_the_link_so_the_last_will_marks_the_device_offline(stack: Stack) -> None:
    (device,) = stack.provision_ids(["nguyen-huu-canh"])
    stack.start_ingestor()
    fleet = stack.fleet([device])
    try:
        wait_until(lambda: _state(stack, device.device_id) == "online", timeout=30, what="the birth message")
        fleet.send([Outgoing(Action.DISCONNECT, device.device_id)])
        wait_until(lambda: _state(stack, device.device_id) == "offline", timeout=30, what="the Last Will")
        fleet.send([Outgoing(Action.RECONNECT, device.device_id)])
        wait_until(lambda: _state(stack, device.device_id) == "online", timeout=30, what="the device's return")
    finally:
        fleet.stop()


def _cli(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args], cwd=cwd or REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip


def test_simulate_without_publishing_writes_the_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "storm.npz"
    result = _cli("simulate", "--scenario", "monsoon-storm", "--step", "300", "--no-publish", "--truth", str(out))
    assert result.returncode == 0, result.stderr
    truth = GroundTruth.load(out)
    assert truth.meta["scenario"] == "monsoon-storm" and len(truth.times) == 288
    assert sum(e.kind == "flood" for e in truth.events) >= 5
    assert "100.0%" in result.stderr


def test_simulate_refuses_unknown_scenarios_and_naive_start_times() -> None:
    unknown = _cli("simulate", "--scenario", "earthquake", "--no-publish", "--truth", "x.npz")
    assert unknown.returncode == 2 and "unknown scenario 'earthquake'" in unknown.stderr
    naive = _cli("simulate", "--start", "2026-10-01T06:00", "--no-publish", "--truth", "x.npz")
    assert naive.returncode == 2 and "needs a UTC offset" in naive.stderr


def _fresh_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="urbanpulse-sim-"))
    path.chmod(0o755)  # reachable by the postgres/mosquitto accounts when run as root
    return path


def test_simulate_publishes_a_scenario_into_its_private_stack() -> None:
    work = _fresh_dir()
    try:
        result = _cli("simulate", "--scenario", "sensor-faults", "--sites", "10", "--hours", "3", "--step", "300",
                      "--speed", "0", "--data-dir", "stack", "--summary-json", "summary.json", "--truth", "t.npz",
                      cwd=work)  # fmt: skip
        summary = json.loads((work / "summary.json").read_text())
        truth = GroundTruth.load(work / "t.npz")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert summary["readings_stored"] == int(np.isfinite(truth.delivered).sum()) > 0
    assert summary["readings_stored"] + summary["duplicates_ignored"] >= summary["readings_published"]  # at least once
    assert summary["duplicates_ignored"] > 0  # the duplicate burst, resent and ignored
    assert summary["faults_injected"] == len(truth.faults) > 0


def test_replay_streams_a_recorded_csv_through_mqtt_into_the_database() -> None:
    work = _fresh_dir()
    now = (time.time() - 3600) // 60 * 60
    lines = ["time,sensor,value"] + [
        f"{now + 60 * k:.0f},{device}/water_level,{0.1 * k + i:.2f}" for k in range(30) for i, device in
        enumerate(("gauge-a", "gauge-b"))
    ]  # fmt: skip
    lines.append(f"{now:.0f},gauge-a/rainfall,2.5")
    (work / "recorded.csv").write_text("\n".join(lines) + "\n")
    try:
        result = _cli("replay", "recorded.csv", "--data-dir", "stack", "--summary-json", "s.json", cwd=work)
        summary = json.loads((work / "s.json").read_text()) if (work / "s.json").exists() else {}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert summary["readings_published"] == summary["readings_stored"] == 61
    assert summary["sites"] == 2  # the two recorded devices


def test_replay_explains_a_bad_recording(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,sensor,value\n2026-10-01T06:00+07:00,gauge-a/humidity,3\n")
    result = _cli("replay", str(bad))
    assert result.returncode == 2
    assert "bad.csv row 1: sensor 'gauge-a/humidity' is not device_id/kind[.channel]" in result.stderr


def test_fault_kinds_are_switched_and_counted_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "faults.npz"
    result = _cli("simulate", "--scenario", "sensor-faults", "--step", "300", "--fault", "spike=4", "--fault",
                  "offline=0", "--no-publish", "--truth", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    kinds = Counter(f.kind for f in GroundTruth.load(out).faults)
    assert kinds[FaultKind.SPIKE] == 4 and kinds[FaultKind.OFFLINE] == 0 and kinds[FaultKind.DRIFT] == 2
    bad = _cli("simulate", "--scenario", "sensor-faults", "--fault", "zap=1", "--no-publish", "--truth", str(out))
    assert bad.returncode == 2 and "bad fault 'zap=1': expected KIND=COUNT with KIND one of dropout" in bad.stderr
