"""Bands recalibrated by the model's own errors since its fit: honest when the weather changes."""

from __future__ import annotations

import numpy as np

from forecasting.backtest import fit_once
from forecasting.baselines import SeasonalNaive
from forecasting.recalibrate import Recalibrated
from forecasting.series import Series

HOUR = 3600.0
START = 1_788_000_000.0 - 1_788_000_000.0 % 86_400


def _calm_then_rough(days_calm: int = 30, days_rough: int = 30, rough: float = 3.0) -> Series:
    """A level with noise that is ``rough`` times larger after the first ``days_calm`` days."""
    rng = np.random.default_rng(3)
    sigma = np.r_[np.ones(24 * days_calm), np.full(24 * days_rough, rough)]
    return Series(START, HOUR, 10 + rng.normal(0, 1, (20, len(sigma))) * sigma)


def test_bands_drawn_in_a_calm_season_widen_to_cover_a_rough_one() -> None:
    series = _calm_then_rough()
    fit_end = 24 * 30
    origins = list(range(fit_end + 24 * 14, series.n_time - 6, 3))  # once two weeks of errors are in
    result = fit_once(series, [lambda: SeasonalNaive(0.0, horizon_s=6 * HOUR),
                               lambda: Recalibrated(SeasonalNaive(0.0, horizon_s=6 * HOUR), horizon_s=6 * HOUR)],
                      6, origins, fit_end)  # fmt: skip
    plain, recalibrated = (np.nanmean(s.coverage[0.8]) for s in result.scores)
    assert plain < 0.5  # the calm season's bands, a third as wide as they should be
    assert abs(recalibrated - 0.8) < 0.04
    assert abs(np.nanmean(result.scores[1].coverage[0.95]) - 0.95) < 0.03
    assert np.allclose(result.scores[0].mae, result.scores[1].mae)  # the forecasts themselves are the model's


def test_without_errors_since_the_fit_the_bands_are_the_models() -> None:
    series = _calm_then_rough()
    train = Series(series.start, HOUR, series.values[:, : 24 * 30])
    plain = SeasonalNaive(0.0, horizon_s=6 * HOUR).fit(train).predict(6)
    wrapped = Recalibrated(SeasonalNaive(0.0, horizon_s=6 * HOUR), horizon_s=6 * HOUR).fit(train).predict(6)
    assert wrapped.model == "naive_recalibrated"
    for level in (0.8, 0.95):
        assert np.allclose(wrapped.lower[level], plain.lower[level])
        assert np.allclose(wrapped.upper[level], plain.upper[level])
