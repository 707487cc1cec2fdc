"""Migrations, retention and bucketed reads on the real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from devstack.postgres import PostgresServer
from storage import registry, retention
from storage.migrate import Engine, available_migrations, current_engine, migrate
from storage.series import Resolution, read_buckets


def test_migrations_are_idempotent_and_safe_to_race(postgres: PostgresServer) -> None:
    url = postgres.create_database("race_migrations")
    applied: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            applied.append(len(migrate(url)))
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(applied) == [0, 0, len(available_migrations(Engine.POSTGRES))]
    assert migrate(url) == []
    with psycopg.connect(url) as conn:
        assert current_engine(conn) == Engine.POSTGRES


def test_each_engine_has_one_migration_per_version() -> None:
    for engine in Engine:
        versions = [m.version for m in available_migrations(engine)]
        assert versions == sorted(set(versions)) and versions[0] == 1


def _sensor(conn: psycopg.Connection) -> int:
    registry.add_device(conn, "dev-01", "$7$x")
    return registry.register_sensors(conn, [("dev-01", "water_level")])[("dev-01", "water_level")]


def test_retention_job_drops_only_old_rows(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        sensor = _sensor(conn)
        now = datetime.now(UTC)
        for age_days in (1, 399, 401, 900):
            conn.execute("INSERT INTO readings VALUES (%s, %s, 1.0, 1)", (sensor, now - timedelta(days=age_days)))
        assert retention.apply_retention(conn) == 2
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (2,)


def test_bucketed_reads_are_dense_with_nan_gaps_and_skip_failed_values(database_url: str) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with psycopg.connect(database_url, autocommit=True) as conn:
        sensor = _sensor(conn)
        rows = [(sensor, start + timedelta(minutes=m), float(m), 1) for m in (0, 1, 2, 11, 12)]
        rows.append((sensor, start + timedelta(minutes=3), 999.0, 4))  # QC fail: not in the means
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO readings VALUES (%s, %s, %s, %s)", rows)
        block = read_buckets(conn, [sensor, 999], start, start + timedelta(minutes=15), Resolution.FIVE_MINUTES)
    assert block.mean.shape == (2, 3)
    np.testing.assert_array_equal(block.mean[0], [1.0, np.nan, 11.5])
    assert block.samples[0].tolist() == [3, 0, 2]
    assert np.isnan(block.mean[1]).all()
    assert block.starts[1] == np.datetime64("2026-11-01T00:05")
