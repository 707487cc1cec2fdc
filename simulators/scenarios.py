"""Named scenarios: a window of the city's life, with what the scenario adds to it.

normal-day         a wet-season weekday, rain as the season brings it
monsoon-storm      a squall line from the east-north-east crosses the riverside districts as an
                   evening spring high tide blocks the drains (the storm is placed; the flooding is not)
storm-from-west    the same kind of storm coming the other way (towards the east-north-east)
stationary-cell    a cluster of cells born over the riverside streets that hardly moves: rain
                   no gauge sees coming
back-to-back       two squall lines 2.5 hours apart, the second at the evening high water
storm-at-low-tide  the monsoon storm at the afternoon low water: heavy rain the drains can carry
king-tide          the highest tide of the year (27 November 2026) on a dry evening
tet-holiday        two weeks around Tet (the Lunar New Year), dry season
sensor-faults      twelve wet-season hours with every fault kind injected (see ``simulators.faults``)

Each has a fixed default start so a seed means the same city every time; ``--start`` moves it.
The placed storms are drawn from the seed too (direction within 20 degrees, speed, cell sizes and
intensities), so each seed is another storm of the same kind, not the same storm again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import numpy.typing as npt

from simulators import rain, tide
from simulators.city import CityConfig
from simulators.faults import DEFAULT_PARAMS, FaultKind, FaultParams, plan_faults
from simulators.sites import Site, SiteKind, grid_km, sensors_of

HCMC = timezone(timedelta(hours=7))
STORM_LEAD_ON_HIGH_WATER_S = 45 * 60  # the storm peaks this long before the evening high water
STORM_TOTAL_MM = 40.0  # a placed squall line's mean rain over the flood-prone streets
STATIONARY_TOTAL_MM = 35.0
STORM_APPROACH_S = 75 * 60  # a placed squall line's first cells are born this long before it crosses the streets
BACK_TO_BACK_GAP_S = 2.5 * 3600
EAST_NORTH_EAST_WIND = 250.0  # compass bearing the storm moves towards: the prevailing drift (rain.py)
WEST_WIND = 70.0  # and the other way


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    default_start: datetime
    default_hours: float
    build: Callable[[tuple[Site, ...], float, float, float, int, dict[FaultKind, FaultParams]], CityConfig]


def _plain(
    sites: tuple[Site, ...], start: float, seconds: float, step: float, seed: int, _f: dict[FaultKind, FaultParams]
) -> CityConfig:
    return CityConfig(sites, start, seconds, step, seed)


def evening_high_water(start: float, seconds: float) -> float:
    """Time of the highest river level between 14:00 and 22:00 local on the window's first such evening."""
    times = start + np.arange(0.0, min(seconds, 36 * 3600), 300.0)
    hour = ((times + 7 * 3600) % 86_400) / 3600
    level = np.where((hour >= 14) & (hour <= 22), tide.phu_an(times), -np.inf)
    return float(times[int(np.argmax(level))])


def _street_centre(sites: tuple[Site, ...]) -> npt.NDArray[np.float64]:
    streets = [s for s in sites if s.kind == SiteKind.STREET] or list(sites)
    centre: npt.NDArray[np.float64] = grid_km(streets).mean(axis=0)
    return centre


def squall_line(
    sites: tuple[Site, ...], peak_time: float, toward_deg: float, rng: np.random.Generator
) -> tuple[rain.StormCell, ...]:
    """A squall line (6 generations of 4 convective cells on a 20-26 km line, with trailing stratiform
    rain) that crosses the flood-prone streets' centre around ``peak_time``, moving towards
    ``toward_deg`` (+- 10 degrees) at 12-20 km/h.

    Its first cells are born 75 minutes before, 15-25 km upwind: at the edge of the gauge network,
    as real storms are. Strong enough to flood several low streets when the tide blocks their
    drains, and (a test checks) far fewer at low water: the flooding comes from rain x tide.
    """
    steering = rain.Steering(toward_deg + float(rng.normal(0.0, 10.0)), float(rng.uniform(10.0, 16.0)))
    cells = rain.system_cells(peak_time - STORM_APPROACH_S, (0.0, 0.0), steering, rng, generations=6,
                              per_generation=4, line_km=float(rng.uniform(20.0, 26.0)), peak_median_mm_h=45.0,
                              peak_spread=0.3)  # fmt: skip
    vx, vy = steering.velocity()
    behind = 8.0 / max(steering.speed_km_h, 1.0) * 3600  # the stratiform shield trails the line by ~8 km
    born = peak_time - STORM_APPROACH_S + 1800.0
    stratiform = rain.StormCell(
        peak_time=born + 1800.0, duration_s=3 * 3600.0, peak_mm_h=float(rng.uniform(10.0, 16.0)),
        x_km=float(np.mean([c.position(born + 1800.0)[0] for c in cells]) - vx * behind / 3600),
        y_km=float(np.mean([c.position(born + 1800.0)[1] for c in cells]) - vy * behind / 3600),
        radius_km=10.0, vx_km_h=vx, vy_km_h=vy, growth_s=1800.0,
    )  # fmt: skip
    return _scaled(_centred([*cells, stratiform], _street_centre(sites), peak_time), sites, STORM_TOTAL_MM)


