"""The TimescaleDB migrations, policies, continuous aggregates and reads, on a real TimescaleDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from storage import registry
from storage.migrate import Engine, current_engine, migrate
from storage.series import Resolution, read_buckets

START = datetime(2026, 10, 1, tzinfo=UTC)


def _sensor(conn: psycopg.Connection, device: str) -> int:
    registry.add_device(conn, device, "$7$x")
    return registry.register_sensors(conn, [(device, "water_level")])[(device, "water_level")]


def _insert(conn: psycopg.Connection, rows: list[tuple[int, datetime, float, int]]) -> int:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings VALUES (%s, %s, %s, %s) ON CONFLICT (sensor_id, time) DO NOTHING",
            rows,
            returning=False,
        )
        return cur.rowcount


def test_migrations_take_the_timescale_path_once(timescale: psycopg.Connection, timescale_url: str) -> None:
    assert current_engine(timescale) == Engine.TIMESCALE
    assert migrate(timescale_url) == []
    hypertable = timescale.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'"
    ).fetchone()
    assert hypertable == (True,)
    segment_by = timescale.execute(
        "SELECT attname FROM timescaledb_information.compression_settings "
        "WHERE hypertable_name = 'readings' AND segmentby_column_index IS NOT NULL"
    ).fetchall()
    assert segment_by == [("sensor_id",)]
    jobs = timescale.execute(
        "SELECT proc_name, coalesce(hypertable_name, '') FROM timescaledb_information.jobs "
        "WHERE proc_name LIKE 'policy_%%' AND proc_name <> 'policy_job_stat_history_retention' ORDER BY 1, 2"
    ).fetchall()
    aggregates = {
        row[0] for row in timescale.execute("SELECT view_name FROM timescaledb_information.continuous_aggregates")
    }
    assert aggregates == {"readings_5m", "readings_1h"}
    assert ("policy_compression", "readings") in jobs and ("policy_retention", "readings") in jobs
    assert sum(1 for name, _ in jobs if name == "policy_refresh_continuous_aggregate") == 2


def test_redelivery_is_harmless_and_buckets_match_raw_data(timescale: psycopg.Connection) -> None:
    sensor = _sensor(timescale, "ts-dev-01")
    rng = np.random.default_rng(3)
    values = rng.normal(1.0, 0.3, 120)
    rows = [(sensor, START + timedelta(minutes=int(m)), float(v), 1) for m, v in enumerate(values)]
    rows.append((sensor, START + timedelta(minutes=7, seconds=30), 99.0, 4))  # QC fail: left out of means
    assert _insert(timescale, rows) == len(rows)
    assert _insert(timescale, rows[:50]) == 0  # a redelivered backlog changes nothing

    end = START + timedelta(hours=2)
    live = read_buckets(timescale, [sensor], START, end, Resolution.FIVE_MINUTES)  # real-time aggregation
    expected = values.reshape(24, 5).mean(axis=1)
    np.testing.assert_allclose(live.mean[0], expected)
    assert live.samples[0].tolist() == [5] * 24

    timescale.execute("CALL refresh_continuous_aggregate('readings_5m', NULL, NULL)")
    timescale.execute("CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)")
    materialised = read_buckets(timescale, [sensor], START, end, Resolution.FIVE_MINUTES)
    np.testing.assert_allclose(materialised.mean[0], expected)
    hourly = read_buckets(timescale, [sensor], START, end, Resolution.HOUR)
    np.testing.assert_allclose(hourly.mean[0], values.reshape(2, 60).mean(axis=1))


def _run_jobs(conn: psycopg.Connection, proc: str) -> None:
    for (job_id,) in conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s", (proc,)):
        conn.execute("CALL run_job(%s)", (job_id,))


def test_late_readings_reach_rollups_through_the_refresh_policy(timescale: psycopg.Connection) -> None:
    """An edge backlog drained days later, into an already compressed chunk, still reaches the rollups."""
    sensor = _sensor(timescale, "ts-dev-02")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=10)
    _insert(timescale, [(sensor, datetime.now(UTC) - timedelta(hours=3), 0.0, 1)])
    timescale.execute("CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)")  # watermark now past `day`
    rows = [(sensor, day + timedelta(minutes=10 * i), float(i), 1) for i in range(24)]
    assert _insert(timescale, rows[:12]) == 12
    compressed = timescale.execute(
        "SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('readings', "
        "older_than => %s::timestamptz, newer_than => %s::timestamptz) c",
        (day + timedelta(days=1), day - timedelta(days=1)),
    ).fetchone()
    assert compressed is not None and compressed[0] >= 1
    assert _insert(timescale, rows) == 12  # redelivered half ignored, late half stored, in a compressed chunk
    before = read_buckets(timescale, [sensor], day, day + timedelta(hours=4), Resolution.HOUR)
    assert np.isnan(before.mean[0]).all()  # below the watermark: not yet materialised
    _run_jobs(timescale, "policy_refresh_continuous_aggregate")
    after = read_buckets(timescale, [sensor], day, day + timedelta(hours=4), Resolution.HOUR)
    np.testing.assert_allclose(after.mean[0], [2.5, 8.5, 14.5, 20.5])


def test_retention_policy_drops_old_chunks(timescale: psycopg.Connection) -> None:
    sensor = _sensor(timescale, "ts-dev-03")
    now = datetime.now(UTC)
    _insert(timescale, [(sensor, now - timedelta(days=500), 1.0, 1), (sensor, now - timedelta(days=1), 2.0, 1)])
    job = timescale.execute(
        "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' "
        "AND hypertable_name = 'readings'"
    ).fetchone()
    assert job is not None
    timescale.execute("CALL run_job(%s)", job)
    remaining = timescale.execute("SELECT value FROM readings WHERE sensor_id = %s", (sensor,)).fetchall()
    assert remaining == [(2.0,)]
