"""Simulator benchmarks: generation rate, and the publish rate one simulator process sustains.

    python bench/bench_simulators.py generate [--sensors 10000] [--days 7] [--step 300]
    python bench/bench_simulators.py publish  [--sensors 10000] [--hours 1] [--step 60]

``generate`` times ``simulators.city.simulate`` (tide, rain, drainage, traffic, events) and prints
sensor-samples per second. ``publish`` starts private PostgreSQL + Mosquitto and an ingestor
process, connects one MQTT link per site device from this one process, and publishes the
scenario flat out (``speed=0``); it prints readings/s until every message has its PUBACK and
until the ingestor has stored them all.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devstack.stack import LocalStack  # noqa: E402
from devstack.waiting import wait_until  # noqa: E402
from ingest import broker_auth  # noqa: E402
from simulators import city, run, scenarios  # noqa: E402
from simulators.fleet import Fleet  # noqa: E402
from simulators.sites import city_sites, sensors_of  # noqa: E402


def sites_for(sensors: int) -> int:
    n = max(1, sensors // 3)
    while len(sensors_of(city_sites(n))) < sensors:
        n += max(1, (sensors - len(sensors_of(city_sites(n)))) // 3)
    return n


def generate(args: argparse.Namespace) -> None:
    sites = tuple(city_sites(sites_for(args.sensors)))
    config = scenarios.scenario_config("normal-day", sites, hours=24 * args.days, step_s=args.step)
    began = time.perf_counter()
    sim = city.simulate(config)
    seconds = time.perf_counter() - began
    samples = sim.truth.size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generate: {len(sim.sensors):,} sensors x {sim.truth.shape[1]:,} steps ({args.days} d at {args.step:g} s) "
          f"in {seconds:.2f} s = {samples / seconds:,.0f} sensor-samples/s; peak RSS {peak_mb:,.0f} MB")  # fmt: skip


def publish(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="urbanpulse-bench-sim-"))
    work.chmod(0o755)
    stack = LocalStack.start(work, durable=False)
    ingestor: subprocess.Popen[bytes] | None = None
    fleet: Fleet | None = None
    try:
        sites = city_sites(sites_for(args.sensors))
        began = time.perf_counter()
        credentials = stack.provision_sites(sites, extra=[])
        print(f"provisioned {len(sites):,} devices in {time.perf_counter() - began:.1f} s")
        start = (time.time() - args.hours * 3600 - 600) // args.step * args.step
        config = scenarios.scenario_config("normal-day", tuple(sites), start, args.hours, args.step)
        env = {**os.environ, "URBANPULSE_DATABASE_URL": stack.postgres.url(),
               "URBANPULSE_MQTT_URL": stack.broker.url(broker_auth.INGEST_ACCOUNT, stack.ingest_password),
               "URBANPULSE_INGEST__METRICS_PORT": "0"}  # fmt: skip
        ingestor = subprocess.Popen([sys.executable, "-m", "ingest"], env=env, cwd=REPO)
        began = time.perf_counter()
        fleet = Fleet("127.0.0.1", stack.broker.port, credentials)
        fleet.start(timeout=300)
        print(f"connected {len(fleet.links):,} device links in {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        truth = run.run(config, fleet.send, speed=0)
        handed = time.perf_counter() - began
        assert fleet.wait_acknowledged(timeout=600)
        acked = time.perf_counter() - began
        readings = fleet.published_readings
        wait_until(lambda: _stored(stack) >= readings, timeout=900, what="the ingestor to store everything")
        stored = time.perf_counter() - began
        print(f"publish: {len(truth.sensors):,} sensors, {readings:,} readings in {fleet.published_messages:,} "
              f"messages; handed to paho at {readings / handed:,.0f} readings/s, acknowledged by the broker at "
              f"{readings / acked:,.0f} readings/s ({fleet.published_messages / acked:,.0f} msg/s), stored at "
              f"{readings / stored:,.0f} readings/s")  # fmt: skip
    finally:
        if fleet is not None:
            fleet.stop()
        if ingestor is not None:
            ingestor.terminate()
            ingestor.wait(timeout=30)
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


def _stored(stack: LocalStack) -> int:
    import psycopg

    with psycopg.connect(stack.postgres.url()) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--sensors", type=int, default=10_000)
    gen.add_argument("--days", type=float, default=7)
    gen.add_argument("--step", type=float, default=300)
    pub = sub.add_parser("publish")
    pub.add_argument("--sensors", type=int, default=10_000)
    pub.add_argument("--hours", type=float, default=1)
    pub.add_argument("--step", type=float, default=60)
    args = parser.parse_args()
    generate(args) if args.what == "generate" else publish(args)


if __name__ == "__main__":
    main()
