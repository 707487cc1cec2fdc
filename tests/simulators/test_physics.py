"""Statistical checks that the virtual city behaves like Ho Chi Minh City's tide, rain and traffic."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from forecasting import astronomy, calendar
from simulators import city, rain, scenarios, tide, traffic
from simulators.sites import CONGESTED_SPEED_KMH, SiteKind, bundled_sites, city_sites, sensors_of

HCMC = scenarios.HCMC


def _at(year: int, month: int, day: int, hour: int = 0) -> float:
    return datetime(year, month, day, hour, tzinfo=HCMC).timestamp()


def _every(start: float, step_s: float, n: int) -> np.ndarray:
    times: np.ndarray = start + step_s * np.arange(n, dtype=np.float64)
    return times


def test_constituent_speeds_follow_from_the_astronomy() -> None:
    speeds = astronomy.speeds_deg_per_hour(["M2", "S2", "N2", "K1", "O1", "M4"])
    assert speeds == pytest.approx([28.9841042, 30.0, 28.4397295, 15.0410686, 13.9430356, 57.9682084], abs=1e-6)


def test_the_tide_s_dominant_period_is_the_lunar_semidiurnal_12_42_hours() -> None:
    times = _every(_at(2026, 1, 1), 3600.0, 24 * 180)
    level = tide.phu_an(times)
    power = np.abs(np.fft.rfft(level - level.mean())) ** 2
    periods_h = 1 / np.fft.rfftfreq(len(level), d=1.0)[1:]
    assert periods_h[np.argmax(power[1:])] == pytest.approx(12.42, abs=0.05)


def test_a_spring_neap_cycle_and_the_highest_tides_in_october_to_december() -> None:
    times = _every(_at(2026, 1, 1), 600.0, 6 * 24 * 365)
    level = tide.phu_an(times)
    daily_range = np.ptp(level.reshape(365, -1), axis=1)
    # Ranges swing by a factor of two or more within each ~14.8-day spring-neap cycle.
    assert np.percentile(daily_range, 90) > 1.6 * np.percentile(daily_range, 10)
    month = np.array([datetime.fromtimestamp(t, HCMC).month for t in times[:: 6 * 24]])
    daily_high = level.reshape(365, -1).max(axis=1)
    assert daily_high[np.isin(month, (10, 11, 12))].max() > daily_high[np.isin(month, (3, 4, 5))].max() + 0.2
    assert 1.5 < daily_high.max() < 1.9  # the king-tide level of recent years at Phu An


def _rain_at_gauges(start: float, days: int, seed: int = 0) -> np.ndarray:
    gauges = tuple(s for s in bundled_sites() if s.kind == SiteKind.RAIN)
    sim = city.simulate(city.CityConfig(gauges, start, days * 86_400.0, 600.0, seed))
    return sim.truth


def test_rain_falls_in_the_wet_season_far_more_than_in_the_dry() -> None:
    wet = _rain_at_gauges(_at(2026, 7, 1), 60).sum(axis=1)
    dry = _rain_at_gauges(_at(2026, 1, 15), 60).sum(axis=1)
    assert wet.mean() > 10 * max(dry.mean(), 1.0)
    assert 300 < wet.mean() < 800  # two wet months: roughly 250-330 mm each


def test_storm_rain_is_correlated_between_nearby_gauges_not_distant_ones() -> None:
    sites = tuple(city_sites(48))
    cells = rain.draw_cells(_at(2026, 8, 1), _at(2026, 9, 1), np.random.default_rng(3))
    times = _every(_at(2026, 8, 1), 600.0, 31 * 144)
    xy = np.array([[0.0, 0.0], [1.5, 0.0], [20.0, 15.0]])  # km: a gauge, a neighbour, a far one
    rates = rain.intensity(cells, times, xy)
    corr = np.atleast_2d(np.corrcoef(rates))
    assert sites and corr[0, 1] > 0.8 > 0.3 > corr[0, 2]


def _street_traffic(start: float, days: int) -> tuple[np.ndarray, np.ndarray]:
    streets = tuple(s for s in bundled_sites() if s.kind == SiteKind.JUNCTION)
    sim = city.simulate(city.CityConfig(streets, start, days * 86_400.0, 300.0, 1, natural_rain=False))
    counts = np.array([s.kind == "traffic_count" for s in sim.sensors])
    return sim.times, sim.truth[counts]


def test_weekday_counts_peak_in_the_morning_and_evening_rush() -> None:
    times, counts = _street_traffic(_at(2026, 9, 14), 1)  # a Monday
    hourly = counts.sum(axis=0).reshape(24, 12).sum(axis=1)
    morning, evening = int(np.argmax(hourly[:12])), 12 + int(np.argmax(hourly[12:]))
    assert morning in (7, 8) and evening in (17, 18)
    assert hourly[morning] > 1.5 * hourly[12] and hourly[evening] > 1.5 * hourly[12]
    assert hourly[3] < 0.25 * hourly[evening]


def test_tet_empties_the_streets_and_the_days_before_it_are_busier() -> None:
    assert calendar.day_type(datetime(2026, 2, 17).date()) == "tet"
    assert calendar.day_type(datetime(2026, 2, 14).date()) == "pre_tet"
    assert calendar.day_type(datetime(2026, 9, 2).date()) == "holiday"
    _, tet = _street_traffic(_at(2026, 2, 18), 1)  # a Wednesday of Tet
    _, usual = _street_traffic(_at(2026, 3, 4), 1)  # a Wednesday three weeks later
    _, before = _street_traffic(_at(2026, 2, 13), 1)  # Friday before Tet
    assert tet.sum() < 0.5 * usual.sum()
    assert before.sum() > 1.05 * usual.sum()


def test_monsoon_storm_floods_low_streets_when_heavy_rain_meets_high_tide() -> None:
    sites = tuple(city_sites(48))
    for seed in (0, 1):  # the placed squall line is drawn from the seed: two different storms of the kind
        storm = city.simulate(scenarios.scenario_config("monsoon-storm", sites, step_s=300, seed=seed))
        floods = [e for e in storm.events if e.kind == "flood"]
        flooded = {e.site_id for e in floods}
        assert len(flooded) >= 5
        assert {"nguyen-huu-canh", "le-van-luong"} <= flooded  # the lowest riverside streets
        # The floods coincide with the storm and the evening high water, not with the morning.
        high_water = scenarios.evening_high_water(storm.config.start, storm.config.duration_s)
        assert sum(abs(e.peak_time - high_water) < 3 * 3600 for e in floods) >= len(floods) - 1


def test_dry_weather_at_neap_tide_floods_nothing_and_the_same_storm_at_low_tide_floods_less() -> None:
    sites = tuple(city_sites(48))
    neap = _at(2026, 11, 2, 12)  # a week from spring tides
    dry = city.simulate(city.CityConfig(sites, neap, 86_400.0, 300.0, 0, natural_rain=False))
    assert not [e for e in dry.events if e.kind == "flood"]
    spring = scenarios.scenario_config("monsoon-storm", sites, step_s=300)
    times = _every(neap, 300.0, 288)
    low_water = float(times[np.argmin(np.where((times - neap) < 12 * 3600, tide.phu_an(times), np.inf))])
    peak = scenarios.evening_high_water(spring.start, spring.duration_s) - scenarios.STORM_LEAD_ON_HIGH_WATER_S
    at_low = city.CityConfig(sites, neap, 86_400.0, 300.0, 0, natural_rain=False,
                             storms=tuple(c.shifted(low_water - peak) for c in spring.storms))  # fmt: skip
    at_high = city.CityConfig(sites, spring.start, 86_400.0, 300.0, 0, natural_rain=False, storms=spring.storms)
    flooded_low = {e.site_id for e in city.simulate(at_low).events if e.kind == "flood"}
    flooded_high = {e.site_id for e in city.simulate(at_high).events if e.kind == "flood"}
    assert len(flooded_high) >= len(flooded_low) + 3
    # What the tide adds are the low riverside streets; a street flooded at low water floods at high water too.
    assert flooded_low <= flooded_high and {"nguyen-huu-canh", "thao-dien"} & (flooded_high - flooded_low)


def test_flooded_streets_slow_and_close_their_traffic() -> None:
    sites = tuple(city_sites(48))
    config = scenarios.scenario_config("monsoon-storm", sites, step_s=300)
    sim = city.simulate(config)
    calm = city.simulate(dataclasses.replace(config, storms=(), natural_rain=False))
    flood = max((e for e in sim.events if e.kind == "flood"), key=lambda e: e.peak)
    row = {s.full_name: s.index for s in sim.sensors}
    k = int(np.searchsorted(sim.times, flood.peak_time))
    speed, usual = sim.truth[row[f"{flood.site_id}/traffic_speed"]], calm.truth[row[f"{flood.site_id}/traffic_speed"]]
    assert speed[k] < 0.7 * usual[k]  # the same evening without the storm moves at least 40 % faster
    # Water past the closing depth stops a segment: every speed at the crawl, whatever the demand.
    segments = traffic.Segments(np.array([3000.0]), np.array([45.0]), np.array([1.0]))
    times = _every(config.start, 300.0, 12)
    _, stopped = traffic.simulate(segments, times, 300.0, np.zeros((1, 12)), np.full((1, 12), 0.4), [],
                                  np.random.default_rng(0))  # fmt: skip
    assert (stopped < CONGESTED_SPEED_KMH).all()


def test_city_sites_scale_beyond_the_bundled_places_with_unique_ids() -> None:
    sites = city_sites(4000, seed=1)
    ids = [s.site_id for s in sites]
    assert len(set(ids)) == 4000
    assert {s.kind for s in sites[:4]} == set(SiteKind)
    assert len(sensors_of(sites)) >= 10_000


DATA = Path(__file__).resolve().parents[1] / "data"


def test_astronomical_arguments_give_greenwich_phases_comparable_with_noaa() -> None:
    """A one-month least-squares fit of Mayport (January 2000) lands near NOAA's published phases.

    A sign or quadrant slip in V or u shows up as tens to 180 degrees; a month cannot separate
    K1 from P1 or S2 from K2, hence the loose tolerance (the forecasting engine does it properly).
    """
    rows = [line.split() for line in (DATA / "mayport_florida_8720220_data.txt").read_text().splitlines()[1:]]
    times = np.array([datetime.strptime(f"{r[1]} {r[2]} +0000", "%d/%m/%Y %H:%M %z").timestamp() for r in rows])
    level = np.array([float(r[3]) for r in rows])
    published = {
        line.split()[1]: (float(line.split()[2]), float(line.split()[3]))
        for line in (DATA / "mayport_florida_8720220_con_noaa.txt").read_text().splitlines()
        if line[:3].strip().isdigit()
    }
    names = ["M2", "N2", "K1", "O1", "M4", "Q1"]
    f, u = astronomy.nodal_corrections(names, float(times[len(times) // 2]))
    angle = np.radians(astronomy.equilibrium_arguments(names, times) + u)
    design = np.hstack([np.ones((len(times), 1)), f * np.cos(angle), f * np.sin(angle)])
    coef = np.linalg.lstsq(design, level, rcond=None)[0]
    phase = np.degrees(np.arctan2(coef[1 + len(names) :], coef[1 : 1 + len(names)])) % 360
    for name, g in zip(names, phase, strict=True):
        if name in ("M2", "K1", "O1"):
            gap = abs((g - published[name][1] + 180) % 360 - 180)
            assert gap < 15, f"{name}: {g:.1f} deg against NOAA's {published[name][1]}"
