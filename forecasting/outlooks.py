"""The street-flood outlook in the forecast service: which sensors are streets, rain as rates, the outlooks table.

A street is a water-level sensor whose device registered ``drainage`` metadata (``crown_m``,
``drain_mm_h``, ``river_km``: docs/forecasting.md); the other placed water-level sensors are the
river and canal gauges its drains work against; every placed rainfall sensor is a rain gauge. Each
forecast cycle fits ``forecasting.floods.StreetFloods`` on the history it already read, issues the
outlook, puts the streets' P(depth > alarm depth by each target) into their forecasts rows and
writes the tiers to ``flood_outlooks``. ``street_outlook`` is pure; the two SQL functions are the shell.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import psycopg

from edge.protocol import Kind
from forecasting.drainage import StreetFacts
from forecasting.floods import FloodOutlook, StreetFloods, Tier
from forecasting.series import Array, Series
from storage.sqlvalues import number_or_none

DRAINAGE_KEYS = ("crown_m", "drain_mm_h", "river_km")

Ints = npt.NDArray[np.int64]


@dataclass
class OutlookCache:
    """The fitted outlook kept between the cycles of one service process: refitted every
    ``refit_after_s`` of data (and whenever the streets, gauges or river gauges change), only updated
    with each cycle's newer history in between. A restarted service simply fits again."""

    refit_after_s: float = 6 * 3600.0
    key: tuple[int, ...] = ()
    model: StreetFloods | None = None
    fitted_until: float = float("-inf")

    def usable(self, key: tuple[int, ...], end: float, defer_refit: bool = False) -> StreetFloods | None:
        """The kept model if it fits these sensors and is young enough (or its due refit is deferred)."""
        young = defer_refit or end - self.fitted_until < self.refit_after_s
        return self.model if self.model is not None and key == self.key and young else None


@dataclass(frozen=True)
class StreetOutlook:
    """The outlook for the street sensors at ``rows`` (rows of the service's sensors), with their alarm depths."""

    rows: Ints
    outlook: FloodOutlook
    thresholds: Array


def load_drainage(conn: psycopg.Connection, sensor_ids: npt.NDArray[np.int64]) -> Array:
    """(n, 3) each sensor's registered ``drainage`` facts (sensor metadata over its device's), NaN where none."""
    columns = ", ".join(f"(coalesce(s.metadata -> 'drainage', d.metadata -> 'drainage') ->> '{k}')::float8"
                        for k in DRAINAGE_KEYS)  # fmt: skip
    rows = conn.execute(
        f"SELECT s.sensor_id, {columns} FROM sensors s JOIN devices d USING (device_id) WHERE s.sensor_id = ANY(%s)",
        (sensor_ids.tolist(),),
    ).fetchall()
    facts = np.full((len(sensor_ids), len(DRAINAGE_KEYS)), np.nan)
    position = {int(sensor): i for i, sensor in enumerate(sensor_ids)}
    for sensor, *values in rows:
        facts[position[sensor]] = [np.nan if v is None else v for v in values]
    return facts


def rain_rates(mean: Array, samples: npt.NDArray[np.int64], step_s: float) -> Array:
    """Rain rate (mm/h) per bucket from the bucket's mean reading (mm per reading) and its number of readings."""
    rates: Array = np.where(samples > 0, mean * samples * 3600.0 / step_s, np.nan)
    return rates


def street_outlook(
    ids: npt.NDArray[np.int64],
    kinds: npt.NDArray[np.str_],
    xy_km: Array,
    thresholds: Array,
    drainage: Array,
    history: Series,
    rates: Array,
    mine: npt.NDArray[np.bool_],
    horizon: int,
    cache: OutlookCache | None = None,
    defer_refit: bool = False,
) -> StreetOutlook | None:
    """The outlook for the streets among ``mine`` (None without streets or rain gauges).

    ``history`` holds every sensor's bucket means (rows as ``ids``/``kinds``), ``rates`` the rain
    rates of the same buckets (mm/h, read only for rainfall sensors), ``drainage`` the registered
    facts. Without ``cache`` (pure) the outlook is fitted on ``history``; with it, a fit younger
    than ``cache.refit_after_s`` (or any fit of the same sensors, with ``defer_refit``) is updated
    instead, and a new fit is kept there.
    """
    placed = np.isfinite(xy_km).all(axis=1)
    water = (kinds == Kind.WATER_LEVEL) & placed
    registered = np.isfinite(drainage[:, 0])
    streets = np.flatnonzero(water & registered & mine)
    rivers = np.flatnonzero(water & ~registered)
    gauges = np.flatnonzero((kinds == Kind.RAINFALL) & placed)
    if not len(streets) or not len(gauges):
        return None
    facts = StreetFacts(drainage[streets, 0], drainage[streets, 1], drainage[streets, 2])
    alarm = np.where(np.isfinite(thresholds[streets]), thresholds[streets], 0.10)

    def rows(r: Ints, values: Array) -> Series:
        return Series(history.start, history.step_s, values[r])

    depth, rain, river = rows(streets, history.values), rows(gauges, rates), rows(rivers, history.values)
    key = (*ids[streets].tolist(), -1, *ids[gauges].tolist(), -1, *ids[rivers].tolist(), int(history.step_s))
    model = cache.usable(key, history.end, defer_refit) if cache is not None else None
    if model is not None:
        model.update(depth, rain, river)
    else:
        model = StreetFloods(xy_km[streets], facts, xy_km[gauges], xy_km[rivers], thresholds=alarm)
        model.fit(depth, rain, river, horizon)
        if cache is not None:
            cache.key, cache.model, cache.fitted_until = key, model, history.end
    return StreetOutlook(streets, model.predict(horizon), alarm)


def with_outlook(rows: Ints, probability: Array | None, streets: StreetOutlook | None) -> Array | None:
    """The exceedance probabilities of the forecast rows ``rows`` with the streets' taken from the outlook."""
    if streets is None or probability is None:
        return probability
    out = probability.copy()
    at = {int(r): k for k, r in enumerate(rows)}
    mine = np.array([at.get(int(r), -1) for r in streets.rows])
    found = mine >= 0
    horizon = min(out.shape[1], streets.outlook.probability.shape[1])
    out[mine[found], :horizon] = streets.outlook.probability[found, :horizon]
    return out


def write_outlooks(
    conn: psycopg.Connection, sensor_ids: npt.NDArray[np.int64], streets: StreetOutlook | None, issued_at: datetime,
    keep_days: float,
) -> int:  # fmt: skip
    """Replace this issue's outlooks for these streets and drop ones older than ``keep_days``; rows written."""
    if streets is None:
        return 0
    ids = [int(sensor_ids[r]) for r in streets.rows]
    conn.execute("DELETE FROM flood_outlooks WHERE issued_at = %s AND sensor_id = ANY(%s)", (issued_at, ids))
    conn.execute("DELETE FROM flood_outlooks WHERE issued_at < %s", (issued_at - timedelta(days=keep_days),))
    o = streets.outlook
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO flood_outlooks (sensor_id, issued_at, tier, warning_probability, watch_probability,
                   expected_crossing, threshold) VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            [(sensor, issued_at, Tier(int(o.tier[k])).label, float(o.warning_probability[k]),
              float(o.watch_probability[k]),
              None if not np.isfinite(o.crossing[k]) else datetime.fromtimestamp(float(o.crossing[k]), UTC),
              number_or_none(streets.thresholds[k])) for k, sensor in enumerate(ids)],
        )  # fmt: skip
    return len(ids)
