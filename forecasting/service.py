"""``urbanpulse forecast run``: forecast every sensor from the database, into the ``forecasts`` table.

A cycle reads the last ``history_days`` of 5-minute buckets through ``storage.series``
(the continuous aggregates on TimescaleDB), fits the models on all sensors at once - water
levels with ``WaterLevelModel`` (rain from the rain gauges, tide, exceedance probability of each
sensor's alarm level), traffic with ``ProfileAR`` on a day-type profile (a daily one while the
history is shorter than two weeks) - and writes mean, 80/95 % bands and probabilities for the
next ``horizon``. Streets registered with drainage metadata also get the street-flood outlook
(``forecasting.outlooks``: rain nowcast + drainage model): their exceedance probabilities and
their watch/warning tier (table ``flood_outlooks``).

Stateless: every cycle starts from the database, so a restart loses nothing and several copies
can split the sensors (``shard``). A cycle for an issue time already written replaces it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import psycopg

from forecasting.baselines import TimeOfWeekAverage
from forecasting.daytype import DayTypeProfile
from forecasting.direct import PROFILE_SMOOTH_S, ProfileAR
from forecasting.geo import local_km
from forecasting.model import Profile
from forecasting.outlooks import (
    OutlookCache,
    load_drainage,
    rain_rates,
    street_outlook,
    with_outlook,
    write_outlooks,
)
from forecasting.series import Array, Forecast, Series
from forecasting.water import WaterLevelModel, nearest_gauges
from runtime.settings import ForecastSettings
from storage.series import Resolution, floor_to, read_buckets
from storage.sqlvalues import number_or_none

log = logging.getLogger(__name__)

LEVELS = (0.8, 0.95)
TRAFFIC = ("traffic_count", "traffic_speed")
_COPY = (
    "COPY forecasts (sensor_id, issued_at, target_time, model, mean, lower_80, upper_80, lower_95, upper_95,"
    " threshold, exceed_probability, fallback) FROM STDIN"
)


@dataclass(frozen=True)
class Sensors:
    """The registry as the models need it, one entry per sensor (rows in sensor id order)."""

    ids: npt.NDArray[np.int64]
    kinds: npt.NDArray[np.str_]
    xy_km: Array  # (n, 2) east/north of the sensors' centre; NaN when not placed
    thresholds: Array  # alarm level per sensor (NaN: none)


@dataclass(frozen=True)
class Issued:
    """One kind's forecast for some sensors (rows of ``Sensors``) and, for water, exceedance probabilities."""

    rows: npt.NDArray[np.int64]
    forecast: Forecast
    probability: Array | None = None


@dataclass(frozen=True)
class CycleResult:
    issued_at: datetime
    sensors: int
    fallbacks: int
    rows_written: int
    seconds: float
    likely_alarms: int = 0  # sensors more likely than not above their alarm level within the horizon


def load_sensors(conn: psycopg.Connection) -> Sensors:
    rows = conn.execute(
        """SELECT s.sensor_id, s.kind,
                  coalesce(s.latitude, d.latitude), coalesce(s.longitude, d.longitude),
                  (coalesce(s.metadata -> 'alarm_levels', d.metadata -> 'alarm_levels') ->> s.kind)::float8
           FROM sensors s JOIN devices d USING (device_id) ORDER BY s.sensor_id"""
    ).fetchall()
    lat = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64)
    lon = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64)
    return Sensors(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.str_),
        local_km(lat, lon),
        np.array([np.nan if r[4] is None else r[4] for r in rows], dtype=np.float64),
    )


def in_shard(ids: npt.NDArray[np.int64], shard: tuple[int, int]) -> npt.NDArray[np.bool_]:
    index, count = shard
    return np.asarray(ids % count == index, dtype=np.bool_)


def forecast_sensors(sensors: Sensors, history: Series, horizon: int, mine: npt.NDArray[np.bool_]) -> list[Issued]:
    """Forecasts for the sensors in ``mine`` from ``history`` (one row per sensor of ``sensors``); pure."""
    issued = []
    water = np.flatnonzero(mine & (sensors.kinds == "water_level"))
    if len(water):
        gauges = np.flatnonzero(sensors.kinds == "rainfall")
        placed = np.asarray(np.isfinite(sensors.xy_km).all(axis=1))
        gauges = gauges[placed[gauges]]
        xy = sensors.xy_km[water]
        rain = link = None
        if len(gauges) and placed[water].any():
            rain = Series(history.start, history.step_s, history.values[gauges])
            link = nearest_gauges(xy, sensors.xy_km[gauges])
        model = WaterLevelModel(rain, link, xy if placed[water].all() else None)
        forecast = model.fit(Series(history.start, history.step_s, history.values[water])).predict(horizon, LEVELS)
        issued.append(Issued(water, forecast, model.exceedance(sensors.thresholds[water])))
    traffic = np.flatnonzero(mine & np.isin(sensors.kinds, TRAFFIC))
    if len(traffic):
        span_days = history.n_time * history.step_s / 86_400
        profile: Profile = (
            DayTypeProfile(working_days_alike=True, smooth_s=PROFILE_SMOOTH_S)
            if span_days >= 14
            else TimeOfWeekAverage(period_s=86_400.0, smooth_s=PROFILE_SMOOTH_S)
        )
        model_ar = ProfileAR(profile=profile)
        batch = Series(history.start, history.step_s, history.values[traffic])
        issued.append(Issued(traffic, model_ar.fit(batch).predict(horizon, LEVELS)))
    return issued


