"""Batched ridge regressions for direct multi-horizon models, with time-series cross-validation.

Every series has its own regression of targets ``Y`` (n_origins, n_knots) on features ``X``
(n_origins, p; column 0 the intercept), and every series is solved at once as normal equations
``(X'X + lambda n v I) b = X'Y`` - ``v`` the mean square of the penalised columns, so one
``lambda`` suits every unit. Origins come in contiguous folds; the per-fold Gram matrices add up,
so "fit on the earlier folds, score the next one" costs a subtraction and a solve, and choosing
the ridge and the lag depth by forward-chaining cross-validation costs a few solves on a sample
of series rather than refits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.series import Array, Floats, Ints, row_means, row_variances

FOLDS = 5  # contiguous blocks of origins: 0..2 train, 3 selects, 4 calibrates (then all fit)
SELECT_SERIES = 256  # series the cross-validation scores (chosen evenly over the batch): settings are shared


@dataclass(frozen=True)
class Grams:
    """Per series and fold: X'X (S, F, p, p) and X'Y (S, F, p, K)."""

    gram: Array
    moment: Array

    @classmethod
    def of(cls, x: Floats, y: Floats, fold: Ints) -> Grams:
        """From features (S, J, p) and targets (S, J, K), NaN targets counting as zero (no signal)."""
        return cls.joint(np.concatenate([x, np.nan_to_num(y)], axis=2), x.shape[2], fold)

    @classmethod
    def joint(cls, xy: Floats, p: int, fold: Ints) -> Grams:
        """From features and finite targets side by side, ``xy`` (S, J, p + K), in its precision.

        One batched product X'[X Y] over (series, fold): each series' folds in turn, while its
        origins are in cache. Folds of unequal length are padded with zero origins (they add
        nothing). Fastest when each column of ``xy`` is contiguous over the origins (a transposed
        view of an (S, p + K, J) array).
        """
        n, n_origins, q = xy.shape
        sizes = np.bincount(fold, minlength=FOLDS)
        width = int(sizes.max())
        if (sizes == width).all():
            blocks = xy.reshape(n, FOLDS, width, q)
        else:
            blocks = np.zeros((n, FOLDS, width, q), dtype=xy.dtype)
            blocks[:, fold, np.arange(n_origins) - np.searchsorted(fold, fold)] = xy
        product = np.matmul(blocks[..., :p].transpose(0, 1, 3, 2), blocks).astype(np.float64)  # (S, F, p, p + K)
        return cls(product[..., :p], product[..., p:])

    def solve(self, folds: slice, ridge: float, columns: Ints | None = None) -> Array:
        """Coefficients (S, p', K) fitted on ``folds`` with the feature ``columns`` (default: all)."""
        gram, moment = self.gram[:, folds].sum(axis=1), self.moment[:, folds].sum(axis=1)
        if columns is not None:
            gram, moment = gram[:, columns][:, :, columns], moment[:, columns]
        return ridge_solve(gram, moment, ridge)


def ridge_solve(gram: Array, moment: Array, ridge: float) -> Array:
    """Ridge coefficients (S, p, K); the intercept (column 0) is not shrunk."""
    p = gram.shape[1]
    penalty = np.eye(p)
    penalty[0, 0] = 0.0
    diagonal = np.diagonal(gram, axis1=1, axis2=2)[:, 1:]
    scale = np.maximum(diagonal.mean(axis=1), 1e-12) if p > 1 else np.ones(len(gram))
    regularised = gram + (ridge * scale)[:, None, None] * penalty + 1e-9 * np.eye(p)
    coefficients = np.asarray(np.linalg.solve(regularised, moment), dtype=np.float64)
    return coefficients


@dataclass(frozen=True)
class Choice:
    """The setting cross-validation chose: which feature columns, which ridge, and its score."""

    columns: Ints
    ridge: float
    score: float  # validation MSE relative to the targets' variance, averaged over series and knots


def choose(x: Array, y: Floats, fold: Ints, candidates: Sequence[Ints], ridges: Sequence[float]) -> Choice:
    """The (columns, ridge) pair with the lowest forward-chaining validation error: fitted on folds
    ``0 .. F-3``, scored on fold ``F-2`` - never on the last fold, whose errors set the bands, so
    the bands carry no selection bias. ``x`` (S, J, p), ``y`` (S, J, K) for a sample of series."""
    grams = Grams.of(x, y, fold)
    valid = fold == FOLDS - 2
    xv, yv = x[:, valid], y[:, valid]
    variance = np.maximum(np.nan_to_num(row_variances(yv.transpose(0, 2, 1).astype(np.float64))), 1e-12)  # (S, K)
    best: Choice | None = None
    for columns in candidates:
        for ridge in ridges:
            beta = grams.solve(slice(0, FOLDS - 2), ridge, columns)
            error = yv - np.matmul(xv[:, :, columns], beta)
            score = float(np.nanmean(row_means((error**2).transpose(0, 2, 1)) / variance))
            if best is None or score < best.score - 1e-12:
                best = Choice(np.asarray(columns, dtype=np.int64), float(ridge), score)
    assert best is not None, "at least one candidate"
    return best


def sample_rows(n: int, usable: np.ndarray) -> Ints:
    """Up to ``SELECT_SERIES`` usable rows, evenly spread over the batch."""
    rows = np.flatnonzero(usable)
    if len(rows) <= SELECT_SERIES:
        return rows
    return rows[np.linspace(0, len(rows) - 1, SELECT_SERIES).astype(np.int64)]


def folds_of(n_origins: int) -> Ints:
    """Fold of each origin (non-decreasing): ``FOLDS`` contiguous blocks."""
    return np.minimum(np.arange(n_origins) * FOLDS // max(n_origins, 1), FOLDS - 1).astype(np.int64)
