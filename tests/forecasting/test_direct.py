"""The profile + autoregressive residual model: it learns persistence that the profile cannot see."""

from __future__ import annotations

import numpy as np

from forecasting.backtest import rolling_origin
from forecasting.direct import PROFILE_SMOOTH_S, ProfileAR
from forecasting.graph import Relation, SensorGraph
from forecasting.profile import TimeOfWeekAverage
from forecasting.series import Series

DAY = 288


def _rhythm_with_persistent_disturbances(n_series: int, days: int, phi: float = 0.97, seed: int = 0) -> Series:
    """A daily rhythm plus an AR(1) disturbance (a jam that builds and fades over an hour or two)."""
    rng = np.random.default_rng(seed)
    n = days * DAY
    shocks = rng.normal(0, 0.5, (n_series, n))
    disturbance = np.zeros((n_series, n))
    for t in range(1, n):  # the generator is sequential by nature; the model under test is not
        disturbance[:, t] = phi * disturbance[:, t - 1] + shocks[:, t]
    rhythm = 20 + 10 * np.sin(2 * np.pi * np.arange(n) / DAY + rng.uniform(0, 6, (n_series, 1)))
    return Series(1_788_000_000.0 - 1_788_000_000.0 % 86_400, 300.0, rhythm + disturbance)


def test_profile_ar_beats_the_profile_at_short_horizons_and_matches_it_far_out() -> None:
    result = rolling_origin(
        _rhythm_with_persistent_disturbances(60, 28),
        [
            lambda: TimeOfWeekAverage(86_400.0),
            lambda: ProfileAR(TimeOfWeekAverage(86_400.0, smooth_s=PROFILE_SMOOTH_S)),
        ],
        horizon=DAY,
        n_origins=4,
    )
    profile, direct = result.scores
    assert direct.mae[2] < 0.6 * profile.mae[2]  # 15 minutes ahead: the disturbance persists (best possible ~0.42)
    assert direct.mae[11] < 0.8 * profile.mae[11]  # an hour ahead
    assert direct.mae[DAY - 1] < 1.1 * profile.mae[DAY - 1]  # a day ahead: nothing left to learn, no harm
    for level in (0.8, 0.95):
        assert abs(float(np.nanmean(direct.coverage[level])) - level) < 0.05


def test_a_history_too_short_to_learn_falls_back_to_the_profile() -> None:
    short = _rhythm_with_persistent_disturbances(3, 1)  # no origin has a whole day after it
    forecast = ProfileAR(TimeOfWeekAverage(86_400.0, smooth_s=PROFILE_SMOOTH_S)).fit(short).predict(DAY)
    profile = TimeOfWeekAverage(86_400.0, smooth_s=PROFILE_SMOOTH_S).fit(short).predict(DAY)
    assert np.allclose(forecast.mean, profile.mean) and np.allclose(forecast.upper[0.8], profile.upper[0.8])


def test_an_upstream_detector_tells_a_jam_is_coming() -> None:
    """Detector B sees what detector A saw six steps (30 min) earlier: with A upstream of B in the
    graph, B's forecast half an hour ahead learns it; alone, B cannot."""
    rng = np.random.default_rng(3)
    n_pairs, days = 30, 21
    n = days * DAY
    wave = np.zeros((n_pairs, n))
    for t in range(1, n):  # A's disturbance: a persistent wave (AR(1)), independent per pair
        wave[:, t] = 0.9 * wave[:, t - 1] + rng.normal(0, 1.0, n_pairs)
    rhythm = 20 + 10 * np.sin(2 * np.pi * np.arange(n) / DAY)
    upstream = rhythm + wave + rng.normal(0, 0.3, (n_pairs, n))
    downstream = rhythm + np.roll(wave, 6, axis=1) + rng.normal(0, 0.3, (n_pairs, n))
    values = np.vstack([upstream, downstream])  # rows 0..29 feed rows 30..59
    start = 1_791_000_000.0 - 1_791_000_000.0 % 86_400
    links = [(i, n_pairs + i) for i in range(n_pairs)]
    graph = SensorGraph.from_sites(np.column_stack([np.arange(2 * n_pairs) * 5.0, np.zeros(2 * n_pairs)]), links)
    assert graph.index[Relation.UPSTREAM, n_pairs, 0] == 0 and graph.index[Relation.DOWNSTREAM, 0, 0] == n_pairs
    history = Series(start, 300.0, values)
    errors = {}
    for name, g in (("alone", None), ("with graph", graph)):
        model = ProfileAR(TimeOfWeekAverage(86_400.0, smooth_s=PROFILE_SMOOTH_S), g, horizon_s=3600.0)
        model.fit(Series(start, 300.0, values[:, : (days - 2) * DAY]))
        gaps = []
        for origin in range((days - 2) * DAY, n - 12, 37):
            forecast = model.update(Series(start, 300.0, values[:, :origin])).predict(6)
            gaps.append(np.abs(forecast.mean[n_pairs:, 5] - values[n_pairs:, origin + 5]))
        errors[name] = float(np.mean(gaps))
    assert errors["with graph"] < 0.7 * errors["alone"], errors
    assert history.n_series == graph.n_sensors
