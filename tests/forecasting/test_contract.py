"""One contract, run over every model: shapes, time axis, nested bands, isolation of bad series, and
one lifecycle - ``fit`` learns, ``update`` moves the origin, ``predict`` depends on nothing else."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from forecasting.baselines import HarmonicRidge, SeasonalNaive, VectorAR1
from forecasting.compare import ProphetModel, StatsForecastModel, StatsmodelsETS
from forecasting.daytype import DayTypeProfile
from forecasting.direct import ProfileAR
from forecasting.model import Model
from forecasting.profile import TimeOfWeekAverage
from forecasting.recalibrate import Recalibrated
from forecasting.series import Forecast, Series, forward_fill
from forecasting.water import WaterLevelModel

STEP = 300.0
DAY = 288  # steps
START = 1_788_000_000.0 - 1_788_000_000.0 % 86_400  # a UTC midnight

ENGINE: dict[str, Callable[[], Model]] = {
    "naive": lambda: SeasonalNaive(0),
    "seasonal_naive_day": lambda: SeasonalNaive(86_400.0),
    "time_of_day": lambda: TimeOfWeekAverage(period_s=86_400.0),
    "time_of_week": lambda: TimeOfWeekAverage(),
    "profile_ar": lambda: ProfileAR(TimeOfWeekAverage(period_s=86_400.0)),
    "day_type_profile": lambda: DayTypeProfile(),
    "water_level": lambda: WaterLevelModel(max_origins=1500),
    "var1": lambda: VectorAR1(),
    "harmonic_ridge": lambda: HarmonicRidge(),
    "recalibrated_naive": lambda: Recalibrated(SeasonalNaive(0)),
}
HOURLY = 3600.0
LIBRARIES: dict[str, Callable[[], Model]] = {  # one series at a time (forecasting/compare.py): on hourly data
    "statsforecast_autoets": lambda: StatsForecastModel("AutoETS", season_length=24),
    "statsforecast_mstl": lambda: StatsForecastModel("MSTL", season_length=[24, 168]),
    "statsmodels_ets": lambda: StatsmodelsETS(season_length=24),
    "prophet": lambda: ProphetModel(samples=50),
}
MODELS = ENGINE | LIBRARIES
# Too slow for 200 long series here; their coverage is scored in the backtests instead
# (tests/forecasting/test_real_traffic.py and bench/bench_real.py).
ONE_AT_A_TIME = set(LIBRARIES)


# The rhythm each model is built for: a day for the profile models, the M2 tide for the water model.
RHYTHM_STEPS = {"water_level": 12.4206012 * 3600 / STEP}


def _daily(
    n_series: int, days: int, noise: float = 0.1, seed: int = 0, period: float = DAY, per_day: int = DAY
) -> np.ndarray:
    """A daily sine (``period`` in 5-minute steps) plus noise, sampled ``per_day`` times a day."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * per_day)
    phase = rng.uniform(0, 2 * np.pi, (n_series, 1))
    return 1.0 + np.sin(2 * np.pi * t / (period * per_day / DAY) + phase) + rng.normal(0, noise, (n_series, len(t)))


@pytest.fixture(params=sorted(MODELS))
def model_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_model(model_name: str) -> Callable[[], Model]:
    return MODELS[model_name]


@pytest.fixture
def step(model_name: str) -> float:
    """5-minute data for the engine's models, hourly for the libraries (one series at a time is slow)."""
    return HOURLY if model_name in LIBRARIES else STEP


@pytest.fixture
def rhythm(make_model: Callable[[], Model]) -> float:
    return RHYTHM_STEPS.get(make_model().name, DAY)


def test_shapes_axis_and_nested_bands(make_model: Callable[[], Model], step: float) -> None:
    day = round(86_400 / step)
    history = Series(START, step, _daily(8, 15, per_day=day))
    forecast = make_model().fit(history).predict(day, levels=(0.8, 0.95))
    assert forecast.mean.shape == (8, day) and forecast.levels == (0.8, 0.95)
    assert forecast.start == history.end and forecast.times()[1] - forecast.times()[0] == step
    lo80, hi80, lo95, hi95 = forecast.lower[0.8], forecast.upper[0.8], forecast.lower[0.95], forecast.upper[0.95]
    assert np.isfinite(forecast.mean).all() and np.isfinite(lo95).all()
    assert (lo95 <= lo80 + 1e-12).all() and (lo80 <= forecast.mean).all()
    assert (forecast.mean <= hi80).all() and (hi80 <= hi95 + 1e-12).all()
    assert not forecast.fallback.any()  # type: ignore[union-attr]


