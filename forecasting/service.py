"""``urbanpulse forecast run``: forecast every sensor from the database, into the ``forecasts`` table.

The models are fitted on ``history_days`` of 5-minute buckets (``storage.series``, the
continuous aggregates on TimescaleDB) - water levels with ``WaterLevelModel`` (rain from the rain
gauges, tide, exceedance probability of each sensor's alarm level), traffic with ``ProfileAR`` on
a day-type profile (a daily one while the history is shorter than two weeks) with the nearby
detectors' residuals as inputs - and refitted every ``refit_h``. Every completed bucket between
refits reads only the new buckets, moves the models' origin (``update``) and writes mean, 80/95 %
bands and probabilities for the next ``horizon``. Streets registered with drainage metadata also
get the street-flood outlook (``forecasting.outlooks``: rain nowcast + drainage model, refitted
every few hours but never in the cycle that refits the other models, updated in between): their
exceedance probabilities and their watch/warning tier (table ``flood_outlooks``).

A restart loses nothing - every issue is a function of the database - and several copies can
split the sensors (``shard``). A cycle for an issue time already written replaces it. A loop that
falls behind (a slow refit) issues the buckets it missed, oldest first, so none is skipped.
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

from edge.protocol import Kind
from forecasting.calendar import LocalCalendar
from forecasting.daytype import DayTypeProfile
from forecasting.direct import PROFILE_SMOOTH_S, ProfileAR
from forecasting.geo import local_km
from forecasting.graph import SensorGraph
from forecasting.model import Profile
from forecasting.outlooks import (
    OutlookCache,
    load_drainage,
    rain_rates,
    street_outlook,
    with_outlook,
    write_outlooks,
)
from forecasting.profile import TimeOfWeekAverage
from forecasting.rain import nearest_gauges
from forecasting.series import Array, Forecast, Series
from forecasting.water import WaterLevelModel
from runtime.settings import ForecastSettings
from storage.series import Resolution, floor_to, read_buckets
from storage.sqlvalues import number_or_none

log = logging.getLogger(__name__)

LEVELS = (0.8, 0.95)
TRAFFIC = (Kind.TRAFFIC_COUNT, Kind.TRAFFIC_SPEED)
NEIGHBOUR_KM = 1.0  # traffic detectors within this distance feed each other's forecasts
LATE_DATA = timedelta(hours=1)  # buckets re-read at every update: readings that arrived late
STEP = Resolution.FIVE_MINUTES.step
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
    refitted: bool = True


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


def traffic_graph(xy_km: Array, kinds: npt.NDArray[np.str_]) -> SensorGraph | None:
    """Nearby detectors of the same kind (a count listens to counts, a speed to speeds); None unplaced."""
    if not np.isfinite(xy_km).all() or len(kinds) < 2:
        return None
    apart = np.where(kinds[:, None] == kinds[None, :], 0.0, 1e6)  # other kinds: out of reach
    km = np.hypot(*(xy_km[:, None, :] - xy_km[None, :, :]).transpose(2, 0, 1)) + apart
    return SensorGraph.from_adjacency(np.where(km <= NEIGHBOUR_KM, 1.0 / (0.2 + km), 0.0))


class Forecaster:
    """The service's models between refits: ``fit`` on a history, then ``issue`` from newer data."""

    def __init__(self, sensors: Sensors, mine: npt.NDArray[np.bool_], settings: ForecastSettings) -> None:
        self.sensors, self.settings = sensors, settings
        self.calendar = LocalCalendar(settings.time_zone, settings.holidays)
        self.water = np.flatnonzero(mine & (sensors.kinds == Kind.WATER_LEVEL))
        self.traffic = np.flatnonzero(mine & np.isin(sensors.kinds, TRAFFIC))
        gauges = np.flatnonzero(sensors.kinds == Kind.RAINFALL)
        placed = np.asarray(np.isfinite(sensors.xy_km).all(axis=1))
        self.gauges = gauges[placed[gauges]]
        self._water: WaterLevelModel | None = None
        self._traffic: ProfileAR | None = None
        self.fitted_at = 0.0

    def _water_model(self, history: Series) -> WaterLevelModel:
        s = self.sensors
        placed = np.asarray(np.isfinite(s.xy_km).all(axis=1))
        xy = s.xy_km[self.water]
        rain = link = None
        if len(self.gauges) and placed[self.water].any():
            rain = history.rows(self.gauges)
            link = nearest_gauges(xy, s.xy_km[self.gauges])
        return WaterLevelModel(rain, link, xy if placed[self.water].all() else None,
                               horizon_s=self.settings.horizon_h * 3600)  # fmt: skip

    def fit(self, history: Series) -> Forecaster:
        """Learn every model from ``history`` (one row per sensor of ``sensors``)."""
        self.fitted_at = history.end
        if len(self.water):
            self._water = self._water_model(history).fit(history.rows(self.water))
        if len(self.traffic):
            span_days = history.n_time * history.step_s / 86_400
            profile: Profile = (
                DayTypeProfile(self.calendar, working_days_alike=True, smooth_s=PROFILE_SMOOTH_S)
                if span_days >= 14
                else TimeOfWeekAverage(86_400.0, self.calendar.offset_at(history.end), smooth_s=PROFILE_SMOOTH_S)
            )
            graph = traffic_graph(self.sensors.xy_km[self.traffic], self.sensors.kinds[self.traffic])
            self._traffic = ProfileAR(profile, graph, horizon_s=self.settings.horizon_h * 3600)
            self._traffic.fit(history.rows(self.traffic))
        return self

    def issue(self, history: Series, horizon: int) -> list[Issued]:
        """Forecasts from the end of ``history`` (newer than the fit; nothing is relearned)."""
        issued = []
        if self._water is not None:
            rain = history.rows(self.gauges) if self._water.rain is not None else None
            forecast = self._water.update(history.rows(self.water), rain).predict(horizon, LEVELS)
            issued.append(Issued(self.water, forecast, forecast.exceedance(self.sensors.thresholds[self.water])))
        if self._traffic is not None:
            issued.append(Issued(self.traffic, self._traffic.update(history.rows(self.traffic)).predict(horizon)))
        return issued


