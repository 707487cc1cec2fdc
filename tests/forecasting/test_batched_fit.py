"""The batched fitting machinery is invisible in the results: block-major lag means, per-fold Gram
matrices and chunks of series give what the plain per-series arithmetic gives."""

from __future__ import annotations

import numpy as np

from forecasting.direct import PROFILE_SMOOTH_S
from forecasting.lags import Cumulative, block_edges
from forecasting.profile import CHUNK_SERIES, TimeOfWeekAverage
from forecasting.ridge import FOLDS, Grams, folds_of
from forecasting.series import Series

START = 1_788_000_000.0 - 1_788_000_000.0 % 86_400


def test_block_major_means_are_the_block_means() -> None:
    values = np.random.default_rng(1).normal(0, 5, (7, 400)).astype(np.float32)
    edges = block_edges(6 * 3600.0, 300.0)
    origins = np.array([0, 1, 5, 40, 72, 200, 400])  # the early ones reach before the first column
    expected = Cumulative(values, gaps=False).means(origins, edges)  # (n, J, B)
    got = Cumulative(values, gaps=False).means_by_block(origins, edges, np.empty((7, len(edges) - 1, 7), np.float32))
    assert np.allclose(got.transpose(0, 2, 1), expected, rtol=1e-6, atol=1e-5)
    assert got[:, :, 0].tolist() == np.zeros((7, len(edges) - 1)).tolist()  # nothing before column 0: empty blocks
    at_200 = values[:, 200 - 72 : 200 - 36].mean(axis=1)  # the block 3-6 h before origin 200
    assert np.allclose(got[:, list(edges).index(36), 5], at_200, rtol=1e-5)


def _per_fold_products(x: np.ndarray, y: np.ndarray, fold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gram = np.zeros((len(x), FOLDS, x.shape[2], x.shape[2]))
    moment = np.zeros((len(x), FOLDS, x.shape[2], y.shape[2]))
    for s in range(len(x)):
        for j, f in enumerate(fold):
            gram[s, f] += np.outer(x[s, j], x[s, j])
            moment[s, f] += np.outer(x[s, j], np.nan_to_num(y[s, j]))
    return gram, moment


def test_gram_matrices_per_fold_with_equal_and_unequal_folds() -> None:
    rng = np.random.default_rng(2)
    for n_origins in (100, 103):  # 5 folds of 20; folds of 20 and 21 (padded inside)
        x, y = rng.normal(size=(3, n_origins, 4)), rng.normal(size=(3, n_origins, 2))
        y[0, 7, 1] = np.nan  # a missing target carries no signal
        fold = folds_of(n_origins)
        grams = Grams.of(x, y, fold)
        gram, moment = _per_fold_products(x, y, fold)
        assert np.allclose(grams.gram, gram) and np.allclose(grams.moment, moment)
        side_by_side = np.concatenate([x, np.nan_to_num(y)], axis=2).transpose(0, 2, 1).copy().transpose(0, 2, 1)
        joint = Grams.joint(side_by_side, 4, fold)  # the layout ProfileAR hands over: origins contiguous
        assert np.allclose(joint.gram, gram) and np.allclose(joint.moment, moment)


def _counts_with_gaps(n_series: int, days: int) -> Series:
    rng = np.random.default_rng(3)
    t = np.arange(days * 288)
    values = (
        50 + 30 * np.sin(2 * np.pi * t / 288 + rng.uniform(0, 6, (n_series, 1))) + rng.normal(0, 4, (n_series, len(t)))
    )
    values[CHUNK_SERIES + 3, 100:400] = np.nan  # gaps only in a later chunk: counts become per series there
    values[CHUNK_SERIES + 4, :] = np.nan  # a series never seen
    values[CHUNK_SERIES + 5, 2 * 288 : 3 * 288] = np.nan  # the weekday after the history: never seen
    return Series(START, 300.0, values)


def test_the_profile_fits_each_series_as_if_alone_whatever_the_chunks() -> None:
    history = _counts_with_gaps(CHUNK_SERIES + 6, 9)
    batch = TimeOfWeekAverage(smooth_s=PROFILE_SMOOTH_S)
    residual = batch.cross_fitted_residual(history)
    forecast = batch.predict(288)
    flagged = forecast.fallback
    assert flagged is not None
    for rows in ([0, 1], [CHUNK_SERIES - 1, CHUNK_SERIES], [CHUNK_SERIES + 3, CHUNK_SERIES + 4, CHUNK_SERIES + 5]):
        alone = TimeOfWeekAverage(smooth_s=PROFILE_SMOOTH_S)
        part = Series(history.start, history.step_s, history.values[rows])
        assert np.allclose(alone.cross_fitted_residual(part), residual[rows], equal_nan=True)
        own = alone.predict(288)
        assert np.allclose(own.mean, forecast.mean[rows], equal_nan=True)
        assert np.allclose(own.upper[0.8], forecast.upper[0.8][rows], equal_nan=True)
        assert own.fallback is not None and own.fallback.tolist() == flagged[rows].tolist()
    assert flagged[CHUNK_SERIES + 4 :].all() and not flagged[: CHUNK_SERIES + 4].any()
    assert np.isfinite(forecast.mean[CHUNK_SERIES + 5]).all()  # filled from the same time of other days, flagged
    single = TimeOfWeekAverage(smooth_s=PROFILE_SMOOTH_S).cross_fitted_residual(history, np.float32)
    assert single.dtype == np.float32 and np.allclose(single, residual, equal_nan=True, rtol=1e-6, atol=1e-4)
