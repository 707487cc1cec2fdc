"""The plain-PostgreSQL rollups (materialised below a watermark, raw past it) always equal the raw aggregates."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from devstack.ports import free_port
from ingest.service import Ingestor
from runtime.settings import IngestSettings, Settings
from storage import registry
from storage.migrate import Engine
from storage.pgcopy import unix_seconds_to_pg_micros
from storage.rollups import ROLLUP_LOCK_KEY, refresh_rollups
from storage.series import Resolution, bucket_source
from storage.writer import ReadingRows, ReadingWriter

START = datetime(2026, 11, 1, tzinfo=UTC)
RAW = """SELECT sensor_id, date_bin(%(step)s, time, timestamptz '2000-01-01 00:00:00+00') AS bucket,
                count(*) AS samples, avg(value) AS mean, min(value) AS minimum, max(value) AS maximum
         FROM readings WHERE qc <> 4 GROUP BY 1, 2"""
DIFFERENCES = """
    SELECT count(*) FROM ({raw}) raw FULL JOIN ({rollup}) r USING (sensor_id, bucket)
    WHERE r.samples IS DISTINCT FROM raw.samples OR abs(r.mean - raw.mean) > 1e-9
       OR r.minimum IS DISTINCT FROM raw.minimum OR r.maximum IS DISTINCT FROM raw.maximum"""
EXACT = {"readings_5m view": 0, "readings_5m read": 0, "readings_1h view": 0, "readings_1h read": 0}


def _differences(conn: psycopg.Connection) -> dict[str, int]:
    """Buckets where the views, and the readers' bounded form, disagree with the raw rows."""
    ids = [r[0] for r in conn.execute("SELECT sensor_id FROM sensors")]
    found = {}
    for resolution in Resolution:
        bounded = bucket_source(Engine.POSTGRES, resolution)
        for label, rollup in (("view", f"SELECT * FROM {resolution.view}"), ("read", bounded)):
            window = {"ids": ids, "first": START - timedelta(days=1), "end": START + timedelta(days=1)}
            query = DIFFERENCES.format(raw=RAW, rollup=rollup)
            row = conn.execute(query, {"step": resolution.step, **window}).fetchone()
            assert row is not None
            found[f"{resolution.view} {label}"] = int(row[0])
    return found


def _materialised(conn: psycopg.Connection) -> int:
    """Stored 5-minute buckets: the table itself, not aggregates computed on read."""
    row = conn.execute("SELECT count(*) FROM rollup_5m").fetchone()
    assert row is not None
    return int(row[0])


def _sensors(conn: psycopg.Connection, count: int) -> list[int]:
    ids = []
    for i in range(count):
        registry.add_device(conn, f"dev-{i:02d}", "$7$x")
        ids.append(registry.register_sensors(conn, [(f"dev-{i:02d}", "water_level")])[(f"dev-{i:02d}", "water_level")])
    return ids


def _rows(sensors: list[int], minutes: range) -> ReadingRows:
    pairs = [(s, m) for m in minutes for s in sensors]
    return ReadingRows(
        np.asarray([s for s, _ in pairs], dtype=np.int32),
        unix_seconds_to_pg_micros(np.asarray([START.timestamp() + 60.0 * m for _, m in pairs])),
        np.asarray([s + (m % 17) / 10 for s, m in pairs], dtype=np.float64),
        np.asarray([4 if m % 29 == 0 else 1 for _, m in pairs], dtype=np.int16),  # failed QC: not aggregated
    )


def _write(conn: psycopg.Connection, writer: ReadingWriter, rows: ReadingRows) -> None:
    with conn.transaction():
        writer.write_readings(conn, rows)


