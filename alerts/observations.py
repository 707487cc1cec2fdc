"""What the engine judges, read from the database as arrays: the I/O shell of the checks.

Everything is "as of" a moment (``now``): readings up to it, the newest forecast issued before
it, device status and heartbeats. The demo and the tests pass a simulated moment; in production
it is the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import psycopg

from alerts.checks import Recent
from edge import protocol
from forecasting.series import Array
from storage.series import read_recent
from storage.sqlvalues import unix_or_nan, utc


@dataclass(frozen=True)
class Subjects:
    """Sensors (rows in sensor id order) and devices, with the labels alerts carry."""

    sensor_ids: npt.NDArray[np.int64]
    kinds: npt.NDArray[np.str_]
    sensor_device: npt.NDArray[np.int64]  # row into the devices of each sensor
    alarm_levels: Array  # NaN where none
    device_ids: list[str]
    names: list[str | None]
    districts: list[str | None]
    wards: list[str | None]
    latitude: Array
    longitude: Array


@dataclass(frozen=True)
class Forecasts:
    """The newest complete issue at or before now, per sensor row: (n_sensors, h), NaN where none."""

    issued_at: Array  # (n,)
    targets: Array
    mean: Array
    probability: Array


@dataclass(frozen=True)
class Outlooks:
    """The street-flood outlook of the newest complete issue, per sensor row (NaN / 0 where none):
    tier (0 none, 1 watch, 2 warning), the warning's and the watch's probability, the expected crossing."""

    issued_at: Array
    tier: npt.NDArray[np.int64]
    warning: Array
    watch: Array
    crossing: Array

    @classmethod
    def none(cls, n: int) -> Outlooks:
        issued_at, warning, watch, crossing = np.full((4, n), np.nan)  # four rows, each filled in on its own
        return cls(issued_at, np.zeros(n, dtype=np.int64), warning, watch, crossing)


@dataclass(frozen=True)
class Hindcast:
    """What a forecast issued ``lead_s`` or more ago said of the newest complete 5-minute bucket
    (start ``target``), per sensor row: mean and 95 % band, NaN where none; ``observed`` the bucket's
    mean of the readings. The reference a sensor's drift is judged against."""

    target: float
    mean: Array
    lower: Array
    upper: Array
    observed: Array

    @classmethod
    def none(cls, n: int) -> Hindcast:
        nan = np.full(n, np.nan)
        return cls(np.nan, nan, nan.copy(), nan.copy(), nan.copy())


@dataclass(frozen=True)
class DeviceHealth:
    offline_since: Array  # Last Will time, NaN while online
    newest_reading: Array  # device clock
    received: Array  # ingestor clock
    depths: Array  # (n_devices, m) queue depth, oldest first
    unsynced: npt.NDArray[np.bool_]  # the newest heartbeat says the clock is not synchronised


@dataclass(frozen=True)
class Inputs:
    now: float
    lookback_s: float
    recent: Recent
    forecasts: Forecasts
    health: DeviceHealth
    hindcast: Hindcast
    outlooks: Outlooks | None = None  # None: no street-flood outlooks read (flood_tier rules judge nothing)


def load_subjects(conn: psycopg.Connection) -> Subjects:
    devices = conn.execute(
        "SELECT device_id, display_name, district, ward, latitude, longitude FROM devices ORDER BY device_id"
    ).fetchall()
    index = {row[0]: i for i, row in enumerate(devices)}
    sensors = conn.execute(
        """SELECT s.sensor_id, s.kind, s.device_id,
                  (coalesce(s.metadata -> 'alarm_levels', d.metadata -> 'alarm_levels') ->> s.kind)::float8
           FROM sensors s JOIN devices d USING (device_id) ORDER BY s.sensor_id"""
    ).fetchall()
    return Subjects(
        np.array([r[0] for r in sensors], dtype=np.int64),
        np.array([r[1] for r in sensors], dtype=np.str_),
        np.array([index[r[2]] for r in sensors], dtype=np.int64),
        np.array([np.nan if r[3] is None else r[3] for r in sensors], dtype=np.float64),
        [r[0] for r in devices],
        [r[1] for r in devices],
        [r[2] for r in devices],
        [r[3] for r in devices],
        np.array([np.nan if r[4] is None else r[4] for r in devices], dtype=np.float64),
        np.array([np.nan if r[5] is None else r[5] for r in devices], dtype=np.float64),
    )


def read_inputs(
    conn: psycopg.Connection,
    subjects: Subjects,
    now: float,
    lookback_s: float,
    k: int,
    heartbeats: int = 3,
    hindcast_lead_s: float | None = None,
) -> Inputs:
    until = utc(now)
    raw = read_recent(conn, subjects.sensor_ids.tolist(), until - timedelta(seconds=lookback_s), until, k)
    recent = Recent(raw.values, raw.times, raw.qc)
    hindcast = (Hindcast.none(len(subjects.sensor_ids)) if hindcast_lead_s is None
                else _hindcast(conn, subjects, recent, now, hindcast_lead_s))  # fmt: skip
    forecasts, health = _forecasts(conn, subjects, until), _health(conn, subjects, until, heartbeats)
    return Inputs(now, lookback_s, recent, forecasts, health, hindcast, _outlooks(conn, subjects, until))


BUCKET_S = 300.0  # the forecasts' grid (readings_5m)