def forecast_sensors(sensors: Sensors, history: Series, horizon: int, mine: npt.NDArray[np.bool_],
                     settings: ForecastSettings | None = None) -> list[Issued]:  # fmt: skip
    """Forecasts for the sensors in ``mine`` from ``history`` (one row per sensor of ``sensors``); pure."""
    return Forecaster(sensors, mine, settings or ForecastSettings()).fit(history).issue(history, horizon)


@dataclass
class BucketWindow:
    """The newest buckets of every sensor, kept between cycles so an update reads only what is new."""

    ids: list[int]
    start: datetime
    values: Array  # (n, T) bucket means
    samples: npt.NDArray[np.int64]  # (n, T) readings per bucket: a rain gauge's rate needs them

    @property
    def end(self) -> datetime:
        end: datetime = self.start + self.values.shape[1] * STEP
        return end

    @classmethod
    def read(cls, conn: psycopg.Connection, ids: list[int], start: datetime, end: datetime) -> BucketWindow:
        block = read_buckets(conn, ids, start, end, Resolution.FIVE_MINUTES)
        return cls(ids, floor_to(start, STEP), block.mean, block.samples)

    def advance(self, conn: psycopg.Connection, end: datetime, keep: timedelta) -> BucketWindow:
        """Read from ``LATE_DATA`` before the window's end up to ``end``; keep the last ``keep``."""
        since = max(self.start, min(self.end, end) - LATE_DATA)
        fresh = BucketWindow.read(conn, self.ids, since, end)
        cut = round((since - self.start) / STEP)
        values = np.concatenate([self.values[:, :cut], fresh.values], axis=1)
        samples = np.concatenate([self.samples[:, :cut], fresh.samples], axis=1)
        drop = max(0, values.shape[1] - round(keep / STEP))
        return BucketWindow(self.ids, self.start + drop * STEP, values[:, drop:], samples[:, drop:])

    def series(self) -> Series:
        return Series(self.start.timestamp(), STEP.total_seconds(), self.values)

    def rates(self) -> Array:
        """Rain rates (mm/h) of the same buckets, meaningful for the rainfall sensors' rows."""
        return rain_rates(self.values, self.samples, STEP.total_seconds())


@dataclass
class ServiceState:
    """What the loop keeps between cycles: the fitted models, the buckets they read, the streets'
    drainage facts (read at each refit) and the street-flood outlook (refitted on its own schedule)."""

    sensors: Sensors
    forecaster: Forecaster
    window: BucketWindow
    drainage: Array  # (n, 3) per sensor, ``forecasting.outlooks.load_drainage``
    outlooks: OutlookCache = dataclasses.field(default_factory=OutlookCache)


def run_cycle(conn: psycopg.Connection, as_of: datetime, settings: ForecastSettings) -> CycleResult:
    """One issue at ``as_of`` from freshly fitted models (``urbanpulse forecast run --once``)."""
    return issue_cycle(conn, as_of, settings, None)[0]