def _scaled(cells: tuple[rain.StormCell, ...], sites: tuple[Site, ...], total_mm: float) -> tuple[rain.StormCell, ...]:
    """The cells with their intensities scaled so that the flood-prone streets get ``total_mm`` on average:
    seeds change the storm's shape, track and timing, not how heavy a storm the scenario is."""
    xy = grid_km([s for s in sites if s.kind == SiteKind.STREET] or list(sites))
    lo, hi = min(c.birth for c in cells), max(c.last_rain() for c in cells)
    times = np.arange(lo, hi, 60.0)
    got = float(rain.intensity(cells, times, xy).sum(axis=1).mean()) / 60.0
    factor = total_mm / max(got, 1e-9)
    return tuple(dataclasses.replace(c, peak_mm_h=c.peak_mm_h * factor) for c in cells)


def stationary_cluster(
    sites: tuple[Site, ...], peak_time: float, rng: np.random.Generator
) -> tuple[rain.StormCell, ...]:
    """Three generations of two cells born over the riverside streets, drifting at 1-3 km/h."""
    steering = rain.Steering(float(rng.uniform(0, 360)), float(rng.uniform(1.0, 3.0)))
    cells = rain.system_cells(peak_time - 1800.0, (0.0, 0.0), steering, rng, generations=3, per_generation=2,
                              line_km=8.0, peak_median_mm_h=70.0)  # fmt: skip
    return _scaled(_centred(cells, _street_centre(sites), peak_time), sites, STATIONARY_TOTAL_MM)


def _centred(cells: list[rain.StormCell], target: npt.NDArray[np.float64], at: float) -> tuple[rain.StormCell, ...]:
    """The cells moved in space so that their rain-weighted centre at ``at`` lies over ``target``; merged."""
    power = np.array([float(rain.envelope(c, np.array([at]))[0][0]) * c.radius_km**2 for c in cells])
    where = np.array([[float(v) for v in c.position(at)] for c in cells])
    shift = target - (power[:, None] * where).sum(axis=0) / max(power.sum(), 1e-9)
    moved = [dataclasses.replace(c, x_km=c.x_km + float(shift[0]), y_km=c.y_km + float(shift[1])) for c in cells]
    return tuple(rain.merge(moved))


def _storm_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, 5])


def _placed(
    sites: tuple[Site, ...], start: float, seconds: float, step: float, seed: int, storms: tuple[rain.StormCell, ...]
) -> CityConfig:
    return CityConfig(sites, start, seconds, step, seed, storms=storms)


def _monsoon_storm(
    sites: tuple[Site, ...], start: float, seconds: float, step: float, seed: int, _f: dict[FaultKind, FaultParams]
) -> CityConfig:
    peak = evening_high_water(start, seconds) - STORM_LEAD_ON_HIGH_WATER_S
    return _placed(sites, start, seconds, step, seed, squall_line(sites, peak, EAST_NORTH_EAST_WIND, _storm_rng(seed)))


def _storm_from_west(
    sites: tuple[Site, ...], start: float, seconds: float, step: float, seed: int, _f: dict[FaultKind, FaultParams]
) -> CityConfig:
    peak = evening_high_water(start, seconds) - STORM_LEAD_ON_HIGH_WATER_S
    return _placed(sites, start, seconds, step, seed, squall_line(sites, peak, WEST_WIND, _storm_rng(seed)))


def _stationary_cell(
    sites: tuple[Site, ...], start: float, seconds: float, step: float, seed: int, _f: dict[FaultKind, FaultParams]
) -> CityConfig:
    peak = evening_high_water(start, seconds) - STORM_LEAD_ON_HIGH_WATER_S
    return _placed(sites, start, seconds, step, seed, stationary_cluster(sites, peak, _storm_rng(seed)))