def _hindcast(conn: psycopg.Connection, subjects: Subjects, recent: Recent, now: float, lead_s: float) -> Hindcast:
    n = len(subjects.sensor_ids)
    target = (now // BUCKET_S) * BUCKET_S - BUCKET_S  # the newest complete bucket
    issued = _newest_issue(conn, utc(target + BUCKET_S - lead_s))
    if issued is None:
        return Hindcast.none(n)
    mean, lower, upper = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    position = {int(sensor): i for i, sensor in enumerate(subjects.sensor_ids)}
    for sensor, m, lo, hi in conn.execute(
        "SELECT sensor_id, mean, lower_95, upper_95 FROM forecasts WHERE issued_at = %s AND target_time = %s",
        (issued, utc(target)),
    ):
        i = position.get(sensor)
        if i is not None:
            mean[i], lower[i], upper[i] = (np.nan if v is None else v for v in (m, lo, hi))
    with np.errstate(invalid="ignore"):
        inside = (recent.times >= target) & (recent.times < target + BUCKET_S)
    count = inside.sum(axis=1)
    observed = np.where(count > 0, np.where(inside, recent.values, 0.0).sum(axis=1) / np.maximum(count, 1), np.nan)
    return Hindcast(target, mean, lower, upper, observed)


def _newest_issue(conn: psycopg.Connection, at_or_before: datetime) -> datetime | None:
    """The newest forecast issue with a completed run at or before the moment, if any."""
    row = conn.execute("SELECT max(issued_at) FROM forecast_runs WHERE issued_at <= %s", (at_or_before,)).fetchone()
    return None if row is None else row[0]


def _forecasts(conn: psycopg.Connection, subjects: Subjects, until: datetime) -> Forecasts:
    n = len(subjects.sensor_ids)
    issued = _newest_issue(conn, until)
    if issued is None:
        empty = np.full((n, 1), np.nan)
        return Forecasts(np.full(n, np.nan), empty, empty.copy(), empty.copy())
    rows = conn.execute(
        """SELECT sensor_id, extract(epoch FROM target_time)::float8, mean, exceed_probability FROM forecasts
           WHERE issued_at = %s ORDER BY sensor_id, target_time""",
        (issued,),
    ).fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    position = np.searchsorted(subjects.sensor_ids, ids)
    known = (position < n) & (subjects.sensor_ids[np.minimum(position, n - 1)] == ids)
    steps = np.zeros(len(rows), dtype=np.int64)
    if len(rows):
        first = np.r_[True, ids[1:] != ids[:-1]]
        run_start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
        steps = np.arange(len(rows)) - run_start
    h = int(steps.max()) + 1 if len(rows) else 1
    targets, mean, probability = (np.full((n, h), np.nan) for _ in range(3))
    cells = (position[known], steps[known])
    targets[cells] = np.array([r[1] for r in rows], dtype=np.float64)[known]
    mean[cells] = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64)[known]
    probability[cells] = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=np.float64)[known]
    issued_at = np.where(np.isfinite(targets[:, 0]), issued.timestamp(), np.nan)
    return Forecasts(issued_at, targets, mean, probability)


_TIER = {None: 0, "watch": 1, "warning": 2}  # forecasting.floods.Tier, as stored in flood_outlooks


def _outlooks(conn: psycopg.Connection, subjects: Subjects, until: datetime) -> Outlooks:
    out = Outlooks.none(len(subjects.sensor_ids))
    issued = _newest_issue(conn, until)
    if issued is None:
        return out
    position = {int(sensor): i for i, sensor in enumerate(subjects.sensor_ids)}
    for sensor, tier, warning, watch, crossing in conn.execute(
        """SELECT sensor_id, tier, warning_probability, watch_probability, extract(epoch FROM expected_crossing)
           FROM flood_outlooks WHERE issued_at = %s""",
        (issued,),
    ):
        i = position.get(sensor)
        if i is not None:
            out.issued_at[i], out.tier[i] = issued.timestamp(), _TIER[tier]
            out.warning[i], out.watch[i] = warning, watch
            out.crossing[i] = np.nan if crossing is None else float(crossing)
    return out


def _health(conn: psycopg.Connection, subjects: Subjects, until: datetime, m: int) -> DeviceHealth:
    n = len(subjects.device_ids)
    index = {d: i for i, d in enumerate(subjects.device_ids)}
    offline, newest, received = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for device, state, since, reading_at, received_at in conn.execute(
        "SELECT device_id, state, state_since, last_reading_at, last_received_at FROM device_status"
    ):
        i = index.get(device)
        if i is None:
            continue
        offline[i] = since.timestamp() if state == "offline" else np.nan
        newest[i], received[i] = unix_or_nan(reading_at), unix_or_nan(received_at)
    depths = np.full((n, m), np.nan)
    unsynced = np.zeros(n, dtype=np.bool_)
    for device, rank, depth, clock in conn.execute(
        """SELECT device_id, rank, queue_depth, clock FROM (
               SELECT device_id, queue_depth, clock,
                      row_number() OVER (PARTITION BY device_id ORDER BY time DESC) AS rank
               FROM device_heartbeats WHERE received_at <= %s) b WHERE rank <= %s""",
        (until, m),
    ):
        i = index.get(device)
        if i is None:
            continue
        depths[i, m - rank] = depth
        if rank == 1:
            unsynced[i] = clock != protocol.CLOCK_SYNCED
    return DeviceHealth(offline, newest, received, depths, unsynced)
