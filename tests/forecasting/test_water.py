"""The water-level model: tide + learned rain response + AR residual, exceedance, and storm warnings."""

from __future__ import annotations

import numpy as np
import pytest

from api.simulation.warning_skill import score_scenario
from forecasting import tide
from forecasting.rain import RainLink, catchment_rain, every_gauge, nearest_gauges
from forecasting.series import Series
from forecasting.water import WaterLevelModel, tide_references

STEP = 300.0
HOUR = 3600.0
DAY = 288
START = 1_788_000_000.0 - 1_788_000_000.0 % 86_400


def _rainy_canals(days: int = 30, seed: int = 0) -> tuple[Series, Series, RainLink]:
    """Four tide gauges (M2 + K1) that rise with their own rain gauge's rain, about an hour later."""
    rng = np.random.default_rng(seed)
    n = days * DAY
    rain = np.zeros((2, n))
    for gauge in range(2):
        for start in rng.choice(n - 48, size=days, replace=False):  # about a storm a day
            rain[gauge, start : start + 24] += rng.uniform(0.5, 3.0) * np.exp(-np.arange(24) / 8.0)
    lag = np.arange(72)
    kernel = lag * np.exp(-lag / 12.0) / 12.0  # runoff reaches the canal after ~1 h (a gamma unit hydrograph)
    response = np.array([np.convolve(r, kernel)[:n] for r in rain]) * 0.05  # metres per mm
    times = START + STEP * np.arange(n, dtype=np.float64)
    constants = tide.TidalConstants(
        ("M2", "K1"), np.array([[0.8, 0.3]] * 4), np.array([[40.0, 120.0]] * 4), np.zeros(4)
    )
    level = constants.predict(times) + response[[0, 0, 1, 1]] + rng.normal(0, 0.02, (4, n))
    link = RainLink(np.array([[0], [0], [1], [1]]), np.ones((4, 1)))
    return Series(START, STEP, level), Series(START, STEP, rain), link


def test_the_learned_rain_response_beats_tide_and_persistence_alone() -> None:
    level, rain, link = _rainy_canals()
    horizon = 12  # one hour
    errors: dict[str, list[np.ndarray]] = {"with rain": [], "without": []}
    train = Series(START, STEP, level.values[:, : 25 * DAY])
    models = {"with rain": WaterLevelModel(rain, link, horizon_s=HOUR).fit(train),
              "without": WaterLevelModel(horizon_s=HOUR).fit(train)}  # fmt: skip
    for origin in range(25 * DAY, 30 * DAY - horizon, 7):  # fitted once, forecast from every origin
        actual = level.values[:, origin : origin + horizon]
        history = Series(START, STEP, level.values[:, :origin])
        if catchment_rain(rain.values[:, origin - 6 : origin], link)[0].sum(axis=1).max() < 1.0:
            continue  # score the moments just after rain, before the canals have risen
        for name, model in models.items():
            errors[name].append(np.abs(model.update(history).predict(horizon).mean - actual)[:, -1])
        if len(errors["without"]) >= 12:
            break
    with_rain, without = np.mean(errors["with rain"]), np.mean(errors["without"])
    assert len(errors["without"]) >= 12
    assert with_rain < 0.7 * without, (
        f"1 h MAE after rain: {with_rain:.3f} m with the rain response, {without:.3f} without"
    )


def test_exceedance_is_a_probability_that_grows_with_the_horizon() -> None:
    level, rain, link = _rainy_canals(days=20, seed=1)
    model = WaterLevelModel(rain, link, horizon_s=3 * HOUR).fit(level)
    forecast = model.predict(36)
    peak = forecast.mean.max(axis=1)
    probability = forecast.exceedance(np.array([-5.0, 5.0, peak[2] - 0.05, peak[3] + 0.05]))
    assert probability.shape == (4, 36) and ((probability >= 0) & (probability <= 1)).all()
    assert (np.diff(probability, axis=1) >= 0).all()  # "at or before t + h" can only grow with h
    assert probability[0, 0] == 1.0 and probability[1, -1] == 0.0  # far below / far above the forecast
    assert probability[2, -1] > 0.5 > probability[3, -1]  # just below the forecast peak / just above


def test_street_sensors_borrow_the_nearest_tide_gauge_and_rain_gauges_are_weighted_by_distance() -> None:
    tidal = np.array([True, False, True, False])
    xy = np.array([[0.0, 0.0], [0.5, 0.0], [10.0, 0.0], [9.0, 0.0]])
    assert tide_references(tidal, xy).tolist() == [0, 0, 2, 2]
    assert tide_references(tidal, None).tolist() == [0, -1, 2, -1]
    link = nearest_gauges(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0], [2.0, 0.0], [9.0, 0.0]]), k=2)
    assert link.gauges.tolist() == [[0, 1]] and link.weights[0] == pytest.approx([0.8, 0.2])


