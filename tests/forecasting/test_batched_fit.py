"""The batched fitting machinery is invisible in the results: block-major lag means, per-fold Gram
matrices and chunks of series give what the plain per-series arithmetic gives."""

from __future__ import annotations

import numpy as np

from forecasting.direct import PROFILE_SMOOTH_S
from forecasting.lags import Cumulative, block_edges
from forecasting.profile import CHUNK_SERIES, TimeOfWeekAverage
from forecasting.rain import RainFeatures, RainHistory
from forecasting.ridge import FOLDS, Grams, folds_of
from forecasting.series import Series
from forecasting.water_regression import Design, FoldSums, Regression

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


def _water_design(pooled: list[int]) -> Design:
    """Four street/canal series of 5-minute data with rain, tides and missing targets."""
    rng = np.random.default_rng(4)
    n, n_time, step = 4, 2400, 300.0
    t = np.arange(n_time + 40)
    tide = 0.8 * np.sin(2 * np.pi * t / 149.0)[None, :] * rng.uniform(0.5, 1.0, (n, 1))
    residual = np.cumsum(rng.normal(0, 0.01, (n, n_time)), axis=1) + 0.3
    target = residual + rng.normal(0, 0.005, (n, n_time))
    target[1, rng.choice(n_time, 150, replace=False)] = np.nan  # scattered dropouts
    target[2, 900:1300] = np.nan  # a long outage in a pooled series
    gauges = np.where(rng.random((n, 2, n_time)) < 0.08, rng.gamma(0.7, 4.0, (n, 2, n_time)), 0.0)
    gauges[0, 1, 500:700] = np.nan  # a gauge offline: missing, not dry
    catchment = np.nan_to_num(gauges).mean(axis=1)
    rain = RainHistory(catchment, np.isnan(gauges).mean(axis=1), gauges)
    features = RainFeatures.on(step, 2, memory_s=12 * 3600.0)
    edges = block_edges(3 * 3600.0, step)
    origins = np.arange(int(features.memory[-1]) + 1, n_time - 40)
    return Design(residual, target, rain, features, tide, edges, origins, np.array(pooled, dtype=np.int64))


def _plain_sums(x: np.ndarray, y: np.ndarray, wet: np.ndarray, fold: np.ndarray) -> FoldSums:
    """The fold sums by their definition: ``[1, x - mean, y]`` of every origin with a target, and of
    the wet ones, multiplied out from the rows of features (S, J, p) and targets (S, J)."""
    s, n_origins, p = x.shape
    mean = x.mean(axis=1)
    finite = np.isfinite(y)
    v = np.concatenate([np.ones((s, n_origins, 1)), x - mean[:, None, :], np.where(finite, y, 0.0)[..., None]], axis=2)
    products = np.zeros((s, 2, FOLDS, p + 2, p + 2))
    for regime, rows in enumerate((finite, finite & wet)):
        for f in range(FOLDS):
            w = (rows & (fold == f)[None, :])[..., None]
            products[:, regime, f] = np.einsum("sjp,sjq->spq", v * w, v)
    return FoldSums(products, mean, ((x - mean[:, None, :]) ** 2).sum(axis=1), n_origins)


def test_water_sums_from_the_cached_part_are_the_plain_sums_with_missing_targets() -> None:
    design = _water_design([2, 3])
    assert design.wet.any() and not design.wet.all()
    rows = np.arange(4)
    for k in (0, 7, 30):
        fast = design.sums(rows, k)
        plain = _plain_sums(design.x(rows, k), design.y(rows, k), design.wet, design.fold)
        assert np.allclose(fast.products, plain.products, rtol=1e-9, atol=1e-8)
        assert np.allclose(fast.mean, plain.mean) and np.allclose(fast.spread, plain.spread)
        assert plain.products[1, 0, :, 0, 0].sum() < plain.products[0, 0, :, 0, 0].sum()  # the dropouts left out


def test_a_pooled_water_regression_is_the_ridge_over_all_its_rows() -> None:
    """Checked against the plain arithmetic: one ridge on every pooled row standardised together,
    each row's held-out error from coefficients fitted without its fold, scored per series."""
    design = _water_design([2, 3])
    rows, k, ridge = np.array([2, 3]), 7, 0.01
    alone = [np.array([True]), np.array([False])]  # dry learns from dry rows, wet from all
    regression = Regression.of(design.sums(rows, k), True, alone)
    columns = np.arange(1 + design.width)
    fit = regression.fit(columns, ridge)

    x, y, wet = design.x(rows, k), design.y(rows, k), design.wet[rows]
    flat_x, flat_y = x.reshape(-1, x.shape[2]), y.reshape(-1)
    flat_fold, flat_wet = np.tile(design.fold, len(rows)), wet.reshape(-1)
    mu, sigma = flat_x.mean(axis=0), np.maximum(flat_x.std(axis=0), 1e-9)  # some rain columns stay 0
    z = np.column_stack([np.ones(len(flat_x)), (flat_x - mu) / sigma])
    penalty = ridge * np.eye(z.shape[1])
    penalty[0, 0] = 0.0

    def ridge_fit(use: np.ndarray) -> np.ndarray:
        zu, yu = z[use], flat_y[use]
        return np.linalg.solve(zu.T @ zu + use.sum() * penalty + 1e-9 * np.eye(z.shape[1]), zu.T @ yu)

    finite = np.isfinite(flat_y)
    dry = ridge_fit(finite & ~flat_wet)
    raw = np.concatenate([[dry[0] - (dry[1:] * mu / sigma).sum()], dry[1:] / sigma])
    assert np.allclose(fit.coefficients[0, 0], raw, rtol=1e-6, atol=1e-9)

    squares = np.zeros(len(rows))
    for f in range(FOLDS):
        out = {0: ridge_fit(finite & ~flat_wet & (flat_fold != f)), 1: ridge_fit(finite & (flat_fold != f))}
        for regime, beta in out.items():
            scored = finite & (flat_fold == f) & (flat_wet == bool(regime))
            error = np.where(scored, flat_y - z @ beta, 0.0).reshape(len(rows), -1)
            squares += (error**2).sum(axis=1)
    got, count = regression.held_out_squares(columns, ridge)
    assert np.allclose(got, squares, rtol=1e-6)
    assert count.tolist() == np.isfinite(y).sum(axis=1).tolist()
