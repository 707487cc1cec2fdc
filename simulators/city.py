"""The virtual city: tide, rain, drainage and traffic coupled over every site, then sensor faults.

``simulate(config)`` is a pure function of its config: the same seed gives the same arrays. Rain
cells and incidents are drawn per local day from a generator seeded by (seed, day), and the
drainage reservoirs spin up over the hours before ``start``, so a window of a longer run has the
same tide, storms, floods and incidents whether simulated alone or in a chunked stream (only
measurement noise and per-step traffic randomness are drawn per window).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.protocol import Kind
from forecasting.calendar import LOCAL_UTC_OFFSET_S
from simulators import rain, tide, traffic, water
from simulators.events import Event, detect
from simulators.faults import Fault, apply_value_faults
from simulators.sites import (
    CANAL_ALARM_M,
    CONGESTED_SPEED_KMH,
    STREET_FLOOD_DEPTH_M,
    SensorRef,
    Site,
    SiteKind,
    grid_km,
    sensors_of,
    site_column,
)

SPIN_UP_S = 6 * 3600.0
CONGESTION_MIN_S = 10 * 60.0
NOISE_SIGMA = {Kind.WATER_LEVEL: 0.004, Kind.RAINFALL: 0.0, Kind.TRAFFIC_COUNT: 0.0, Kind.TRAFFIC_SPEED: 1.2}
DECIMALS = 4


@dataclass(frozen=True)
class CityConfig:
    sites: tuple[Site, ...]
    start: float  # Unix s, a multiple of step_s is tidy but not required
    duration_s: float
    step_s: float = 60.0
    seed: int = 0
    natural_rain: bool = True  # cells drawn from the season's climatology
    storms: tuple[rain.StormCell, ...] = ()  # extra cells a scenario places
    faults: tuple[Fault, ...] = ()
    drainage: water.Drainage = water.Drainage()  # how the streets' drains work (another law: another city)

    @property
    def n_steps(self) -> int:
        return int(round(self.duration_s / self.step_s))


@dataclass(frozen=True)
class Simulation:
    """Arrays are (n_sensors, n_steps) in canonical units; rows follow ``sensors``."""

    config: CityConfig
    sensors: list[SensorRef]
    times: npt.NDArray[np.float64]
    truth: npt.NDArray[np.float64]  # what a healthy sensor reports (measurement noise included)
    observed: npt.NDArray[np.float64]  # after value faults; NaN: no reading taken
    events: list[Event]
    cells: list[rain.StormCell] = field(default_factory=list)
    incidents: list[traffic.Incident] = field(default_factory=list)


def _day_rng(seed: int, day: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, day, stream])


def _days(start: float, end: float) -> range:
    offset = LOCAL_UTC_OFFSET_S
    return range(int((start + offset) // 86_400), int((end + offset) // 86_400) + 1)


def _cells(config: CityConfig, start: float, end: float) -> list[rain.StormCell]:
    cells = list(config.storms)
    if config.natural_rain:
        for day in _days(start, end):
            midnight = day * 86_400 - LOCAL_UTC_OFFSET_S
            cells += rain.draw_cells(midnight, midnight + 86_399, _day_rng(config.seed, day, 1))
    return [c for c in cells if c.last_rain() > start and c.birth < end]


def _incidents(config: CityConfig, n_segments: int, start: float, end: float) -> list[traffic.Incident]:
    found = []
    for day in _days(start, end):
        midnight = day * 86_400 - LOCAL_UTC_OFFSET_S
        found += traffic.draw_incidents(n_segments, midnight, midnight + 86_400, _day_rng(config.seed, day, 2))
    return [i for i in found if i.end > start and i.start < end]


def _segments(sites: list[Site]) -> traffic.Segments:
    """Junctions carry more traffic than streets; parameters vary per site, fixed by its id."""
    capacity, free, ratio = [], [], []
    for s in sites:
        r = np.random.default_rng(list(s.site_id.encode()))
        junction = s.kind == SiteKind.JUNCTION
        capacity.append(r.uniform(4000, 7000) if junction else r.uniform(1800, 3500))
        free.append(r.uniform(38, 50))
        ratio.append(r.uniform(1.0, 1.35) if junction else r.uniform(0.8, 1.15))
    return traffic.Segments(np.array(capacity), np.array(free), np.array(ratio))


def _nearest_street(sites: list[Site], xy: npt.NDArray[np.float64], max_km: float = 1.5) -> npt.NDArray[np.int64]:
    """For each site, the index of the nearest street within ``max_km`` (the site itself if a street), else -1."""
    streets = np.array([i for i, s in enumerate(sites) if s.kind == SiteKind.STREET], dtype=np.int64)
    if len(streets) == 0:
        return np.full(len(sites), -1)
    d = np.hypot(*(xy[:, None, :] - xy[None, streets, :]).transpose(2, 0, 1))
    nearest = streets[np.argmin(d, axis=1)]
    return np.where(d.min(axis=1) <= max_km, nearest, -1)


def simulate(config: CityConfig) -> Simulation:
    sites = list(config.sites)
    sensors = sensors_of(sites)
    step = config.step_s
    spin = int(np.ceil(SPIN_UP_S / step))
    times_all = config.start + step * np.arange(-spin, config.n_steps, dtype=np.float64)
    xy = grid_km(sites)
    kinds = np.array([s.kind for s in sites])

    # Water, at streets and canals only: the river tide reaches each after its lag; streets pond;
    # canals rise with rain.
    cells = _cells(config, float(times_all[0]), float(times_all[-1]) + step)
    rate = rain.intensity(cells, times_all, xy)  # mm/h at every site
    is_street, is_canal = kinds == SiteKind.STREET, kinds == SiteKind.CANAL
    wet = is_street | is_canal
    lags = site_column(sites, "tide_lag_min")[wet] * 60.0
    river = np.full((len(sites), len(times_all)), np.nan)
    if wet.any():
        river[wet] = tide.predict(times_all, tide.PHU_AN, tide.PHU_AN_Z0_M, lags_s=lags, gains=np.full(len(lags), 0.97))
    depth = np.zeros((len(sites), len(times_all)))
    if is_street.any():
        streets = water.Streets(site_column(sites, "ground_m")[is_street], site_column(sites, "drain_mm_h")[is_street])
        depth[is_street] = water.street_depth(streets.actual(config.drainage), rate[is_street], river[is_street], step,
                                              drainage=config.drainage)  # fmt: skip
    stage = np.full((len(sites), len(times_all)), np.nan)
    stage[is_canal] = water.canal_stage(river[is_canal], rate[is_canal], step)

    # Traffic on streets and junctions, slowed or closed by water on the nearest street.
    link = _nearest_street(sites, xy)
    flood_on_road = np.where(link[:, None] >= 0, depth[np.maximum(link, 0)], 0.0)
    rng = np.random.default_rng([config.seed, int(config.start), 3])
    incidents = _incidents(config, len(sites), float(times_all[0]), float(times_all[-1]) + step)
    counts, speed = traffic.simulate(_segments(sites), times_all, step, rate, flood_on_road, incidents, rng)

    keep = slice(spin, None)
    times = times_all[keep]
    by_kind = {
        Kind.RAINFALL: rate[:, keep] * step / 3600.0,  # mm in the step
        Kind.TRAFFIC_COUNT: counts[:, keep],
        Kind.TRAFFIC_SPEED: speed[:, keep],
        Kind.WATER_LEVEL: np.where(is_street[:, None], depth[:, keep], stage[:, keep]),
    }
    rows = np.array([s.site_index for s in sensors], dtype=np.int64)
    truth = np.empty((len(sensors), len(times)))
    for kind, block in by_kind.items():
        mine = np.array([s.kind == kind for s in sensors])
        values = block[rows[mine]]
        if NOISE_SIGMA[kind]:
            values = values + rng.normal(0, NOISE_SIGMA[kind], values.shape)
        if kind == Kind.WATER_LEVEL:  # depth sensors cannot read below the road
            values = np.where(is_street[rows[mine], None], np.maximum(values, 0.0), values)
        truth[mine] = values
    truth = np.round(truth, DECIMALS)
    observed = np.round(
        apply_value_faults(truth, times, list(config.faults), {s.full_name: s.index for s in sensors}, rng), DECIMALS
    )
    events = _events(sites, times, depth[:, keep], stage[:, keep], speed[:, keep], step)
    return Simulation(config, sensors, times, truth, observed, events, cells, incidents)


def _events(
    sites: list[Site],
    times: npt.NDArray[np.float64],
    depth: npt.NDArray[np.float64],
    stage: npt.NDArray[np.float64],
    speed: npt.NDArray[np.float64],
    step: float,
) -> list[Event]:
    ids = [s.site_id for s in sites]
    kinds = np.array([s.kind for s in sites])
    street, canal = kinds == SiteKind.STREET, kinds == SiteKind.CANAL
    traffic_site = street | (kinds == SiteKind.JUNCTION)

    def pick(mask: npt.NDArray[np.bool_]) -> list[str]:
        return [i for i, m in zip(ids, mask, strict=True) if m]

    floods = detect("flood", pick(street), times, depth[street], np.full(street.sum(), STREET_FLOOD_DEPTH_M))
    high = detect("high_water", pick(canal), times, stage[canal], np.full(canal.sum(), CANAL_ALARM_M))
    jams = detect("congestion", pick(traffic_site), times, speed[traffic_site],
                  np.full(traffic_site.sum(), CONGESTED_SPEED_KMH), above=False,
                  min_steps=max(1, int(np.ceil(CONGESTION_MIN_S / step))))  # fmt: skip
    return sorted(floods + high + jams, key=lambda e: (e.start, e.kind, e.site_id))
