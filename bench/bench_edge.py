"""Edge agent footprint: RSS, CPU and queue writes at 10 sensors x 1 Hz, on the real stack.

Runs ``python -m edge`` as its own process against a private broker and ingestor and samples
/proc for it over the measurement window. Prints Markdown rows for docs/benchmarks.md.

    python bench/bench_edge.py               # 120 s window
    python bench/bench_edge.py --seconds 20  # a quick look
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from devstack.stack import LocalStack
from ingest.service import Ingestor

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _io(pid: int) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--sensors", type=int, default=10)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="urbanpulse-bench-edge-"))
    workdir.chmod(0o755)
    stack = LocalStack.start(workdir / "stack", durable=True)
    stop = threading.Event()
    ingest = threading.Thread(target=Ingestor(stack.settings()).run, args=(stop,), daemon=True)
    ingest.start()
    (device,) = stack.provision(["bench-edge"])
    kinds = ["water_level", "rainfall", "traffic_count", "traffic_speed"]
    sensors = "".join(
        f'[[sensors]]\nname = "{kinds[i % 4]}.s{i}"\ndriver = "edge_drivers:Sine"\ninterval_s = 1.0\n'
        for i in range(args.sensors)
    )
    config = workdir / "edge.toml"
    config.write_text(
        f'device_id = "{device.device_id}"\n'
        f'mqtt_url = "mqtt://{device.device_id}:{device.password}@127.0.0.1:{stack.broker.port}"\n'
        f'[queue]\npath = "{workdir / "queue.db"}"\n[forward]\nreadings_per_message = 100\n' + sensors
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "bench")}
    agent = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config), "--log-level", "WARNING"],
                             cwd=REPO, env=env)  # fmt: skip
    try:
        time.sleep(5)  # warm-up: imports, connection, first rounds (a measurement window, not synchronisation)
        cpu0, io0, t0 = _cpu_s(agent.pid), _io(agent.pid), time.monotonic()
        peak = 0.0
        while time.monotonic() - t0 < args.seconds:
            peak = max(peak, _rss_mb(agent.pid))
            time.sleep(1)
        cpu1, io1, t1 = _cpu_s(agent.pid), _io(agent.pid), time.monotonic()
        readings = args.sensors * (t1 - t0)  # 1 Hz each
        print(f"Edge agent footprint, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.sensors} sensors x 1 Hz, "
              f"{t1 - t0:.0f} s window\n")  # fmt: skip
        print("| measurement | result |\n|---|---|")
        print(f"| resident memory (peak VmRSS) | {peak:.1f} MB |")
        print(f"| CPU | {100 * (cpu1 - cpu0) / (t1 - t0):.2f} % of one core |")
        print(f"| write system calls per reading | {(io1['syscw'] - io0['syscw']) / readings:.2f} |")
        print(f"| bytes written to storage per reading | {(io1['write_bytes'] - io0['write_bytes']) / readings:,.0f} |")
    finally:
        agent.terminate()
        agent.wait(timeout=30)
        stop.set()
        ingest.join(timeout=30)
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