def issue_cycle(
    conn: psycopg.Connection, as_of: datetime, settings: ForecastSettings, state: ServiceState | None
) -> tuple[CycleResult, ServiceState]:
    """Read, forecast, write one issue at ``as_of`` floored to the bucket grid (data before it are used).

    Without ``state`` (or when the sensors changed, or a refit is due) the models are fitted on
    ``history_days``; otherwise only the new buckets are read and the fitted models updated. The
    street-flood outlook in ``state.outlooks`` is refitted when due, except in a cycle that refits
    the other models (then at the next one), so the two costly fits share no cycle but the first.
    """
    began = time.perf_counter()
    issued_at = floor_to(as_of, STEP)
    sensors = load_sensors(conn)
    mine = in_shard(sensors.ids, settings.shard_pair()) & np.isin(sensors.kinds, (Kind.WATER_LEVEL, *TRAFFIC))
    history_span = timedelta(days=settings.history_days)
    stale = (
        state is None
        or not np.array_equal(state.sensors.ids, sensors.ids)
        or issued_at.timestamp() - state.forecaster.fitted_at >= settings.refit_h * 3600
        or issued_at < state.window.end - LATE_DATA  # a clock that went back: start again
    )
    if state is None or stale:
        window = BucketWindow.read(conn, sensors.ids.tolist(), issued_at - history_span, issued_at)
        forecaster = Forecaster(sensors, mine, settings)
        if mine.any():
            forecaster.fit(window.series())
        outlooks = OutlookCache() if state is None else state.outlooks  # its key tells whether it still fits
        state = ServiceState(sensors, forecaster, window, load_drainage(conn, sensors.ids), outlooks)
    else:
        state.window = state.window.advance(conn, issued_at, history_span)
    if not mine.any():
        return CycleResult(issued_at, 0, 0, 0, time.perf_counter() - began, 0, stale), state
    horizon = max(1, round(settings.horizon_h * 3600 / STEP.total_seconds()))
    history = state.window.series()
    issued = state.forecaster.issue(history, horizon)
    # Street floods (issue 17): rain nowcast + drainage model for registered streets; their exceedance
    # probabilities replace the water model's and their watch/warning tiers go to flood_outlooks. Its
    # refit waits while the other models refit, so no cycle carries both (bar the first).
    streets = street_outlook(sensors.ids, sensors.kinds, sensors.xy_km, sensors.thresholds, state.drainage,
                             history, state.window.rates(), mine, horizon, state.outlooks,
                             defer_refit=stale)  # fmt: skip
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
    return CycleResult(issued_at, int(mine.sum()), fallbacks, written, seconds, likely, stale), state


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


def due_buckets(last: datetime | None, now: datetime, catch_up: int) -> list[datetime]:
    """Issue times owed at ``now``: every bucket start after ``last`` up to ``now``'s (at most
    ``catch_up``, the newest), or just ``now``'s on the first cycle."""
    newest = floor_to(now, STEP)
    if last is None or newest < last:
        return [newest]
    owed = [last + k * STEP for k in range(1, round((newest - last) / STEP) + 1)]
    if len(owed) > catch_up:
        log.warning("forecast loop %d buckets behind; issuing the newest %d", len(owed), catch_up)
    return owed[-catch_up:]


def run_service(
    conninfo: str,
    settings: ForecastSettings,
    stop: threading.Event,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_cycle: Callable[[CycleResult], None] | None = None,
    first: datetime | None = None,
) -> None:
    """Issue a forecast for every completed 5-minute bucket until ``stop``; after ``stop`` is set,
    the buckets already owed by ``clock`` are still issued, then the loop returns.

    ``clock`` says what "now" is: the wall clock in production, the simulated clock in the demo.
    ``first``: the first bucket owed (default: the clock's at the first cycle) - the demo's promise
    starts when it starts the service, not when the thread first reads a clock already moving.
    A failed cycle (database away, say) is logged and retried at the next tick; the loop goes on.
    """
    last: datetime | None = None if first is None else floor_to(first, STEP) - STEP
    state: ServiceState | None = None
    while True:
        now = clock()
        stopping = stop.is_set()  # read after the clock: a stop asked for by now still gets now's issue
        for issue in due_buckets(last, now, settings.catch_up):
            try:
                with psycopg.connect(conninfo) as conn:
                    result, state = issue_cycle(conn, issue, settings, state)
            except psycopg.Error as error:
                log.warning("forecast cycle at %s failed: %s; retrying next tick", issue.isoformat(), error)
                break
            last = issue
            log.info("forecast issued at %s for %d sensors (%d fallbacks, %d rows, %d likely alarms%s) in %.2f s",
                     result.issued_at.isoformat(), result.sensors, result.fallbacks, result.rows_written,
                     result.likely_alarms, ", refitted" if result.refitted else "", result.seconds)  # fmt: skip
            if on_cycle is not None:
                on_cycle(result)
        if stopping:
            return
        stop.wait(settings.every_s)
