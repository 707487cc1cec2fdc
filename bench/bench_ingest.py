"""End-to-end ingest benchmark: publishers -> Mosquitto -> ingestor -> committed rows.

Runs the real stack on this machine (private PostgreSQL with fsync on, private Mosquitto, the
ingestor as its own process, publishers in their own processes) and prints Markdown rows for
docs/benchmarks.md:

* raw write rates into ``readings``: binary COPY (on plain PostgreSQL also with the rollup triggers
  switched off, their cost), and staging + ON CONFLICT (fresh and duplicate rows);
* end-to-end readings/s for 100-reading and single-reading messages, as a ratio of raw COPY;
* publish -> committed latency percentiles at a paced 10,000 readings/s;
* ingestor peak memory while draining a 10-minute backlog (10,000 readings/s x 600 s).

    python bench/bench_ingest.py            # full run (about 5 minutes)
    python bench/bench_ingest.py --quick    # smaller sizes, for a smoke test
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg

from devstack.ports import free_port
from devstack.stack import LocalStack
from devstack.waiting import wait_until
from edge import protocol
from edge.link import DeviceLink
from simulators.fleet import DeviceCredential
from storage.pgcopy import encode_readings, unix_seconds_to_pg_micros
from storage.writer import ReadingRows, ReadingWriter, WritePath

REPO = Path(__file__).resolve().parents[1]
KINDS = ("water_level", "rainfall", "traffic_count", "traffic_speed")
UNITS = {"water_level": "m", "rainfall": "mm", "traffic_count": "count", "traffic_speed": "km/h"}


# ---- publishers (child processes) -------------------------------------------------------------
def _pack(device: str, bt: float, readings: int) -> bytes:
    """``readings`` readings of one device ending at ``bt``: kinds round-robin, 1 ms apart per step."""
    steps = [
        protocol.Reading(KINDS[i % 4], bt - (i // 4) * 1e-3, float(i % 97) / 10, UNITS[KINDS[i % 4]])
        for i in range(readings)
    ]
    return protocol.encode_pack(device, steps)


def _publisher(
    port: int,
    creds: list[tuple[str, str]],
    per_message: int,
    messages_per_device: int,
    rate_msgs: float | None,
    start_at: float,
    t_base: float,
    out: mp.Queue,
) -> None:  # type: ignore[type-arg]
    links = [DeviceLink(protocol.MqttEndpoint("127.0.0.1", port, False, d, p), d) for d, p in creds]
    for link in links:
        link.start()
    for link in links:
        link.connected.wait(30)
    sent: list[tuple[str, float]] = []
    while time.time() < start_at:
        time.sleep(0.001)
    began = time.perf_counter()
    n = 0
    for m in range(messages_per_device):
        for link in links:
            if rate_msgs:
                due = began + n / rate_msgs
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            bt = time.time() if rate_msgs else t_base + m * per_message  # unique times per sensor
            link.publish_raw(link.topic, _pack(link.device_id, bt, per_message))
            sent.append((link.device_id, bt))
            n += 1
    ok = all(link.wait_acknowledged(600) for link in links)
    for link in links:
        link.stop()
    out.put((ok, sent if rate_msgs else []))


def publish(
    stack: LocalStack,
    creds: list[DeviceCredential],
    processes: int,
    per_message: int,
    messages_per_device: int,
    rate_msgs: float | None = None,
    t_base: float = 0.0,
) -> tuple[float, list[tuple[str, float]]]:
    """Publish from ``processes`` child processes; returns (start wall time, [(device, bt)] when paced)."""
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 3.0
    groups = [creds[i::processes] for i in range(processes)]
    per_process_rate = rate_msgs / processes if rate_msgs else None
    children = [
        ctx.Process(
            target=_publisher,
            args=(
                stack.broker.port,
                [(c.device_id, c.password) for c in g],
                per_message,
                messages_per_device,
                per_process_rate,
                start_at,
                t_base,
                out,
            ),
        )
        for g in groups
    ]
    for child in children:
        child.start()
    results = [out.get(timeout=1800) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert all(ok for ok, _ in results), "a publisher did not get every PUBACK"
    return start_at, [s for _, sent in results for s in sent]


# ---- ingestor process -------------------------------------------------------------------------
class Ingestor:
    """``python -m ingest`` as its own process, watched through its Prometheus endpoint (also used by bench_fuzz)."""

    def __init__(
        self, stack: LocalStack, log: Path, client_id: str = "bench-ingest", log_level: str = "WARNING"
    ) -> None:
        settings = stack.settings(client_id)
        self.metrics_port = free_port()
        env = {
            **os.environ,
            "URBANPULSE_DATABASE_URL": settings.database_url,
            "URBANPULSE_MQTT_URL": settings.mqtt_url,
            "URBANPULSE_INGEST__CLIENT_ID": client_id,
            "URBANPULSE_INGEST__METRICS_PORT": str(self.metrics_port),
            "URBANPULSE_LOG_LEVEL": log_level,
        }
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest"], env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_until(self._subscribed, timeout=30, what="the ingestor to subscribe")

    def _subscribed(self) -> bool:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
            return "urbanpulse_ingest_subscribed 1.0" in r.read().decode()

    def metric(self, name: str) -> float:
        """Sum of a metric's samples (all labels) on the ingestor's /metrics endpoint."""
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
            lines = r.read().decode().splitlines()
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(name) and line[len(name)] in " {")

    def stored(self) -> int:
        """Readings this ingestor has committed (its Prometheus counter: cheap to poll, unlike count(*))."""
        return int(self.metric("urbanpulse_ingest_readings_stored_total"))

    def wait_stored(self, expected: int, timeout: float = 1800) -> float:
        """Wall time at which the ingestor had committed ``expected`` readings (polled every 20 ms)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.stored() >= expected:
                return time.time()
            time.sleep(0.02)
        raise TimeoutError(f"fewer than {expected} readings stored after {timeout} s")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> int:
        self.process.terminate()
        status = self.process.wait(timeout=60)
        self._log.close()
        return status


