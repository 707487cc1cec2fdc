"""Bucketed reads of sensor series: the one module later stages (forecasts, alerts, API) read through.

Returns dense ``(n_sensors, n_buckets)`` float arrays with NaN for empty buckets, the shape
the forecasting models take. On TimescaleDB the continuous aggregates answer; on plain
PostgreSQL the same buckets are computed from raw rows with ``date_bin`` over an index-friendly
time range. Readings flagged FAIL are left out of the means in both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import psycopg

from ingest.storage.migrate import Engine, current_engine

_ORIGIN = datetime.fromisoformat("2000-01-01T00:00:00+00:00")


class Resolution(enum.Enum):
    FIVE_MINUTES = ("readings_5m", timedelta(minutes=5))
    HOUR = ("readings_1h", timedelta(hours=1))

    @property
    def view(self) -> str:
        return self.value[0]

    @property
    def step(self) -> timedelta:
        return self.value[1]


@dataclass(frozen=True)
class SeriesBlock:
    """``mean[i, j]``: mean of sensor ``sensor_ids[i]`` in the bucket starting at ``starts[j]``."""

    sensor_ids: npt.NDArray[np.int64]
    starts: npt.NDArray[np.datetime64]
    mean: npt.NDArray[np.float64]
    samples: npt.NDArray[np.int64]


def floor_to(moment: datetime, step: timedelta) -> datetime:
    return _ORIGIN + ((moment - _ORIGIN) // step) * step


def read_buckets(
    conn: psycopg.Connection, sensor_ids: list[int], start: datetime, end: datetime, resolution: Resolution
) -> SeriesBlock:
    """Buckets covering ``[start, end)`` (start floored to the bucket grid) for ``sensor_ids``, in that order."""
    step = resolution.step
    first = floor_to(start, step)
    n_buckets = max(0, -(-(end - first) // step))
    if current_engine(conn) == Engine.TIMESCALE:
        query = (
            f"SELECT sensor_id, bucket, mean, samples FROM {resolution.view} "
            "WHERE sensor_id = ANY(%(ids)s) AND bucket >= %(first)s AND bucket < %(end)s"
        )
    else:
        query = (
            "SELECT sensor_id, date_bin(%(step)s, time, %(origin)s) AS bucket, avg(value), count(*) "
            "FROM readings WHERE sensor_id = ANY(%(ids)s) AND time >= %(first)s AND time < %(end)s AND qc <> 4 "
            "GROUP BY 1, 2"
        )
    rows = conn.execute(
        query, {"ids": sensor_ids, "first": first, "end": end, "step": step, "origin": _ORIGIN}
    ).fetchall()
    mean = np.full((len(sensor_ids), n_buckets), np.nan)
    samples = np.zeros((len(sensor_ids), n_buckets), dtype=np.int64)
    if rows:
        row_of = {sensor_id: i for i, sensor_id in enumerate(sensor_ids)}
        i = np.fromiter((row_of[r[0]] for r in rows), dtype=np.int64, count=len(rows))
        j = np.fromiter(((r[1] - first) // step for r in rows), dtype=np.int64, count=len(rows))
        inside = j < n_buckets  # "end" may cut a bucket; keep only whole-grid positions
        mean[i[inside], j[inside]] = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))[inside]
        samples[i[inside], j[inside]] = np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows))[inside]
    starts = np.datetime64(first.replace(tzinfo=None), "us") + np.arange(n_buckets) * np.timedelta64(step)
    return SeriesBlock(np.asarray(sensor_ids, dtype=np.int64), starts, mean, samples)