def _back_to_back(
    sites: tuple[Site, ...], start: float, seconds: float, step: float, seed: int, _f: dict[FaultKind, FaultParams]
) -> CityConfig:
    high = evening_high_water(start, seconds)
    rng = _storm_rng(seed)
    first = squall_line(sites, high - STORM_LEAD_ON_HIGH_WATER_S - BACK_TO_BACK_GAP_S, EAST_NORTH_EAST_WIND, rng)
    second = squall_line(sites, high - STORM_LEAD_ON_HIGH_WATER_S, EAST_NORTH_EAST_WIND, rng)
    return _placed(sites, start, seconds, step, seed, first + second)


def _storm_at_low_tide(
    sites: tuple[Site, ...], start: float, seconds: float, step: float, seed: int, _f: dict[FaultKind, FaultParams]
) -> CityConfig:
    times = start + np.arange(0.0, min(seconds, 12 * 3600), 300.0)
    low = float(times[int(np.argmin(tide.phu_an(times)))])
    return _placed(sites, start, seconds, step, seed, squall_line(sites, low, EAST_NORTH_EAST_WIND, _storm_rng(seed)))


def _king_tide(
    sites: tuple[Site, ...], start: float, seconds: float, step: float, seed: int, _f: dict[FaultKind, FaultParams]
) -> CityConfig:
    return CityConfig(sites, start, seconds, step, seed, natural_rain=False)


def _sensor_faults(
    sites: tuple[Site, ...],
    start: float,
    seconds: float,
    step: float,
    seed: int,
    params: dict[FaultKind, FaultParams],
) -> CityConfig:
    sensors = [s.full_name for s in sensors_of(list(sites))]
    rng = np.random.default_rng([seed, 4])
    faults = plan_faults(sensors, [s.site_id for s in sites], start, start + seconds, params, rng)
    return CityConfig(sites, start, seconds, step, seed, faults=tuple(faults))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("normal-day", "a wet-season weekday", datetime(2026, 9, 15, tzinfo=HCMC), 24, _plain),
        Scenario(
            "monsoon-storm",
            "a squall line meets an evening spring high tide",
            datetime(2026, 11, 9, 12, tzinfo=HCMC),
            24,
            _monsoon_storm,
        ),
        Scenario(
            "storm-from-west",
            "a storm from the west meets an evening spring high tide",
            datetime(2026, 11, 9, 12, tzinfo=HCMC),
            24,
            _storm_from_west,
        ),
        Scenario(
            "stationary-cell",
            "a cell born over the streets that hardly moves, at high tide",
            datetime(2026, 11, 9, 12, tzinfo=HCMC),
            24,
            _stationary_cell,
        ),
        Scenario(
            "back-to-back",
            "two storms 2.5 h apart, the second at high tide",
            datetime(2026, 11, 9, 12, tzinfo=HCMC),
            24,
            _back_to_back,
        ),
        Scenario(
            "storm-at-low-tide",
            "the monsoon storm at the afternoon low water",
            datetime(2026, 11, 9, 12, tzinfo=HCMC),
            24,
            _storm_at_low_tide,
        ),
        Scenario(
            "king-tide",
            "the year's highest tide on a dry evening",
            datetime(2026, 11, 27, 12, tzinfo=HCMC),
            24,
            _king_tide,
        ),
        Scenario("tet-holiday", "two weeks around Tet 2026", datetime(2026, 2, 9, tzinfo=HCMC), 14 * 24, _plain),
        Scenario(
            "sensor-faults", "every fault kind injected", datetime(2026, 9, 15, 6, tzinfo=HCMC), 12, _sensor_faults
        ),
    )
}


def scenario_config(
    name: str,
    sites: tuple[Site, ...],
    start: float | None = None,
    hours: float | None = None,
    step_s: float = 60.0,
    seed: int = 0,
    faults: dict[FaultKind, FaultParams] | None = None,
) -> CityConfig:
    """The city config of scenario ``name`` (its defaults for start and length unless given)."""
    try:
        scenario = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}") from None
    begin = scenario.default_start.timestamp() if start is None else start
    seconds = 3600.0 * (scenario.default_hours if hours is None else hours)
    return scenario.build(sites, begin, seconds, step_s, seed, DEFAULT_PARAMS if faults is None else faults)