def count_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    return int(row[0]) if row else 0


# ---- phases -----------------------------------------------------------------------------------
@dataclass
class Figures:
    rows: list[tuple[str, str]]

    def add(self, what: str, value: str) -> None:
        self.rows.append((what, value))
        print(f"| {what} | {value} |", flush=True)


def raw_write_rates(url: str, n: int, figures: Figures) -> float:
    rng = np.random.default_rng(0)
    sensors = rng.integers(1_000_000, 1_010_000, n).astype(np.int32)
    times = unix_seconds_to_pg_micros(1.7e9 + np.arange(n, dtype=np.float64) * 1e-3)
    rows = ReadingRows(sensors, times, rng.normal(size=n), np.ones(n, dtype=np.int16))
    rates = {}
    with psycopg.connect(url, autocommit=True) as conn:
        # On plain PostgreSQL, triggers keep the rollups current; measured once without them too.
        maintained = conn.execute("SELECT to_regclass('rollup_5m') IS NOT NULL").fetchone() == (True,)
        phases = [("binary COPY", WritePath.COPY)]
        if maintained:
            phases.insert(0, ("binary COPY, rollup triggers switched off", WritePath.COPY))
        phases += [("staging + ON CONFLICT, new rows", WritePath.MERGE),
                   ("staging + ON CONFLICT, all duplicates", WritePath.MERGE)]  # fmt: skip
        for label, path in phases:
            writer = ReadingWriter(path)
            writer.prepare(conn)
            if not label.endswith("all duplicates"):
                conn.execute("DELETE FROM readings WHERE sensor_id >= 1000000")
                conn.execute("VACUUM readings")
            switched_off = label.endswith("switched off")
            conn.execute(f"ALTER TABLE readings {'DISABLE' if switched_off else 'ENABLE'} TRIGGER USER")
            chunk = 50_000
            began = time.perf_counter()
            for i in range(0, n, chunk):
                part = ReadingRows(
                    rows.sensor_ids[i : i + chunk],
                    rows.time_us[i : i + chunk],
                    rows.values[i : i + chunk],
                    rows.qc[i : i + chunk],
                )
                with conn.transaction():
                    writer.write(conn, part, [])
            rates[label] = n / (time.perf_counter() - began)
            if switched_off:
                conn.execute("DELETE FROM readings WHERE sensor_id >= 1000000")  # with the rollups still untouched
                conn.execute("ALTER TABLE readings ENABLE TRIGGER USER")
            figures.add(f"raw write into `readings` (batches of 50k): {label}", f"{rates[label]:,.0f} rows/s")
        if maintained:
            ratio = rates["binary COPY"] / rates["binary COPY, rollup triggers switched off"]
            figures.add("binary COPY with the rollup triggers, as a ratio of without", f"{ratio:.2f}")
        encode_began = time.perf_counter()
        encode_readings(rows.sensor_ids, rows.time_us, rows.values, rows.qc)
        figures.add("NumPy binary COPY encoding alone", f"{n / (time.perf_counter() - encode_began):,.0f} rows/s")
        conn.execute("DELETE FROM readings WHERE sensor_id >= 1000000")
        conn.execute("VACUUM readings")
    return rates["binary COPY"]


def end_to_end(
    stack: LocalStack,
    creds: list[DeviceCredential],
    ingestor: Ingestor,
    per_message: int,
    total: int,
    processes: int,
    copy_rate: float,
    figures: Figures,
    t_base: float,
) -> None:
    before = ingestor.stored()
    per_device = total // (len(creds) * per_message)
    start_at, _ = publish(stack, creds, processes, per_message, per_device, t_base=t_base)
    done = ingestor.wait_stored(before + per_device * per_message * len(creds))
    rate = per_device * per_message * len(creds) / (done - start_at)
    figures.add(
        f"end to end, {per_message}-reading messages ({per_device * len(creds):,} messages)",
        f"{rate:,.0f} readings/s = {rate / copy_rate:.2f} x raw COPY",
    )