def test_a_degenerate_series_is_flagged_and_changes_no_other_forecast(
    make_model: Callable[[], Model], step: float
) -> None:
    day = round(86_400 / step)
    healthy = _daily(6, 15, seed=1, per_day=day)
    dead = np.full((1, healthy.shape[1]), np.nan)
    flat = np.full((1, healthy.shape[1]), 2.5)
    late = np.full((1, healthy.shape[1]), np.nan)
    late[0, -3:] = 1.0  # a sensor installed three steps ago
    batch = np.vstack([healthy[:3], dead, flat, late, healthy[3:]])
    alone = make_model().fit(Series(START, step, healthy)).predict(day // 6)
    together = make_model().fit(Series(START, step, batch)).predict(day // 6)
    keep = [0, 1, 2, 6, 7, 8]
    assert np.allclose(together.mean[keep], alone.mean, equal_nan=True)
    assert together.fallback is not None and together.fallback[3] and not together.fallback[[*keep, 4]].any()
    assert np.allclose(together.mean[4], 2.5) and np.isfinite(together.mean[5]).all()  # short: a simpler rule


def test_prediction_needs_a_fit(make_model: Callable[[], Model]) -> None:
    with pytest.raises(RuntimeError, match="call fit"):
        make_model().predict(12)


def test_intervals_cover_close_to_their_nominal_level(make_model: Callable[[], Model], rhythm: float) -> None:
    if make_model().name in ONE_AT_A_TIME:
        pytest.skip("one series at a time: 200 series x 8 weeks takes minutes; scored in the backtests instead")
    values = _daily(200, 57, noise=0.2, seed=3, period=rhythm)  # eight weeks: a weekly profile needs several weeks
    history, future = values[:, : 56 * DAY], values[:, 56 * DAY :]
    forecast = make_model().fit(Series(START, STEP, history)).predict(DAY // 4)
    for level in (0.8, 0.95):
        inside = (future[:, : DAY // 4] >= forecast.lower[level]) & (future[:, : DAY // 4] <= forecast.upper[level])
        if make_model().name == "naive":  # a random walk's bands grow; the sine is not one - only sanity here
            assert inside.mean() > level - 0.15
        else:
            assert abs(inside.mean() - level) < 0.04, f"{level}: {inside.mean():.3f}"


def test_seasonal_models_beat_naive_beyond_the_first_hour() -> None:
    values = _daily(100, 16, noise=0.2, seed=4)
    history, future = Series(START, STEP, values[:, : 15 * DAY]), values[:, 15 * DAY :]

    def mae(model: Model) -> float:
        forecast = model.fit(history).predict(DAY)
        return float(np.mean(np.abs(forecast.mean[:, 12:] - future[:, 12:])))

    naive, seasonal = mae(SeasonalNaive(0)), mae(SeasonalNaive(86_400.0))
    profile = mae(TimeOfWeekAverage(86_400.0))
    assert seasonal < 0.5 * naive and profile < 0.8 * seasonal  # averaging 15 days beats one noisy day


def test_forward_fill_carries_the_last_value_and_leaves_leading_gaps() -> None:
    values = np.array([[np.nan, 1.0, np.nan, np.nan, 3.0], [np.nan, np.nan, np.nan, np.nan, np.nan]])
    filled = forward_fill(values)
    assert np.array_equal(filled, [[np.nan, 1, 1, 1, 3], [np.nan] * 5], equal_nan=True)


def test_a_period_that_is_not_whole_steps_is_refused() -> None:
    with pytest.raises(ValueError, match="whole number of steps"):
        TimeOfWeekAverage(period_s=1000.0).fit(Series(START, STEP, _daily(1, 2)))


# The lifecycle, on hourly data for every model, so that the libraries' fits stay quick.
LIFECYCLE = MODELS


def _hourly(days: int, n_series: int = 3) -> Series:
    rng = np.random.default_rng(7)
    t = np.arange(24 * days)
    walk = np.cumsum(rng.normal(0, 0.2, (n_series, len(t))), axis=1) * 0.3
    values = 5 + 2 * np.sin(2 * np.pi * t / 24 + rng.uniform(0, 6, (n_series, 1))) + walk
    return Series(START, HOURLY, values + rng.normal(0, 0.2, values.shape))


def _same(a: Forecast, b: Forecast) -> bool:
    return (a.start == b.start and np.allclose(a.mean, b.mean, equal_nan=True)
            and all(np.allclose(a.lower[lv], b.lower[lv], equal_nan=True) for lv in a.lower)
            and all(np.allclose(a.upper[lv], b.upper[lv], equal_nan=True) for lv in a.upper)
            and np.array_equal(np.asarray(a.fallback), np.asarray(b.fallback)))  # fmt: skip


@pytest.fixture(params=sorted(LIFECYCLE))
def make_lifecycle_model(request: pytest.FixtureRequest) -> Callable[[], Model]:
    return LIFECYCLE[request.param]


def test_predict_depends_only_on_the_fit_and_the_newest_data(make_lifecycle_model: Callable[[], Model]) -> None:
    """Call order, earlier predictions and earlier origins change nothing: the same fit, updated to
    the same data, forecasts the same - and an update reads no more than the newest stretch it needs."""
    whole = _hourly(26)
    train = Series(whole.start, HOURLY, whole.values[:, : 24 * 20])

    def upto(days: int) -> Series:
        return Series(whole.start, HOURLY, whole.values[:, : 24 * days])

    direct = make_lifecycle_model().fit(train).update(upto(25)).predict(12)
    busy = make_lifecycle_model().fit(train)
    busy.predict(24)
    busy.update(upto(22)).predict(6)
    assert _same(busy.update(upto(25)).predict(12), direct)
    assert _same(busy.predict(12), direct)  # asking twice: the same answer
    assert direct.start == upto(25).end
    window = upto(25).last(train.n_time)  # no more than the fit saw
    assert _same(make_lifecycle_model().fit(train).update(window).predict(12), direct)
    fitted_only = make_lifecycle_model().fit(train).predict(12)
    assert _same(fitted_only, make_lifecycle_model().fit(train).update(train).predict(12))
