"""The binary COPY encoder and both idempotent write paths, against the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest

from storage.pgcopy import unix_seconds_to_pg_micros
from storage.writer import Conflict, QuarantineRow, ReadingRows, ReadingWriter, WritePath

T0 = 1_800_000_000.0


def _rows(sensor: int, seconds: list[float], values: list[float]) -> ReadingRows:
    return ReadingRows(
        np.full(len(seconds), sensor, dtype=np.int32),
        unix_seconds_to_pg_micros(np.asarray(seconds)),
        np.asarray(values, dtype=np.float64),
        np.ones(len(seconds), dtype=np.int16),
    )


def _write(
    conn: psycopg.Connection, writer: ReadingWriter, rows: ReadingRows, quarantine: list[QuarantineRow] | None = None
) -> tuple[int, int, WritePath]:
    with conn.transaction():
        result = writer.write(conn, rows, quarantine or [])
    return result.inserted, result.duplicates, result.path


def test_binary_copy_round_trips_exact_values(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        writer = ReadingWriter(WritePath.COPY)
        writer.prepare(conn)
        values = [0.1, -3.25, 1e-300, 123456.789]
        _write(conn, writer, _rows(7, [T0, T0 + 0.000001, T0 + 60.5, T0 + 86400], values))
        stored = conn.execute("SELECT sensor_id, time, value, qc FROM readings ORDER BY time").fetchall()
    assert [r[2] for r in stored] == values
    assert stored[0][1] == datetime.fromtimestamp(T0, UTC)
    assert (stored[1][1] - stored[0][1]).total_seconds() == pytest.approx(1e-6)
    assert {(r[0], r[3]) for r in stored} == {(7, 1)}


@pytest.mark.parametrize("path", [WritePath.ADAPTIVE, WritePath.MERGE])
def test_redelivered_rows_are_ignored_conflicts_reported_and_new_ones_kept(database_url: str, path: WritePath) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        writer = ReadingWriter(path)
        writer.prepare(conn)
        first = _write(conn, writer, _rows(1, [T0, T0 + 60], [1.0, 2.0]))
        with conn.transaction():  # a copy of the first, another value at the second's time, a new one
            again = writer.write(conn, _rows(1, [T0, T0 + 60, T0 + 120], [1.0, 9.0, 3.0]), [])
        values = [r[0] for r in conn.execute("SELECT value FROM readings ORDER BY time")]
    assert first[:2] == (2, 0)
    assert (again.inserted, again.duplicates, again.path) == (1, 1, WritePath.MERGE)
    assert again.conflicts == (Conflict(row=1, stored_value=2.0),)
    assert values == [1.0, 2.0, 3.0]  # first write wins; the caller quarantines the conflict


def test_adaptive_path_returns_to_copy_after_a_quiet_spell(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        writer = ReadingWriter(WritePath.ADAPTIVE, merge_batches_after_conflict=2)
        writer.prepare(conn)
        _write(conn, writer, _rows(1, [T0], [1.0]))
        conflicting = _write(conn, writer, _rows(1, [T0, T0 + 1], [1.0, 1.0]))[2]
        fresh = [_write(conn, writer, _rows(1, [T0 + i], [1.0]))[2] for i in range(2, 5)]
        paths = [conflicting, *fresh]
    assert paths == [WritePath.MERGE, WritePath.MERGE, WritePath.MERGE, WritePath.COPY]


def test_quarantine_rows_are_written_with_readings(database_url: str) -> None:
    row = QuarantineRow(datetime.now(UTC), "t", "dev-01", "not_json", "bad", b"\x00raw", 4, False)
    with psycopg.connect(database_url, autocommit=True) as conn:
        writer = ReadingWriter()
        writer.prepare(conn)
        _write(conn, writer, _rows(1, [T0], [1.0]), [row])
        stored = conn.execute("SELECT reason, payload, payload_bytes, record_scope FROM quarantine").fetchall()
    assert stored == [("not_json", b"\x00raw", 4, False)]
