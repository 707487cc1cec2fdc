"""Alert engine benchmark: every shipped rule over a city of sensors, the pure core and a real cycle.

    python bench/bench_alerts.py [--sensors 10000] [--readings 180] [--repeat 5] [--database]

Builds ``--sensors`` sensors (a quarter each water level, rain, traffic count, traffic speed; four
per device) with their last ``--readings`` one-minute readings, a 3-hour forecast per sensor and
device status, then times ``alerts.evaluate.evaluate`` (every rule of ``alerts/default_rules.toml``
over all subjects) plus the lifecycle step of every rule, ``--repeat`` times. About 2 % of the
sensors are made to break a rule, so the alert paths are exercised, not only the quiet ones.

``--database`` also times whole engine cycles (read the inputs from PostgreSQL, evaluate, write
alerts, plan notifications, commit) against a private PostgreSQL holding the same readings.
Prints rates per second and per sensor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alerts.checks import Recent  # noqa: E402
from alerts.engine import DEFAULT_RULES  # noqa: E402
from alerts.evaluate import evaluate  # noqa: E402
from alerts.lifecycle import Timing, Tracks, advance  # noqa: E402
from alerts.observations import DeviceHealth, Forecasts, Hindcast, Inputs, Subjects  # noqa: E402
from alerts.rules import load_rules  # noqa: E402

KINDS = ("water_level", "rainfall", "traffic_count", "traffic_speed")
NOW = 1_790_000_000.0


def city(n_sensors: int, k: int, seed: int = 0) -> tuple[Subjects, Inputs]:
    rng = np.random.default_rng(seed)
    n_devices = n_sensors // 4
    kinds = np.array([KINDS[i % 4] for i in range(n_sensors)])
    times = np.tile(NOW - 60.0 * np.arange(k)[::-1], (n_sensors, 1))
    level = np.select(
        [kinds == "water_level", kinds == "traffic_count", kinds == "traffic_speed"], [0.5, 80.0, 35.0], 0.2
    )
    noise = np.select(
        [kinds == "water_level", kinds == "traffic_count", kinds == "traffic_speed"], [0.01, 8.0, 3.0], 0.1
    )
    values = level[:, None] + np.cumsum(rng.normal(0, 1, (n_sensors, k)), axis=1) * noise[:, None] * 0.2
    broken = rng.random(n_sensors) < 0.02
    values[broken, -12:] = values[broken, -13:-12]  # stuck
    values[broken, -5] += 10 * noise[broken]  # and a spike
    times[rng.random(n_sensors) < 0.01, -20:] = np.nan  # silent for 20 minutes
    values = np.where(np.isfinite(times), values, np.nan)
    alarm = np.where(kinds == "water_level", 0.6, np.where(kinds == "traffic_speed", 15.0, np.nan))
    subjects = Subjects(
        np.arange(1, n_sensors + 1, dtype=np.int64), kinds, np.arange(n_sensors, dtype=np.int64) // 4, alarm,
        [f"dev-{i:05d}" for i in range(n_devices)], [None] * n_devices,
        [f"District {i % 24}" for i in range(n_devices)],
        [f"Ward {i % 300}" for i in range(n_devices)], np.full(n_devices, 10.78), np.full(n_devices, 106.7),
    )  # fmt: skip
    horizon = 36
    targets = np.tile(NOW + 300.0 * np.arange(1, horizon + 1), (n_sensors, 1))
    probability = np.clip(rng.beta(0.3, 3.0, (n_sensors, 1)) * np.linspace(0.5, 1.5, horizon), 0, 1)
    forecasts = Forecasts(np.full(n_sensors, NOW - 60), targets, values[:, -1:] + np.zeros(horizon), probability)
    received = NOW - rng.uniform(0, 60, n_devices)
    health = DeviceHealth(
        np.where(rng.random(n_devices) < 0.005, NOW - 600, np.nan), received - 0.5, received,
        rng.integers(0, 300, (n_devices, 3)).astype(np.float64), rng.random(n_devices) < 0.002,
    )  # fmt: skip
    band = 4 * noise
    observed = values[:, -3]
    hindcast = Hindcast(NOW - 600, observed, observed - band + (broken * 5 * band), observed + band, observed)
    recent = Recent(values, times, np.ones(values.shape, np.int16))
    return subjects, Inputs(NOW, 3 * 3600.0, recent, forecasts, health, hindcast)


def bench_core(n_sensors: int, k: int, repeat: int) -> None:
    book = load_rules(DEFAULT_RULES)
    subjects, inputs = city(n_sensors, k)
    print(f"{n_sensors:,} sensors x {k} readings, {len(subjects.device_ids):,} devices, {len(book.rules)} rules")
    for run in range(repeat):
        began = time.perf_counter()
        judgements = evaluate(book, subjects, inputs)
        evaluated = time.perf_counter()
        raised = 0
        for j in judgements:
            tracks = advance(Tracks.empty(len(j.rows)), j.condition, NOW, Timing(j.rule.for_s, j.rule.resolve_after_s))
            raised += int((tracks.state > 0).sum())
        done = time.perf_counter()
        print(f"  run {run + 1}: evaluate {1000 * (evaluated - began):7.1f} ms + lifecycle "
              f"{1000 * (done - evaluated):5.1f} ms = {1000 * (done - began):7.1f} ms "
              f"({n_sensors / (done - began):,.0f} sensors/s, {1e6 * (done - began) / n_sensors:.1f} µs per sensor); "
              f"{raised} raised")  # fmt: skip


def bench_database(n_sensors: int, k: int, repeat: int) -> None:
    import psycopg

    from alerts.engine import run_cycle
    from devstack.postgres import PostgresOptions, PostgresServer
    from runtime.settings import AlertsSettings
    from storage import registry
    from storage.migrate import migrate
    from storage.pgcopy import unix_seconds_to_pg_micros
    from storage.writer import ReadingRows, ReadingWriter

    subjects, inputs = city(n_sensors, k)
    book = load_rules(DEFAULT_RULES)
    with tempfile.TemporaryDirectory(prefix="urbanpulse-bench-") as folder:
        Path(folder).chmod(0o755)
        server = PostgresServer(Path(folder) / "pg", PostgresOptions(durable=False))
        server.start()
        try:
            migrate(server.url())
            with psycopg.connect(server.url()) as conn:
                levels = {"alarm_levels": {"water_level": 0.6, "traffic_speed": 15.0}}
                for d, district in zip(subjects.device_ids, subjects.districts, strict=True):
                    registry.add_device(conn, d, "-", district=district, metadata=levels)
                ids = registry.register_sensors(conn, [(subjects.device_ids[i // 4], str(subjects.kinds[i]))
                                                       for i in range(n_sensors)])  # fmt: skip
                sensor_ids = np.array(
                    [ids[(subjects.device_ids[i // 4], str(subjects.kinds[i]))] for i in range(n_sensors)]
                )
                rows, cols = np.nonzero(np.isfinite(inputs.recent.times))
                writer = ReadingWriter()
                writer.prepare(conn)
                stored = ReadingRows(sensor_ids[rows].astype(np.int32),
                                     unix_seconds_to_pg_micros(inputs.recent.times[rows, cols]),
                                     inputs.recent.values[rows, cols], np.ones(len(rows), np.int16))  # fmt: skip
                writer.write(conn, stored, [])
                conn.commit()
                conn.autocommit = True
                conn.execute("VACUUM ANALYZE readings")
                conn.autocommit = False
                print(f"  database: {len(rows):,} readings stored; whole engine cycles:")
                for run in range(repeat):
                    result = run_cycle(conn, book, NOW + run, AlertsSettings(max_readings=k))
                    rate = n_sensors / result.seconds
                    print(f"  cycle {run + 1}: {result.seconds:.2f} s ({rate:,.0f} sensors/s); {result.transitions} "
                          f"changes, {result.open_alerts} open, {result.messages} messages")  # fmt: skip
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sensors", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=180)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", action="store_true")
    args = parser.parse_args()
    bench_core(args.sensors, args.readings, args.repeat)
    if args.database:
        bench_database(args.sensors, args.readings, min(args.repeat, 3))


if __name__ == "__main__":
    main()
