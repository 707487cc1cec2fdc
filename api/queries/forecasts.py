"""A sensor's newest forecast, and its past forecasts next to what happened (verification)."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from alerts.errors import NotFound
from api.schemas.series import ForecastOut, VerificationOut
from storage.series import Resolution

STEP = Resolution.FIVE_MINUTES.step  # forecasts target 5-minute buckets (forecasting.service)


def latest_forecast(conn: psycopg.Connection, sensor_id: int) -> ForecastOut:
    """The newest issue's rows for the sensor (the primary key finds it without a scan)."""
    newest = conn.execute("SELECT max(issued_at) FROM forecasts WHERE sensor_id = %s", (sensor_id,)).fetchone()
    if newest is None or newest[0] is None:
        raise NotFound(f"no forecast for sensor {sensor_id}", code="no_forecast")
    rows = conn.execute(
        """SELECT target_time, model, threshold, fallback, mean, lower_80, upper_80, lower_95, upper_95,
                  exceed_probability
           FROM forecasts WHERE sensor_id = %s AND issued_at = %s ORDER BY target_time""",
        (sensor_id, newest[0]),
    ).fetchall()
    columns = list(zip(*rows, strict=True))
    return ForecastOut(sensor_id=sensor_id, issued_at=newest[0], model=rows[0][1], threshold=rows[0][2],
                       fallback=rows[0][3], time=list(columns[0]), mean=list(columns[4]), lower_80=list(columns[5]),
                       upper_80=list(columns[6]), lower_95=list(columns[7]), upper_95=list(columns[8]),
                       exceed_probability=list(columns[9]))  # fmt: skip


def verification(conn: psycopg.Connection, sensor_id: int, lead_minutes: int, start: datetime, end: datetime,
                 limit: int) -> VerificationOut:  # fmt: skip
    """Forecasts made ``lead_minutes`` before their target, with the observed 5-minute mean (QC fail excluded)."""
    rows = conn.execute(
        """SELECT f.target_time, f.mean, o.mean, f.lower_80, f.upper_80
           FROM forecasts f LEFT JOIN LATERAL (
               SELECT avg(r.value) AS mean FROM readings r
               WHERE r.sensor_id = f.sensor_id AND r.time >= f.target_time AND r.time < f.target_time + %(step)s
                 AND r.qc <> 4) o ON true
           WHERE f.sensor_id = %(id)s AND f.target_time = f.issued_at + %(lead)s
             AND f.target_time >= %(start)s AND f.target_time < %(end)s
           ORDER BY f.target_time LIMIT %(limit)s""",
        {"id": sensor_id, "lead": timedelta(minutes=lead_minutes), "start": start, "end": end, "step": STEP,
         "limit": limit},
    ).fetchall()  # fmt: skip
    columns = list(zip(*rows, strict=True)) or [(), (), (), (), ()]
    return VerificationOut(sensor_id=sensor_id, lead_minutes=lead_minutes, time=list(columns[0]),
                           forecast=list(columns[1]), observed=list(columns[2]), lower_80=list(columns[3]),
                           upper_80=list(columns[4]))  # fmt: skip
