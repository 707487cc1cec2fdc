"""Scores and backtests: values that can be checked by hand, and a backtest that ranks models right."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from forecasting import metrics
from forecasting.backtest import rolling_origin
from forecasting.baselines import SeasonalNaive
from forecasting.profile import TimeOfWeekAverage
from forecasting.series import Series

NAN = np.nan


def test_point_scores_ignore_missing_actuals() -> None:
    actual = np.array([[1.0, 2.0, NAN, 4.0]])
    predicted = np.array([[2.0, 2.0, 9.0, 1.0]])
    assert metrics.mae(actual, predicted) == pytest.approx(4 / 3)
    assert metrics.rmse(actual, predicted) == pytest.approx(np.sqrt(10 / 3))
    assert metrics.masked_mape(np.array([0.0, 2.0, 4.0]), np.array([5.0, 1.0, 5.0])) == pytest.approx(37.5)


def test_coverage_counts_actuals_inside_their_band() -> None:
    actual = np.array([1.0, 2.0, 3.0, NAN])
    assert metrics.coverage(actual, actual - 0.5, np.array([2.0, 1.0, 3.5, 0.0])) == pytest.approx(2 / 3)


def test_event_skill_scores_hits_misses_false_alarm_episodes_and_lead() -> None:
    hour = 3600.0
    events = [(10 * hour, 11 * hour), (30 * hour, 32 * hour), (50 * hour, 52 * hour)]
    warnings = [
        9 * hour, 9.5 * hour, 10.5 * hour,  # one episode: hits the first event an hour ahead, goes on during it
        29.9 * hour,  # hits the second
        40 * hour, 40.1 * hour, 40.2 * hour,  # one false alarm of three issues
        45 * hour,  # another
        51 * hour,  # during the third event: too late to be a hit, not false either
    ]  # fmt: skip
    skill = metrics.event_skill(events, warnings, max_lead_s=3 * hour, gap_s=0.1 * hour)
    assert (skill.hits, skill.misses, skill.false_alarms) == (2, 1, 2)
    assert len(skill.lead_times_s) == 2 and skill.lead_times_s[0] == hour
    assert skill.lead_times_s[1] == pytest.approx(0.1 * hour)
    assert skill.hit_rate == pytest.approx(2 / 3) and skill.false_alarm_ratio == pytest.approx(0.5)
    separate = metrics.event_skill(events, warnings, max_lead_s=3 * hour, gap_s=0.0)
    assert separate.false_alarms == 4  # without episodes every issue counts
    total = skill + metrics.event_skill([(5 * hour, 6 * hour)], [], 3 * hour)
    assert total.misses == 2 and total.median_lead_s == pytest.approx(0.55 * hour)


def _daily_batch(n_series: int, days: int, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    t = np.arange(days * 288)
    values = (
        5 + 3 * np.sin(2 * np.pi * t / 288 + rng.uniform(0, 6, (n_series, 1))) + rng.normal(0, 0.3, (n_series, len(t)))
    )
    return Series(1_788_000_000.0 - 1_788_000_000.0 % 86_400, 300.0, values)


def test_a_rolling_origin_backtest_ranks_models_on_the_same_windows() -> None:
    ticks = itertools.count()
    result = rolling_origin(
        _daily_batch(40, 21),
        [lambda: SeasonalNaive(0), lambda: SeasonalNaive(86_400.0), lambda: TimeOfWeekAverage(86_400.0)],
        horizon=36,
        n_origins=4,
        clock=lambda: float(next(ticks)),
    )
    assert len(result.origins) == 4 and result.origins[-1] == 21 * 288 - 36
    naive, seasonal, profile = result.scores
    assert profile.mae[35] < seasonal.mae[35] < naive.mae[35]  # three hours ahead, seasonality wins
    assert abs(np.nanmean(profile.coverage[0.8]) - 0.8) < 0.06
    assert naive.fit_seconds == 4.0  # one tick per fit, from the injected clock
    table = result.table(steps=[3, 12, 36])
    assert "MAE@15min" in table and "MAE@3h" in table and "seasonal_naive_24h" in table and "cov80" in table


def test_a_backtest_needs_enough_history() -> None:
    with pytest.raises(ValueError, match="needs more than"):
        rolling_origin(_daily_batch(2, 1), [lambda: SeasonalNaive(0)], horizon=200, min_history=200)


def test_a_paired_comparison_tells_a_real_difference_from_noise() -> None:
    from forecasting.backtest import Backtest, ModelScore

    rng = np.random.default_rng(5)
    base = np.abs(rng.normal(10, 3, (4, 60, 3)))  # (origins, series, horizon)
    same = base + rng.normal(0, 1.0, base.shape)  # no better, no worse: noise only
    worse = base * 1.2  # 20 % worse everywhere

    def score(name: str, errors: np.ndarray) -> ModelScore:
        mae = errors.mean(axis=(0, 1))
        return ModelScore(name, mae, mae, mae, {}, 0.0, errors)

    backtest = Backtest(300.0, (1, 2, 3, 4), (score("a", base), score("b", same), score("c", worse)))
    noise = backtest.paired("b", "a", 3)
    assert noise.low < 0 < noise.high
    real = backtest.paired("c", "a", 3)
    assert real.low > 0 and real.relative == pytest.approx(0.2)