def test_the_rollups_equal_the_raw_aggregates_through_writes_late_data_qc_retention_and_truncate(
    database_url: str,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        sensors = _sensors(conn, 3)
        writer = ReadingWriter()
        writer.prepare(conn)
        _write(conn, writer, _rows(sensors, range(0, 180)))
        assert _materialised(conn) == 0 and _differences(conn) == EXACT  # nothing materialised: all raw
        done = refresh_rollups(conn, START + timedelta(hours=3, minutes=30))  # lag 1 h: up to 02:00
        assert done.materialized_to == START + timedelta(hours=2) and done.sensors_recomputed == 0
        assert _materialised(conn) == 3 * 24 and _differences(conn) == EXACT

        _write(conn, writer, _rows(sensors, range(0, 240)))  # a resend with more (copy fails, merge path)
        _write(conn, writer, _rows(sensors[:1], range(240, 250)))
        late = _rows(sensors[1:2], range(0, 60))  # a late backlog below the watermark, new times
        late = ReadingRows(late.sensor_ids, late.time_us + 30_000_000, late.values + 1, late.qc)
        _write(conn, writer, late)
        conn.execute(  # a QC check fails readings after they were materialised: they leave the aggregates
            "UPDATE readings SET qc = 4 WHERE sensor_id = %s AND time >= %s AND time < %s",
            (sensors[0], START + timedelta(minutes=62), START + timedelta(minutes=67)),
        )
        conn.execute(  # a whole bucket fails: it must disappear, not keep its old figures
            "UPDATE readings SET qc = 4 WHERE sensor_id = %s AND time >= %s AND time < %s",
            (sensors[2], START + timedelta(minutes=100), START + timedelta(minutes=105)),
        )
        # Exact before the refresh too: a sensor with invalidated ranges is read raw from there on.
        assert _differences(conn) == EXACT
        pending = conn.execute("SELECT count(DISTINCT sensor_id) FROM rollup_invalidations").fetchone()
        assert pending == (3,)
        done = refresh_rollups(conn, START + timedelta(hours=3, minutes=30))
        assert done.materialized_to == START + timedelta(hours=2) and done.sensors_recomputed == 3
        assert _differences(conn) == EXACT
        assert _materialised(conn) == 3 * 24 - 1  # the bucket that failed as a whole is gone

        done = refresh_rollups(conn, START + timedelta(hours=5))  # moves on over the newer rows
        assert done.materialized_to == START + timedelta(hours=4) and _differences(conn) == EXACT
        assert _materialised(conn) == 3 * 48 - 1  # minutes 240-249 (04:00-04:10) stay raw, past the mark

        conn.execute("DELETE FROM readings WHERE time < %s", (START + timedelta(minutes=93),))  # retention
        refresh_rollups(conn, START + timedelta(hours=5))
        assert _differences(conn) == EXACT

        conn.execute("TRUNCATE readings")
        assert _materialised(conn) == 0 and _differences(conn) == EXACT


def test_writers_racing_the_refresh_lose_nothing(database_url: str) -> None:
    """Ingestors write late and current readings while another process refreshes: once the last
    refresh ran, every bucket equals the raw aggregate (no write fell between watermark moves)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        sensors = _sensors(conn, 20)
    errors: list[BaseException] = []
    writing = threading.Event()

    def writer(first_minute: int) -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as own:
                writer = ReadingWriter()
                writer.prepare(own)
                writing.set()
                for batch in range(15):  # interleaved minutes: every batch lands in buckets others write
                    minutes = range(first_minute + 16 * batch, first_minute + 16 * (batch + 1), 4)
                    _write(own, writer, _rows(sensors, minutes))
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    assert writing.wait(timeout=60), errors
    with psycopg.connect(database_url, autocommit=True) as conn:
        for hour in range(1, 6):  # the watermark sweeps over the minutes being written
            refresh_rollups(conn, START + timedelta(hours=hour, minutes=1), lag=timedelta(0))
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
    with psycopg.connect(database_url, autocommit=True) as conn:
        refresh_rollups(conn, START + timedelta(hours=6), lag=timedelta(0))
        row = conn.execute("SELECT sum(samples), count(*) FROM rollup_1h").fetchone()
        stored = conn.execute("SELECT count(*) FROM readings WHERE qc <> 4").fetchone()
        assert row is not None and stored is not None and row[0] == stored[0] > 0 and row[1] == 20 * 4
        assert _differences(conn) == EXACT


def test_a_second_refresher_skips_while_one_runs(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as first, psycopg.connect(database_url) as second:
        first.execute("SELECT pg_advisory_lock(%s)", (ROLLUP_LOCK_KEY,))
        assert refresh_rollups(second, START).materialized_to is None
        first.execute("SELECT pg_advisory_unlock(%s)", (ROLLUP_LOCK_KEY,))
        assert refresh_rollups(second, START).materialized_to == START - timedelta(hours=1)


@pytest.mark.parametrize("view", ["readings_5m", "readings_1h"])
def test_the_rollups_keep_the_continuous_aggregates_columns(database_url: str, view: str) -> None:
    with psycopg.connect(database_url) as conn:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            (view,),
        )]  # fmt: skip
    assert columns == ["sensor_id", "bucket", "samples", "mean", "minimum", "maximum"]


def test_the_ingestors_storage_jobs_wait_their_cadence_while_the_database_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed refresh is logged and skipped, not retried after every batch (each try costs a connect timeout)."""
    unreachable = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    ingestor = Ingestor(Settings(database_url=unreachable, ingest=IngestSettings(metrics_port=0)))
    with caplog.at_level(logging.WARNING, logger="ingest.service"):
        ingestor._maybe_run_storage_jobs()
        ingestor._maybe_run_storage_jobs()  # at once: within both jobs' cadence
    skipped = [r for r in caplog.records if "storage job skipped" in r.getMessage()]
    assert len(skipped) == 1, [r.getMessage() for r in caplog.records]
