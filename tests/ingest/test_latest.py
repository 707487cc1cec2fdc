"""The newest reading per sensor kept beside the readings: never moved back by late or repeated rows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import psycopg

from storage import registry
from storage.latest import newest_per_sensor, write_latest
from storage.pgcopy import unix_seconds_to_pg_micros
from storage.writer import ReadingRows

T0 = 1_790_000_000.0


def _rows(ids: list[int], times: list[float], values: list[float]) -> ReadingRows:
    return ReadingRows(np.asarray(ids, dtype=np.int32), unix_seconds_to_pg_micros(np.asarray(times)),
                       np.asarray(values, dtype=np.float64), np.ones(len(ids), dtype=np.int16))  # fmt: skip


def test_newest_per_sensor_picks_each_sensors_latest_in_id_order() -> None:
    newest = newest_per_sensor(_rows([7, 3, 7, 3, 9], [T0 + 60, T0, T0 + 120, T0 + 30, T0], [1, 2, 3, 4, 5]))
    assert newest.sensor_ids.tolist() == [3, 7, 9] and newest.values.tolist() == [4, 3, 5]


def test_late_readings_never_move_a_sensor_back(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        registry.add_device(conn, "dev-latest", "$7$x")
        ids = registry.register_sensors(conn, [("dev-latest", "water_level"), ("dev-latest", "rainfall")])
        a, b = ids[("dev-latest", "water_level")], ids[("dev-latest", "rainfall")]
        write_latest(conn, _rows([a, b], [T0 + 600, T0 + 600], [1.0, 2.0]))
        write_latest(conn, _rows([a, b], [T0 + 300, T0 + 900], [9.0, 3.0]))  # a: a late backlog; b: news
        rows = conn.execute("SELECT sensor_id, time, value FROM sensor_latest").fetchall()
    kept = {sensor: (time, value) for sensor, time, value in rows}
    assert kept == {a: (datetime.fromtimestamp(T0 + 600, UTC), 1.0), b: (datetime.fromtimestamp(T0 + 900, UTC), 3.0)}


def test_rows_without_the_numbered_ones_keep_every_column_aligned() -> None:
    kept = _rows([1, 2, 3, 4], [T0, T0 + 1, T0 + 2, T0 + 3], [10, 20, 30, 40]).without([1, 3])
    assert kept.sensor_ids.tolist() == [1, 3] and kept.values.tolist() == [10, 30] and len(kept.time_us) == 2
