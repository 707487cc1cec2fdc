"""Named scenarios: a window of the city's life, with what the scenario adds to it.

normal-day      a wet-season weekday, rain as the season brings it
monsoon-storm   a slow, heavy storm over the riverside districts that peaks as an evening spring
                high tide blocks the drains (the storm is placed; the flooding is not)
tet-holiday     two weeks around Tet (the Lunar New Year), dry season
sensor-faults   twelve wet-season hours with every fault kind injected (see ``simulators.faults``)

Each has a fixed default start so a seed means the same city every time; ``--start`` moves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from simulators import rain, tide
from simulators.city import CityConfig
from simulators.faults import DEFAULT_PARAMS, FaultKind, FaultParams, plan_faults
from simulators.sites import Site, SiteKind, grid_km, sensors_of

HCMC = timezone(timedelta(hours=7))
STORM_LEAD_ON_HIGH_WATER_S = 45 * 60  # the storm peaks this long before the evening high water


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


def storm_over_riverside(sites: tuple[Site, ...], peak_time: float) -> rain.StormCell:
    """A slow 2-hour cell, 65 mm/h at its core, centred on the city's flood-prone streets.

    Strong enough to flood several low streets when the tide blocks their drains, and (a test
    checks) too weak to flood any at low water: the flooding comes from rain x tide.
    """
    streets = [s for s in sites if s.kind == SiteKind.STREET] or list(sites)
    centre = grid_km(streets).mean(axis=0)
    return rain.StormCell(peak_time, 2.0 * 3600, 65.0, float(centre[0]), float(centre[1]), 9.0, -2.0, -1.0)


def _monsoon_storm(
    sites: tuple[Site, ...], start: float, seconds: float, step: float, seed: int, _f: dict[FaultKind, FaultParams]
) -> CityConfig:
    peak = evening_high_water(start, seconds) - STORM_LEAD_ON_HIGH_WATER_S
    return CityConfig(sites, start, seconds, step, seed, storms=(storm_over_riverside(sites, peak),))


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
            "a heavy storm meets an evening spring high tide",
            datetime(2026, 11, 9, 12, tzinfo=HCMC),
            24,
            _monsoon_storm,
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