def latency(
    stack: LocalStack, creds: list[DeviceCredential], rate_readings: float, seconds: float, figures: Figures
) -> None:
    url = stack.postgres.url()
    with psycopg.connect(url) as conn:
        ids = dict(conn.execute("SELECT device_id, sensor_id FROM sensors WHERE name = 'water_level'").fetchall())
    samples: list[tuple[float, dict[str, float]]] = []
    stop = threading.Event()

    def poll() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            devices = [c.device_id for c in creds]
            while not stop.is_set():
                rows = conn.execute(
                    "SELECT d, (SELECT extract(epoch FROM max(time)) FROM readings r WHERE r.sensor_id = s) "
                    "FROM unnest(%s::text[], %s::int[]) AS u(d, s)",
                    (devices, [ids[d] for d in devices]),
                ).fetchall()
                samples.append((time.time(), {d: float(t) if t is not None else 0.0 for d, t in rows}))
                time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    messages = int(rate_readings * seconds / 100)
    _, sent = publish(stack, creds, 1, 100, messages // len(creds), rate_msgs=rate_readings / 100)
    deadline = time.time() + 60
    while time.time() < deadline and (not samples or any(samples[-1][1].get(d, 0) < bt - 1e-6 for d, bt in sent[-5:])):
        time.sleep(0.05)
    stop.set()
    poller.join(timeout=10)
    poll_times = np.array([s[0] for s in samples])
    lat = []
    for device, bt in sent:
        seen = np.array([s[1].get(device, 0.0) for s in samples]) >= bt - 1e-6
        first = int(np.argmax(seen)) if seen.any() else -1
        if first >= 0:
            lat.append(poll_times[first] - bt)
    lat_ms = np.array(lat) * 1000
    figures.add(
        f"publish -> committed latency at {rate_readings:,.0f} readings/s (100-reading messages, "
        f"{len(lat):,} messages, 5 ms polling)",
        f"p50 {np.percentile(lat_ms, 50):.0f} ms, p99 {np.percentile(lat_ms, 99):.0f} ms, max {lat_ms.max():.0f} ms",
    )


def backlog_drain(
    stack: LocalStack,
    creds: list[DeviceCredential],
    ingestor: Ingestor,
    readings: int,
    per_message: int,
    label: str,
    figures: Figures,
    workdir: Path,
    t_base: float,
) -> Ingestor:
    """Stop the ingestor, queue ``readings`` at the broker, start a fresh one and time the drain."""
    ingestor.stop()
    per_device = readings // (len(creds) * per_message)
    publish(stack, creds, 2, per_message, per_device, t_base=t_base)
    expected = per_device * per_message * len(creds)
    began = time.time()
    fresh = Ingestor(stack, workdir / "ingest.log")  # a new process: its counter starts at zero
    peak = 0.0
    while fresh.stored() < expected:
        peak = max(peak, fresh.rss_mb())
        time.sleep(0.2)
        if time.time() - began > 1800:
            raise TimeoutError("backlog did not drain")
    drained = time.time() - began
    figures.add(
        f"{label} ({expected:,} readings in {per_device * len(creds):,} messages queued at the broker): drain",
        f"{expected / drained:,.0f} readings/s, ingestor peak RSS {peak:.0f} MB",
    )
    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not figures to record")
    args = parser.parse_args()
    scale = 0.05 if args.quick else 1.0
    workdir = Path(tempfile.mkdtemp(prefix="urbanpulse-bench-"))
    workdir.chmod(0o755)
    print(
        f"UrbanPulse ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        flush=True,
    )
    stack = LocalStack.start(workdir / "stack", durable=True)
    figures = Figures([])
    print("| measurement | result |\n|---|---|", flush=True)
    ingestor = None
    try:
        copy_rate = raw_write_rates(stack.postgres.url(), int(1_000_000 * max(scale, 0.2)), figures)
        creds = stack.provision([f"bench-{i:03d}" for i in range(40)])
        ingestor = Ingestor(stack, workdir / "ingest.log")
        # Reading times must fall inside the ingestor's accepted window (30 days back by default).
        day = 86_400.0
        now = time.time()
        end_to_end(stack, creds, ingestor, 100, int(2_000_000 * scale), 2, copy_rate, figures, t_base=now - 25 * day)
        end_to_end(stack, creds, ingestor, 1, int(200_000 * scale), 2, copy_rate, figures, t_base=now - 20 * day)
        latency(stack, creds, 10_000, 20 * scale if args.quick else 20, figures)
        burst = int(10 * 60 * 10_000 * scale)  # 10 minutes at 10,000 readings/s
        ingestor = backlog_drain(
            stack,
            creds,
            ingestor,
            burst,
            100,
            "backlog of 10 min at 10,000 readings/s",
            figures,
            workdir,
            t_base=now - 15 * day,
        )
        ingestor = backlog_drain(
            stack,
            creds,
            ingestor,
            int(100_000 * scale),
            1,
            "backlog of single-reading messages",
            figures,
            workdir,
            t_base=now - 10 * day,
        )
        rows = count_rows(stack.postgres.url())
        print(f"\n{rows:,} rows in `readings` at the end (every published reading, each once)", flush=True)
    finally:
        if ingestor is not None:
            ingestor.stop()
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
