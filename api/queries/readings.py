"""A sensor's readings over a window, downsampled in the database to about ``points`` buckets.

The bucket width is the smallest "nice" step (1 s ... 1 week) that fits the window into the
points asked for. Buckets of 5 minutes or more are re-bucketed from the rollups (continuous
aggregates on TimescaleDB; materialised tables plus the raw rows past their watermark on plain
PostgreSQL, ``storage.rollups``), so a month of a one-minute sensor costs about 720 hourly rows,
not 43,200 raw ones; narrower buckets come from raw readings with ``date_bin`` over the primary
key's range. Means, minima and
maxima leave QC-failed readings out (as the rollups do); each bucket's worst QC flag comes from
the small ``readings_flagged`` index, so it costs nothing when nothing was flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from alerts.errors import NotFound
from api.schemas.series import ReadingsOut
from storage.migrate import Engine
from storage.qc import QcFlag
from storage.series import Resolution, bucket_source, floor_to

NICE_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                2 * 86400, 7 * 86400)  # fmt: skip
RAW_BELOW_S = 60  # narrower buckets than this: try the raw readings first
_ORIGIN = datetime.fromisoformat("2000-01-01T00:00:00+00:00")


@dataclass(frozen=True)
class SensorInfo:
    sensor_id: int
    kind: str
    unit: str


def sensor_info(conn: psycopg.Connection, sensor_id: int) -> SensorInfo:
    row = conn.execute("SELECT sensor_id, kind, unit FROM sensors WHERE sensor_id = %s", (sensor_id,)).fetchone()
    if row is None:
        raise NotFound(f"no sensor {sensor_id}")
    return SensorInfo(int(row[0]), row[1], row[2])


def bucket_seconds(start: datetime, end: datetime, points: int) -> int:
    """The smallest nice step whose grid (buckets aligned to whole steps) covers ``[start, end)`` in at
    most ``points`` buckets."""
    for step in NICE_STEPS_S:
        first = floor_to(start, timedelta(seconds=step))
        if math.ceil((end - first).total_seconds() / step) <= points:
            return step
    longest = NICE_STEPS_S[-1]
    return int(math.ceil((end - start).total_seconds() / (points - 1) / longest) * longest)


def _rollup(step_s: int) -> Resolution | None:
    for resolution in (Resolution.HOUR, Resolution.FIVE_MINUTES):
        if step_s % resolution.step.total_seconds() == 0:
            return resolution
    return None


def read_readings(conn: psycopg.Connection, sensor: SensorInfo, start: datetime, end: datetime, points: int,
                  engine: Engine) -> ReadingsOut:  # fmt: skip
    step_s = bucket_seconds(start, end, points)
    if step_s < RAW_BELOW_S:
        raw = conn.execute(
            """SELECT time, value, qc FROM readings WHERE sensor_id = %s AND time >= %s AND time < %s
               ORDER BY time LIMIT %s""",
            (sensor.sensor_id, start, end, points + 1),
        ).fetchall()
        if len(raw) <= points:
            values = [None if r[2] == QcFlag.FAIL else r[1] for r in raw]
            return ReadingsOut(sensor_id=sensor.sensor_id, kind=sensor.kind, unit=sensor.unit, start=start, end=end,
                               bucket_s=0, time=[r[0] for r in raw], mean=values, min=values, max=values,
                               samples=[0 if v is None else 1 for v in values], qc=[r[2] for r in raw])  # fmt: skip
    step = timedelta(seconds=step_s)
    first = floor_to(start, step)
    params = {"id": sensor.sensor_id, "first": first, "end": end, "step": step, "origin": _ORIGIN}
    rollup = _rollup(step_s)
    if rollup is None:
        rows = conn.execute(
            """SELECT date_bin(%(step)s, time, %(origin)s), avg(value) FILTER (WHERE qc <> 4),
                      min(value) FILTER (WHERE qc <> 4), max(value) FILTER (WHERE qc <> 4),
                      count(*) FILTER (WHERE qc <> 4), max(qc)
               FROM readings WHERE sensor_id = %(id)s AND time >= %(first)s AND time < %(end)s
               GROUP BY 1 ORDER BY 1""",
            params,
        ).fetchall()
        buckets = {r[0]: r[1:] for r in rows}
    else:
        rows = conn.execute(
            f"""SELECT date_bin(%(step)s, bucket, %(origin)s), sum(mean * samples) / nullif(sum(samples), 0),
                       min(minimum), max(maximum), sum(samples)::int8, {int(QcFlag.PASS)}
                FROM ({bucket_source(engine, rollup)}) AS b GROUP BY 1 ORDER BY 1""",
            {**params, "ids": [sensor.sensor_id]},
        ).fetchall()
        buckets = {r[0]: r[1:] for r in rows}
        for moment, flag in conn.execute(
            """SELECT date_bin(%(step)s, time, %(origin)s), max(qc) FROM readings
               WHERE sensor_id = %(id)s AND time >= %(first)s AND time < %(end)s AND qc > 1 GROUP BY 1""",
            params,
        ):
            mean, low, high, samples, _ = buckets.get(moment, (None, None, None, 0, QcFlag.PASS))
            buckets[moment] = (mean, low, high, samples, flag)
    times = sorted(buckets)
    columns = list(zip(*(buckets[t] for t in times), strict=True)) or [(), (), (), (), ()]
    return ReadingsOut(sensor_id=sensor.sensor_id, kind=sensor.kind, unit=sensor.unit, start=start, end=end,
                       bucket_s=step_s, time=times, mean=list(columns[0]), min=list(columns[1]),
                       max=list(columns[2]), samples=[int(n) for n in columns[3]],
                       qc=[int(q) for q in columns[4]])  # fmt: skip
