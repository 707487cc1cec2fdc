"""Storm cells that are born, move, merge and decay; the storm scenarios; the other drainage city."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import numpy as np

from simulators import city, rain, scenarios, tide, water
from simulators.sites import SiteKind, city_sites, grid_km

HCMC = scenarios.HCMC
T0 = datetime(2026, 9, 1, 15, tzinfo=HCMC).timestamp()


def _cell(**changes: float) -> rain.StormCell:
    base = rain.StormCell(T0, 3600.0, 50.0, 0.0, 0.0, 4.0, -15.0, 0.0, growth_s=900.0)
    return dataclasses.replace(base, **changes)


def test_a_cell_is_born_grows_to_its_peak_then_decays_and_dies() -> None:
    cell = _cell()
    times = T0 + 60.0 * np.arange(-30, 75, dtype=np.float64)
    at_centre = np.array([[float(c) for c in cell.position(t)] for t in times])
    peak, width = rain.envelope(cell, times)
    assert peak[times < cell.birth].max() == 0.0 and peak[times > cell.death].max() == 0.0
    assert times[np.argmax(peak)] == T0 and np.isclose(peak.max(), 50.0)
    rising, falling = peak[(times >= cell.birth) & (times <= T0)], peak[(times >= T0) & (times <= cell.death)]
    assert (np.diff(rising) >= 0).all() and (np.diff(falling) <= 0).all()
    assert width[times == T0][0] > width[times == cell.birth + 60][0]  # a young cell is small
    # It moves with its velocity: 15 km/h west means 15 km west of where it peaks an hour later.
    assert np.allclose(at_centre[-15], [-15.0 * (times[-15] - T0) / 3600, 0.0])


def test_rain_moves_downwind_a_gauge_upwind_is_wet_first() -> None:
    cell = _cell(x_km=9.0, duration_s=7200.0)  # peaks 9 km east of the origin, moving west at 15 km/h
    times = T0 + 60.0 * np.arange(-30, 120, dtype=np.float64)
    rates = rain.intensity([cell], times, np.array([[6.0, 0.0], [-6.0, 0.0]]))  # east (upwind), west
    assert (rates.max(axis=1) > 5.0).all()
    first_wet = [times[np.argmax(r > 5.0)] for r in rates]
    assert first_wet[1] - first_wet[0] > 20 * 60  # 12 km apart: the western gauge waits


def test_converging_cells_merge_the_weaker_dies_and_the_stronger_grows() -> None:
    strong = _cell(x_km=-6.0, vx_km_h=6.0, duration_s=7200.0)
    weak = _cell(x_km=6.0, vx_km_h=-6.0, peak_mm_h=20.0, duration_s=7200.0)
    merged = rain.merge([strong, weak])
    assert merged[1].end_time is not None and merged[0].boost > 0 and merged[0].boost_time == merged[1].end_time
    meeting = merged[1].end_time
    gap = np.hypot(*(np.array([float(v) for v in merged[0].position(meeting)])
                     - np.array([float(v) for v in merged[1].position(meeting)])))  # fmt: skip
    assert np.isclose(gap, rain.MERGE_DISTANCE * 8.0, atol=1e-6)
    times = T0 + 60.0 * np.arange(0, 120, dtype=np.float64)
    faded = rain.envelope(merged[1], times)[0]
    assert faded[times > meeting + rain.MERGE_FADE_S].max() == 0.0
    after = times > meeting + 600
    assert (rain.envelope(merged[0], times)[0][after] > rain.envelope(strong, times)[0][after]).any()
    # Cells born within reach of each other are one complex (new cells on a flank), not a merger.
    neighbours = rain.merge([_cell(), _cell(x_km=2.0, peak_time=T0 + 600)])
    assert all(c.end_time is None for c in neighbours)


def test_a_season_of_storms_matches_published_convective_cell_statistics() -> None:
    """docs/simulators.md: cell lifetimes, speeds and sizes next to radar climatologies."""
    cells = rain.draw_cells(T0, T0 + 120 * 86_400.0, np.random.default_rng(5))
    life_min = np.array([(c.last_rain() - c.birth) / 60 for c in cells])
    speed = np.array([np.hypot(c.vx_km_h, c.vy_km_h) for c in cells])
    assert 35 < np.median(life_min) < 75 and np.percentile(life_min, 90) < 150
    assert 10 < np.median(speed) < 25 and np.percentile(speed, 90) > 25
    assert 3.0 < np.median([c.radius_km for c in cells]) < 6.0
    assert 0.05 < np.mean([c.end_time is not None for c in cells]) < 0.4  # some cells merge
    # Storms do not all drift one way: a good share of days move more than 60 degrees off the prevailing.
    days = {int((c.birth + 7 * 3600) // 86_400): c for c in cells}.values()
    bearing = np.degrees(np.arctan2([c.vx_km_h for c in days], [c.vy_km_h for c in days])) % 360
    off = np.abs((bearing - rain.PREVAILING_TOWARD_DEG + 180) % 360 - 180)
    assert (off > 60).mean() > 0.2 and (off < 45).mean() > 0.3


def _storms(name: str, seed: int = 0) -> tuple[city.CityConfig, tuple[rain.StormCell, ...]]:
    config = scenarios.scenario_config(name, tuple(city_sites(48)), step_s=300, seed=seed)
    return config, tuple(c for c in config.storms if c.radius_km < 9)  # convective cells, not the stratiform shield


def test_the_storm_scenarios_place_what_they_say() -> None:
    _, monsoon = _storms("monsoon-storm")
    assert np.median([c.vx_km_h for c in monsoon]) < -5  # from the east-north-east, moving west
    _, west = _storms("storm-from-west")
    assert np.median([c.vx_km_h for c in west]) > 5  # the other way
    _, still = _storms("stationary-cell")
    assert max(np.hypot(c.vx_km_h, c.vy_km_h) for c in still) < 8.0
    config, both = _storms("back-to-back")
    peaks = sorted(c.peak_time for c in both)
    assert peaks[-1] - peaks[0] > 2 * 3600  # two storms, hours apart
    config, low = _storms("storm-at-low-tide")
    times = config.start + 300.0 * np.arange(144, dtype=np.float64)
    low_water = float(times[np.argmin(tide.phu_an(times))])
    assert abs(np.median([c.peak_time for c in low]) - low_water) < 2 * 3600
    # Another seed, another storm of the same kind.
    assert _storms("monsoon-storm", 1)[1][0].peak_mm_h != monsoon[0].peak_mm_h


def test_a_king_tide_floods_the_lowest_streets_without_rain_but_not_where_flap_gates_hold() -> None:
    sites = tuple(city_sites(48))
    config = scenarios.scenario_config("king-tide", sites, step_s=300)
    sim = city.simulate(config)
    rainfall = np.array([s.kind == "rainfall" for s in sim.sensors])
    assert sim.truth[rainfall].max() == 0.0
    flooded = {e.site_id for e in sim.events if e.kind == "flood"}
    ground = {s.site_id: s.ground_m for s in sites if s.kind == SiteKind.STREET}
    assert {"nguyen-huu-canh", "le-van-luong"} <= flooded and all(ground[s] < 1.6 for s in flooded)
    gated = city.simulate(dataclasses.replace(config, drainage=water.GATED_CITY))
    assert not [e for e in gated.events if e.kind == "flood"]


def test_the_gated_city_drains_differently_from_the_same_storm() -> None:
    sites = tuple(city_sites(48))
    config = scenarios.scenario_config("monsoon-storm", sites, step_s=300)
    default, gated = city.simulate(config), city.simulate(dataclasses.replace(config, drainage=water.GATED_CITY))
    depth = np.array([s.kind == "water_level" and sites[s.site_index].kind == SiteKind.STREET for s in default.sensors])
    assert default.truth[depth].max() > 0.1 and gated.truth[depth].max() > 0.1  # both flood in a heavy storm
    assert not np.allclose(default.truth[depth], gated.truth[depth], atol=0.02)  # but not alike
    registered = water.Streets(np.array([s.ground_m for s in sites if s.kind == SiteKind.STREET]),
                               np.array([s.drain_mm_h for s in sites if s.kind == SiteKind.STREET]))  # fmt: skip
    actual = registered.actual(water.GATED_CITY)
    assert not np.allclose(actual.drain_mm_h, registered.drain_mm_h)  # its registry is only roughly right
    assert np.allclose(registered.actual(water.Drainage()).drain_mm_h, registered.drain_mm_h)
    assert grid_km(list(sites)).shape == (48, 2)