def test_misuse_is_refused_clearly() -> None:
    level, rain, link = _rainy_canals(days=3)
    with pytest.raises(ValueError, match="come together"):
        WaterLevelModel(rain=rain)
    coarse = Series(rain.start, 600.0, rain.values[:, ::2])
    with pytest.raises(ValueError, match="rain step"):
        WaterLevelModel(coarse, link).fit(level)
    model = WaterLevelModel(horizon_s=HOUR).fit(level)
    with pytest.raises(ValueError, match="fitted on 4 series"):
        model.update(Series(START, STEP, level.values[:2]))
    with pytest.raises(ValueError, match="fitted for 12 steps ahead, asked for 24"):
        model.predict(24)
    with pytest.raises(RuntimeError, match="call fit"):
        WaterLevelModel().predict(12)


@pytest.mark.parametrize(("seed", "window_h"), [(0, (4.0, 12.0)), (5, None)])
def test_monsoon_storm_forecasts_warn_of_high_water_ahead_of_time(
    seed: int, window_h: tuple[float, float] | None
) -> None:
    """Canal high water through the storm evening, every 5 minutes, scored on the truth (street floods
    are the street-flood outlook's: tests/forecasting/test_floods.py). Seed 5 over the whole scenario
    (as `urbanpulse forecast warnings` scores it): the canals were warned 15 minutes ahead while the
    pooled street sensors' errors chose the tide gauges' ridge as well as their own."""
    report = score_scenario("monsoon-storm", history_days=21, seed=seed, window_h=window_h, probabilities=(0.5,),
                            outlook=False, rain_skill=False)  # fmt: skip
    print("\n" + report.table())
    high_water, floods = report.skill[("high_water", 0.5)], report.skill[("flood", 0.5)]
    assert high_water.hits + high_water.misses >= 5 and floods.hits + floods.misses >= 5  # the storm did its work
    assert high_water.hit_rate == 1.0 and high_water.false_alarms == 0
    assert high_water.median_lead_s >= 20 * 60  # canals: tide + rain, warned well ahead


def test_missing_rain_is_not_read_as_dry_weather() -> None:
    """A gauge that sent nothing is left out of the catchment rain (the others carry it) and its
    gap is a feature of its own; only when every gauge is silent is the rain unknown, not zero."""
    rain = np.array([[0.0, 4.0, np.nan, np.nan], [0.0, 2.0, 2.0, np.nan]])
    weighted, missing = catchment_rain(rain, RainLink(np.array([[0, 1]]), np.array([[0.5, 0.5]])))
    assert weighted.tolist() == [[0.0, 3.0, 2.0, 0.0]] and missing.tolist() == [[0.0, 0.0, 0.5, 1.0]]
    assert every_gauge(2, 3).weights.tolist() == [[1 / 3] * 3] * 2


def test_the_rain_memory_is_learned_over_days() -> None:
    """A river that rises for two days after rain: the multi-day memory of each gauge carries it,
    where three hours of catchment rain alone cannot."""
    rng = np.random.default_rng(4)
    n = 60 * 24  # hourly, 60 days
    rain = np.zeros((1, n))
    rain[0, rng.choice(n - 10, 25, replace=False)] = rng.uniform(5, 30, 25)
    lag = np.arange(120)
    kernel = lag * np.exp(-lag / 24.0) / 24.0  # a slow flood wave: peaks a day after the rain
    level = 0.02 * np.convolve(rain[0], kernel)[:n][None, :] + rng.normal(0, 0.01, (1, n))
    level_series, rain_series = Series(START, HOUR, level), Series(START, HOUR, rain)
    link = every_gauge(1, 1)
    train, future = level_series.values[:, : 50 * 24], level_series.values
    errors = {}
    for memory_s in (3 * HOUR, 7 * 86_400.0):
        model = WaterLevelModel(rain_series, link, rain_memory_s=memory_s, horizon_s=12 * HOUR)
        model.fit(Series(START, HOUR, train))
        gaps = []
        for origin in range(50 * 24, n - 12, 6):
            forecast = model.update(Series(START, HOUR, future[:, :origin])).predict(12)
            gaps.append(np.abs(forecast.mean[0, -1] - future[0, origin + 11]))
        errors[memory_s] = float(np.mean(gaps))
    assert errors[7 * 86_400.0] < 0.9 * errors[3 * HOUR], errors
