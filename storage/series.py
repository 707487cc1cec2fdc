"""Bucketed reads of sensor series: the one module later stages (forecasts, alerts, API) read through.

Returns dense ``(n_sensors, n_buckets)`` float arrays with NaN for empty buckets, the shape
the forecasting models take. On TimescaleDB the continuous aggregates answer; on plain
PostgreSQL the materialised rollup tables below the watermark and the raw rows from it on
(``storage.rollups``), each over an index-friendly range. Readings flagged FAIL are left out of
the means in both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import psycopg

from storage.migrate import Engine, current_engine

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

    @property
    def table(self) -> str:
        """The plain-PostgreSQL table materialising the view below the watermark."""
        return self.view.replace("readings_", "rollup_")


def bucket_source(engine: Engine, resolution: Resolution) -> str:
    """SQL for the buckets of ``%(ids)s`` (an array) starting in ``[%(first)s, %(end)s)``, with the
    columns ``sensor_id, bucket, samples, mean, minimum, maximum``.

    On plain PostgreSQL the views ``readings_5m`` / ``readings_1h`` give the same rows, but a bucket
    bound cannot reach their raw branches' time index; this form bounds both branches directly.
    """
    if engine == Engine.TIMESCALE:
        return (
            f"SELECT sensor_id, bucket, samples, mean, minimum, maximum FROM {resolution.view} "
            "WHERE sensor_id = ANY(%(ids)s) AND bucket >= %(first)s AND bucket < %(end)s"
        )
    width = f"interval '{int(resolution.step.total_seconds())} seconds'"
    origin = "timestamptz '2000-01-01 00:00:00+00'"
    # Per sensor: materialised before the watermark or its first invalidated hour, raw from there.
    return (
        "WITH marks AS (SELECT s.sensor_id, least((SELECT materialized_to FROM rollup_watermark), coalesce(("
        f"SELECT min(date_bin(interval '1 hour', i.first, {origin})) FROM rollup_invalidations i "
        "WHERE i.sensor_id = s.sensor_id), 'infinity')) AS mark FROM unnest(%(ids)s::int[]) AS s(sensor_id)) "
        "SELECT r.sensor_id, r.bucket, r.samples, r.total / r.samples AS mean, r.minimum, r.maximum "
        f"FROM marks m JOIN {resolution.table} r ON r.sensor_id = m.sensor_id "
        "AND r.bucket >= %(first)s AND r.bucket < %(end)s AND r.bucket < m.mark "
        f"UNION ALL SELECT x.sensor_id, date_bin({width}, x.time, {origin}), count(*), avg(x.value), min(x.value), "
        "max(x.value) FROM marks m JOIN readings x ON x.sensor_id = m.sensor_id "
        "AND x.time >= greatest(%(first)s, m.mark) AND x.time < %(end)s WHERE x.qc <> 4 GROUP BY 1, 2"
    )


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
    source = bucket_source(current_engine(conn), resolution)
    # One row per sensor with its buckets packed as big-endian binary (int4 column, float8 mean,
    # int8 samples) and unpacked by NumPy: a month of 5-minute buckets for hundreds of sensors is
    # a million values, which row-by-row fetching turns into seconds of Python work.
    query = (
        "SELECT sensor_id, string_agg(int4send(col), ''::bytea), string_agg(float8send(mean), ''::bytea), "
        "string_agg(int8send(samples), ''::bytea) FROM (SELECT sensor_id::int4 AS sensor_id, "
        "(extract(epoch FROM bucket - %(first)s) / %(step_s)s)::int4 AS col, coalesce(mean, 'NaN')::float8 AS mean, "
        f"samples::int8 AS samples FROM ({source}) b) packed GROUP BY sensor_id"
    )
    params = {"ids": sensor_ids, "first": first, "end": end, "step_s": step.total_seconds()}
    mean = np.full((len(sensor_ids), n_buckets), np.nan)
    samples = np.zeros((len(sensor_ids), n_buckets), dtype=np.int64)
    row_of = {sensor_id: i for i, sensor_id in enumerate(sensor_ids)}
    for sensor_id, columns, means, counts in conn.execute(query, params):
        j = np.frombuffer(columns, dtype=">i4").astype(np.int64)
        inside = (j >= 0) & (j < n_buckets)  # "end" may cut a bucket; keep only whole-grid positions
        mean[row_of[sensor_id], j[inside]] = np.frombuffer(means, dtype=">f8")[inside]
        samples[row_of[sensor_id], j[inside]] = np.frombuffer(counts, dtype=">i8")[inside]
    starts = np.datetime64(first.replace(tzinfo=None), "us") + np.arange(n_buckets) * np.timedelta64(step)
    return SeriesBlock(np.asarray(sensor_ids, dtype=np.int64), starts, mean, samples)


@dataclass(frozen=True)
class RawBlock:
    """The last ``k`` raw readings of each sensor, right-aligned: ``times[i, -1]`` is the newest
    (Unix s), NaN-padded on the left where a sensor has fewer; ``qc`` 0 where there is none."""

    sensor_ids: npt.NDArray[np.int64]
    times: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]
    qc: npt.NDArray[np.int16]


def read_recent(conn: psycopg.Connection, sensor_ids: list[int], since: datetime, until: datetime, k: int) -> RawBlock:
    """Raw readings in ``(since, until]``, at most the newest ``k`` per sensor (FAIL-flagged ones too:
    the alert engine's QC checks judge what the sensor said)."""
    query = (
        "SELECT sensor_id, string_agg(float8send(extract(epoch FROM time)::float8), ''::bytea ORDER BY time), "
        "string_agg(float8send(value), ''::bytea ORDER BY time), string_agg(int2send(qc), ''::bytea ORDER BY time) "
        "FROM readings WHERE sensor_id = ANY(%(ids)s) AND time > %(since)s AND time <= %(until)s GROUP BY sensor_id"
    )
    times = np.full((len(sensor_ids), k), np.nan)
    values = np.full((len(sensor_ids), k), np.nan)
    qc = np.zeros((len(sensor_ids), k), dtype=np.int16)
    row_of = {sensor_id: i for i, sensor_id in enumerate(sensor_ids)}
    for sensor_id, packed_times, packed_values, packed_qc in conn.execute(
        query, {"ids": sensor_ids, "since": since, "until": until}
    ):
        t = np.frombuffer(packed_times, dtype=">f8")[-k:]
        row, n = row_of[sensor_id], len(t)
        times[row, k - n :] = t
        values[row, k - n :] = np.frombuffer(packed_values, dtype=">f8")[-k:]
        qc[row, k - n :] = np.frombuffer(packed_qc, dtype=">i2")[-k:]
    return RawBlock(np.asarray(sensor_ids, dtype=np.int64), times, values, qc)