def run_cycle(
    conn: psycopg.Connection, as_of: datetime, settings: ForecastSettings, outlooks: OutlookCache | None = None
) -> CycleResult:
    """Read, forecast, write: one issue at ``as_of`` floored to the bucket grid (data before it are used).

    ``outlooks`` keeps the street-flood outlook's fit between cycles (refitted every few hours);
    without it the outlook is fitted afresh."""
    began = time.perf_counter()
    resolution = Resolution.FIVE_MINUTES
    step = resolution.step
    issued_at = floor_to(as_of, step)
    sensors = load_sensors(conn)
    shard = settings.shard_pair()
    mine = in_shard(sensors.ids, shard) & np.isin(sensors.kinds, ("water_level", *TRAFFIC))
    if not mine.any():
        return CycleResult(issued_at, 0, 0, 0, time.perf_counter() - began)
    start = issued_at - timedelta(days=settings.history_days)
    block = read_buckets(conn, sensors.ids.tolist(), start, issued_at, resolution)
    history = Series(floor_to(start, step).timestamp(), step.total_seconds(), block.mean)
    horizon = max(1, round(settings.horizon_h * 3600 / step.total_seconds()))
    issued = forecast_sensors(sensors, history, horizon, mine)
    # Street floods (issue 17): rain nowcast + drainage model for registered streets; their exceedance
    # probabilities replace the water model's and their watch/warning tiers go to flood_outlooks.
    rates = rain_rates(block.mean, block.samples, step.total_seconds())
    streets = street_outlook(sensors.ids, sensors.kinds, sensors.xy_km, sensors.thresholds,
                             load_drainage(conn, sensors.ids), history, rates, mine, horizon, outlooks)  # fmt: skip
    issued = [dataclasses.replace(i, probability=with_outlook(i.rows, i.probability, streets)) for i in issued]
    written = _write(conn, sensors, issued, issued_at, settings)
    write_outlooks(conn, sensors.ids, streets, issued_at, settings.keep_days)
    fallbacks = sum(int(np.sum(i.forecast.fallback)) for i in issued if i.forecast.fallback is not None)
    likely = sum(int(np.sum(i.probability[:, -1] >= 0.5)) for i in issued if i.probability is not None)
    seconds = time.perf_counter() - began
    conn.execute(
        """INSERT INTO forecast_runs (issued_at, shard, sensors, fallbacks, seconds) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (issued_at, shard) DO UPDATE SET finished_at = now(), sensors = EXCLUDED.sensors,
               fallbacks = EXCLUDED.fallbacks, seconds = EXCLUDED.seconds""",
        (issued_at, settings.shard, int(mine.sum()), fallbacks, seconds),
    )
    conn.commit()
    return CycleResult(issued_at, int(mine.sum()), fallbacks, written, seconds, likely)


def _write(
    conn: psycopg.Connection, sensors: Sensors, issued: list[Issued], issued_at: datetime, settings: ForecastSettings
) -> int:
    """Replace this issue's rows for these sensors, and drop issues older than ``keep_days``."""
    ids = [int(sensors.ids[r]) for i in issued for r in i.rows]
    conn.execute("DELETE FROM forecasts WHERE issued_at = %s AND sensor_id = ANY(%s)", (issued_at, ids))
    conn.execute(
        "DELETE FROM forecasts WHERE issued_at < %s AND sensor_id = ANY(%s)",
        (issued_at - timedelta(days=settings.keep_days), ids),
    )
    written = 0
    with conn.cursor() as cur, cur.copy(_COPY) as copy:
        for item in issued:
            f = item.forecast
            targets = [datetime.fromtimestamp(t, UTC) for t in f.times()]
            fallback = f.fallback if f.fallback is not None else np.zeros(len(item.rows), dtype=np.bool_)
            for k, row in enumerate(item.rows):
                sensor_id, threshold = int(sensors.ids[row]), number_or_none(sensors.thresholds[row])
                for h, target in enumerate(targets):
                    probability = None if item.probability is None else number_or_none(item.probability[k, h])
                    copy.write_row((
                        sensor_id, issued_at, target, f.model, number_or_none(f.mean[k, h]),
                        number_or_none(f.lower[0.8][k, h]), number_or_none(f.upper[0.8][k, h]),
                        number_or_none(f.lower[0.95][k, h]), number_or_none(f.upper[0.95][k, h]),
                        threshold, probability if threshold is not None else None, bool(fallback[k]),
                    ))  # fmt: skip
                    written += 1
    return written


def run_service(
    conninfo: str,
    settings: ForecastSettings,
    stop: threading.Event,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_cycle: Callable[[CycleResult], None] | None = None,
) -> None:
    """Issue a forecast every ``settings.every_s`` (as soon as a new bucket is complete) until ``stop``.

    ``clock`` says what "now" is: the wall clock in production, the simulated clock in the demo.
    A failed cycle (database away, say) is logged and retried at the next tick; the loop goes on.
    """
    last: datetime | None = None
    outlooks = OutlookCache()
    while not stop.is_set():
        as_of = clock()
        issue = floor_to(as_of, Resolution.FIVE_MINUTES.step)
        if issue != last:
            try:
                with psycopg.connect(conninfo) as conn:
                    result = run_cycle(conn, as_of, settings, outlooks)
                last = issue
                log.info("forecast issued at %s for %d sensors (%d fallbacks, %d rows, %d likely alarms) in %.2f s",
                         result.issued_at.isoformat(), result.sensors, result.fallbacks, result.rows_written,
                         result.likely_alarms, result.seconds)  # fmt: skip
                if on_cycle is not None:
                    on_cycle(result)
            except psycopg.Error as error:
                log.warning("forecast cycle at %s failed: %s; retrying next tick", issue.isoformat(), error)
        stop.wait(settings.every_s)
