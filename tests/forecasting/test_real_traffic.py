"""Real detector counts (Oregon, 15 minutes, 22 detectors): the last week held out, models on the same windows."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.backtest import fit_once, rolling_origin
from forecasting.baselines import SeasonalNaive
from forecasting.compare import ProphetModel, StatsForecastModel
from forecasting.direct import PROFILE_SMOOTH_S, ProfileAR
from forecasting.profile import TimeOfWeekAverage
from forecasting.series import Series
from tests.forecasting.real_data import oregon_counts

WEEK = 7 * 96


@pytest.mark.slow
def test_profile_models_beat_seasonal_naive_on_held_out_real_counts() -> None:
    counts = oregon_counts()
    assert counts.values.shape == (22, 2496)
    result = rolling_origin(
        counts,
        [
            lambda: SeasonalNaive(7 * 86_400.0),
            lambda: TimeOfWeekAverage(utc_offset_s=0.0),
            lambda: ProfileAR(TimeOfWeekAverage(utc_offset_s=0.0, smooth_s=PROFILE_SMOOTH_S), horizon_s=3 * 3600.0),
        ],
        horizon=12,
        n_origins=24,
        min_history=counts.n_time - WEEK,  # every origin lies in the last week
    )
    naive, profile, direct = result.scores
    for step in (1, 4, 12):  # 15 minutes, 1 hour, 3 hours
        assert profile.mae[step - 1] < naive.mae[step - 1]
        assert direct.mae[step - 1] < naive.mae[step - 1]
    for level in (0.8, 0.95):  # split-conformal bands hold on real data (ProfileAR: 83 % / 96 %, a bit wide)
        assert abs(float(np.nanmean(profile.coverage[level])) - level) < 0.03
        assert abs(float(np.nanmean(direct.coverage[level])) - level) < 0.04


@pytest.mark.slow
def test_the_engine_matches_statsforecast_and_prophet_on_held_out_real_counts() -> None:
    """Same windows for the engine and for the libraries that fit one series at a time (a subset, for time).

    The full comparison (all the libraries, more series) is ``bench/bench_forecasting.py compare
    --data oregon``; its figures are in docs/benchmarks.md.
    """
    counts = oregon_counts()
    subset = Series(counts.start, counts.step_s, counts.values[[0, 4, 8, 12, 16, 20]])
    fit_end = counts.n_time - WEEK
    result = fit_once(  # each fitted once, forecast from three origins of the held-out week
        subset,
        [
            lambda: ProfileAR(TimeOfWeekAverage(utc_offset_s=0.0, smooth_s=PROFILE_SMOOTH_S), horizon_s=3 * 3600.0),
            lambda: StatsForecastModel("AutoETS", season_length=96),
            lambda: ProphetModel(utc_offset_s=0.0),
        ],
        horizon=12,
        origins=[fit_end, fit_end + (WEEK - 12) // 2, counts.n_time - 12],
        fit_end=fit_end,
    )
    ours, ets, prophet = result.scores
    for step in (1, 4, 12):  # 15 minutes, 1 hour, 3 hours: match (within 10 %) or beat the best of them
        best = min(ets.mae[step - 1], prophet.mae[step - 1])
        assert ours.mae[step - 1] <= 1.1 * best, f"{step}: {ours.mae[step - 1]:.2f} vs {best:.2f}"
