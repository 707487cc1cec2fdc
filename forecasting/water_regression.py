"""The water model's regression machinery: its design matrix, cross-validated ridge, analog errors.

Separate from ``forecasting.water`` (what the model means) because it is how the numbers are
got: standardised features per series (one ridge suits every unit), Gram matrices per fold of
origins and per regime (dry, wet), cross-fitted errors for every origin (each fold scored by
coefficients fitted without it), and the choice of lag depth and ridge on those errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import assert_never

import numpy as np

from forecasting.lags import Cumulative
from forecasting.rain import HINGES_MM_H, RainFeatures, RainHistory
from forecasting.ridge import FOLDS, folds_of
from forecasting.series import Array, Floats, Ints, Mask, row_means, row_variances


class RainUse(IntEnum):
    """How much of the rain the regression reads: cross-validation decides what the record supports."""

    NONE = 0  # tide and residual only
    RECENT = 1  # the catchment's last 3 hours, rate hinges, tide x rain
    MEMORY = 2  # and each gauge's multi-day memory


Candidate = tuple[int, float, RainUse]  # (lag blocks, ridge, rain)
WET_MM = 0.5  # catchment rain in the last 3 h above which a moment counts as wet
MIN_REGIME_ERRORS = 20  # fewer wet (or dry) error paths than this: calibrate on all of them
ANALOGS = 60  # error paths read when it is raining: the origins with the most similar recent rain
DRY_PATHS = 400  # error paths read when it is dry
SELECTION_KNOTS = 3  # knots the cross-validation scores (spread over the horizon)
CHUNK_CELLS = 4_000_000  # series x origins handled per batch (memory: x features x 8 bytes)


def with_tide(common: Array, rain_hour: Array, tide_before: Array, tide_ahead: Array, hinges: Ints) -> Array:
    """Features (S, J, p) for one knot: the history's, the tide's change until then, tide x recent rain.

    A high river blocks the drains: rain at high water floods where the same rain at low water
    does not, hence the products of the tide ahead with the last hour's rain and the upper rain
    hinges (``hinges``: their columns in ``common``). Tides (S, J): at the origin's last step, at the knot.
    """
    rainy = np.concatenate([rain_hour[..., None], common[..., hinges]], axis=2)
    change = tide_ahead - tide_before
    return np.concatenate([common, change[..., None], tide_ahead[..., None] * rainy], axis=2)


def hinge_columns(n_lags: int, features: RainFeatures) -> Ints:
    """Columns of the two upper rain-rate hinges in the history features (lags first, then rain)."""
    first = n_lags + len(features.short) - 1
    return np.arange(first + 1, first + len(HINGES_MM_H), dtype=np.int64)


@dataclass
class Design:
    """Everything the regressions read at the training origins, and how to solve them."""

    residual: Array  # (n, T) level minus base, forward-filled
    target: Array  # (n, T) level minus base, NaN where missing
    rain: RainHistory
    features: RainFeatures
    tide_ref: Array  # (n, T + horizon) reference tide minus its mean
    edges: Ints  # residual blocks for the deepest candidate
    origins: Ints
    pooled: Ints  # series sharing one regression

    def __post_init__(self) -> None:
        self.lags = Cumulative(self.residual).means(self.origins, self.edges)  # (n, J, L)
        self.rain_x, self.rain_hour = self.features.at(self.rain, self.origins)
        self.wet = self.features.recent(self.rain, self.origins) > WET_MM
        self.fold = folds_of(len(self.origins))

    def x(self, rows: Ints, depth: int, k: int) -> Array:
        common = np.concatenate([self.lags[rows][..., :depth], self.rain_x[rows]], axis=2)
        hinges = hinge_columns(depth, self.features)
        tide = self.tide_ref[rows]
        return with_tide(common, self.rain_hour[rows], tide[:, self.origins - 1], tide[:, self.origins + k], hinges)

    def y(self, rows: Ints, k: int) -> Array:
        return self.target[rows][:, self.origins + k]

    def _batches(self) -> list[tuple[Ints, bool]]:
        n = len(self.residual)
        alone = np.setdiff1d(np.arange(n), self.pooled)
        chunk = max(1, CHUNK_CELLS // max(len(self.origins), 1))
        batches = [(alone[lo : lo + chunk], False) for lo in range(0, len(alone), chunk)]
        return batches + ([(self.pooled, True)] if len(self.pooled) else [])

    def _fits(self, rows: Ints, together: bool, depth: int, k: int, candidates: list[Candidate],
              minimum: int) -> list[list[tuple[Array, Array]]]:  # fmt: skip
        """Per candidate, per regime (dry, wet): coefficients (S, 1 + p) and cross-fitted errors (S, J)."""
        x, y = self.x(rows, depth, k), self.y(rows, k)
        wet = self.wet[rows]
        alone = [own_regime(~wet, minimum, together), own_regime(wet, minimum, together)]
        columns = [self._columns(depth, d, use, x.shape[2]) for d, _, use in candidates]
        ridges = [r for _, r, _ in candidates]
        if not together:
            return ridge_paths(x, y, self.fold, wet, alone, columns, ridges)
        # one regression over every pooled series' rows, ordered by origin so folds stay runs
        flat = x.transpose(1, 0, 2).reshape(1, -1, x.shape[2])
        fold = np.repeat(self.fold, len(rows))
        one = [a[:1] for a in alone]
        fits = ridge_paths(flat, y.T.reshape(1, -1), fold, wet.T.reshape(1, -1), one, columns, ridges)
        return [[(b, e.reshape(len(self.origins), len(rows)).T) for b, e in per] for per in fits]

    def _columns(self, depth: int, d: int, use: RainUse, p: int) -> Ints:
        """Columns of the standardised design (intercept 0) a candidate reads, from features built
        with ``depth`` lag blocks: ``d`` of them, and the rain ``use`` allows (the tide's always)."""
        n_rain = self.features.width
        memory = self.features.n_gauges * max(len(self.features.memory) - 1, 1)
        keep = np.ones(p, dtype=bool)
        keep[d:depth] = False
        match use:
            case RainUse.NONE:
                keep[depth : depth + n_rain] = False
                keep[depth + n_rain + 1 :] = False  # tide x rain
            case RainUse.RECENT:
                keep[depth + n_rain - memory : depth + n_rain] = False
            case RainUse.MEMORY:
                pass
            case _:
                assert_never(use)
        return np.concatenate([[0], 1 + np.flatnonzero(keep)]).astype(np.int64)

    def choose(self, depths: Sequence[int], ridges: Sequence[float], knots: Ints) -> dict[bool, Candidate]:
        """The lag depth, ridge and rain use with the lowest cross-fitted error (relative to each
        target's variance) over a few knots, summed over every series, for both groups - the tide
        gauges (each its own regression) and the pooled street sensors. Chosen per group on squared
        error, the streets took a 1-hour memory that warned of fewer floods in the monsoon-storm test."""
        # Given rain, the last hours' always stay: the rare storm is what they are for, and a squared
        # error over mostly dry weeks would drop them (it did, on 15 days of the simulated city).
        uses = [RainUse.RECENT, RainUse.MEMORY] if self.features.n_gauges else [RainUse.NONE]
        candidates = [(d, r, u) for d in depths for r in ridges for u in uses]
        depth = max(depths)
        scores = {False: np.zeros(len(candidates)), True: np.zeros(len(candidates))}
        chosen_knots = knots[np.unique(np.linspace(0, len(knots) - 1, SELECTION_KNOTS).astype(np.int64))]
        minimum = 4 * FOLDS * (self.x(np.arange(1), depth, 0).shape[2] + 1)
        for rows, together in self._batches() if len(candidates) > 1 else []:
            for k in chosen_knots:
                y = self.y(rows, int(k))
                variance = np.maximum(np.nan_to_num(row_variances(y)), 1e-12)[:, None]
                fits = self._fits(rows, together, depth, int(k), candidates, minimum)
                for c, per_regime in enumerate(fits):
                    error = np.where(self.wet[rows], per_regime[1][1], per_regime[0][1])
                    scores[together][c] += float(np.nansum(row_means(error**2 / variance)))
        best = candidates[int(np.argmin(scores[False] + scores[True]))]
        return {False: best, True: best}

    def solve(self, knots: Ints, depth: int, choices: dict[bool, Candidate]) -> tuple[Array, Array]:
        """Coefficients (n, 2, K, 1 + p) on features of ``depth`` lag blocks, and cross-fitted error
        paths (n, J, K), each group with its chosen setting: the blocks and rain its choice leaves
        out get zero coefficients."""
        n = len(self.residual)
        p = self.x(np.arange(1), depth, 0).shape[2]
        beta = np.zeros((n, 2, len(knots), 1 + p))
        errors = np.full((n, len(self.origins), len(knots)), np.nan)
        minimum = 4 * FOLDS * (p + 1)
        for rows, together in self._batches():
            choice = choices[together]
            columns = self._columns(depth, choice[0], choice[2], p)
            for j, k in enumerate(knots):
                (fits,) = self._fits(rows, together, depth, int(k), [choice], minimum)
                for regime, (coefficients, error) in enumerate(fits):  # dry, wet
                    beta[rows[:, None], regime, j, columns[None, :]] = coefficients
                    mine = self.wet[rows] == bool(regime)
                    errors[rows, :, j] = np.where(mine, error, errors[rows, :, j])
        return beta, errors


def ridge_paths(x: Array, y: Array, fold: Ints, wet: Mask, alone: list[Mask], columns: list[Ints],
                ridges: list[float]) -> list[list[tuple[Array, Array]]]:  # fmt: skip
    """Per candidate (``columns`` of x, ``ridge``) and per regime (dry, wet): coefficients on the
    rows it learns from (S, 1 + p'), intercept first, and every row's cross-fitted error (S, J)
    from coefficients fitted without its fold. A regime learns from its own rows where
    ``alone[regime]`` (S,) says so, else from every row.

    ``fold`` is non-decreasing (contiguous blocks of origins). Columns are standardised per
    series; the intercept is not shrunk. Fold grams sum to the whole, so leaving a fold out is a
    subtraction; the two regimes' grams add up to the all-rows one; candidates are sub-blocks.
    """
    s = x.shape[0]
    mu = x.mean(axis=1, keepdims=True)
    sigma = np.maximum(x.std(axis=1, keepdims=True), 1e-9)
    z = np.concatenate([np.ones((s, x.shape[1], 1)), (x - mu) / sigma], axis=2)
    edges = np.searchsorted(fold, np.arange(FOLDS + 1))
    runs = list(zip(edges[:-1], edges[1:], strict=True))
    finite = np.isfinite(y)
    yw = np.where(finite, y, 0.0)
    parts = []
    for regime in (~wet, wet):
        w = (finite & regime).astype(np.float64)
        gram = np.stack([_gram(z[:, lo:hi] * w[:, lo:hi, None], z[:, lo:hi]) for lo, hi in runs], 1)
        moment = np.stack([np.einsum("sjp,sj->sp", z[:, lo:hi], yw[:, lo:hi] * w[:, lo:hi]) for lo, hi in runs], 1)
        count = np.stack([w[:, lo:hi].sum(axis=1) for lo, hi in runs], 1)  # (S, F)
        parts.append((gram, moment, count))
    both = tuple(a + b for a, b in zip(*parts, strict=True))
    learned = []
    for part, own in zip(parts, alone, strict=True):
        pick = [own.reshape((-1,) + (1,) * (a.ndim - 1)) for a in part]
        learned.append(tuple(np.where(m, a, b) for m, a, b in zip(pick, part, both, strict=True)))
    results = []
    for cols, ridge in zip(columns, ridges, strict=True):
        fits = []
        zc = z[..., cols]
        penalty = ridge * np.eye(len(cols))
        penalty[0, 0] = 0.0
        jitter = 1e-9 * np.eye(len(cols))
        for gram_all, moment_all, count in learned:
            gram, moment = gram_all[:, :, cols][:, :, :, cols], moment_all[:, :, cols]
            total = count.sum(axis=1)
            beta = np.linalg.solve(gram.sum(axis=1) + np.maximum(total, 1)[:, None, None] * penalty + jitter,
                                   moment.sum(axis=1)[..., None])[..., 0]  # fmt: skip
            out = np.maximum(total[:, None] - count, 1)
            beta_out = np.linalg.solve(
                gram.sum(axis=1, keepdims=True) - gram + out[..., None, None] * penalty + jitter,
                (moment.sum(axis=1, keepdims=True) - moment)[..., None],
            )[..., 0]  # (S, F, p')
            predicted = np.concatenate([np.einsum("sjp,sp->sj", zc[:, lo:hi], beta_out[:, f])
                                        for f, (lo, hi) in enumerate(runs)], 1)  # fmt: skip
            unstandardised = _unstandardise(beta, mu[:, 0, cols[1:] - 1], sigma[:, 0, cols[1:] - 1])
            fits.append((unstandardised, y - predicted))
        results.append(fits)
    return results


def _gram(a: Array, b: Array) -> Array:
    """``a' b`` per series (S, p, q): one BLAS product per series when batched, einsum for one long
    pooled series (multi-threaded BLAS on a busy two-core machine is slower there)."""
    if a.shape[0] == 1:
        return np.asarray(np.einsum("sjp,sjq->spq", a, b), dtype=np.float64)
    return np.asarray(np.matmul(np.ascontiguousarray(a.transpose(0, 2, 1)), b), dtype=np.float64)


def _unstandardise(beta: Array, mu: Array, sigma: Array) -> Array:
    """Raw-column coefficients (S, 1 + p) from standardised ones (intercept first); ``mu``, ``sigma`` (S, p)."""
    slopes = beta[:, 1:] / sigma
    intercept = beta[:, :1] - (slopes * mu).sum(axis=1, keepdims=True)
    return np.concatenate([intercept, slopes], axis=1)


def own_regime(mine: Mask, minimum: int, together: bool) -> Mask:
    """(S,) whether a regime learns from its own rows: when it has ``minimum`` of them (per series, or in all)."""
    if together:
        return np.full(mine.shape[0], mine.sum() >= minimum, dtype=np.bool_)
    return np.asarray(mine.sum(axis=1) >= minimum, dtype=np.bool_)


def analog_errors(errors: Floats, rain_at: Array, rain_now: Array, wet_mm: float = WET_MM) -> Floats:
    """(n, M, K) error paths of the origins most like now.

    When it rains: the ``ANALOGS`` origins with the closest rain of the last hours (an analog
    ensemble: after a cloudburst, past cloudbursts' errors); when dry: up to ``DRY_PATHS`` dry
    origins spread over the history. Series with too few such paths take any (NaN pads).
    """
    n, n_origins, _ = errors.shape
    if n_origins == 0:
        return errors
    wet_now = rain_now > wet_mm
    spread = (np.arange(n_origins) * 0.6180339887) % 1.0  # distinct tie-breaks, evenly spread in time
    closeness = np.where(wet_now[:, None], np.abs(rain_at - rain_now[:, None]), spread[None, :])
    same = (rain_at > wet_mm) == wet_now[:, None]
    enough = same.sum(axis=1) >= MIN_REGIME_ERRORS
    distance = np.where(same | ~enough[:, None], closeness, np.inf)
    count = min(DRY_PATHS if not wet_now.any() else max(ANALOGS, DRY_PATHS), n_origins)
    nearest = np.argpartition(distance, count - 1, axis=1)[:, :count]
    wanted = np.where(wet_now, ANALOGS, DRY_PATHS)[:, None] > np.arange(count)[None, :]
    ranked = np.take_along_axis(nearest, np.argsort(np.take_along_axis(distance, nearest, axis=1), axis=1), axis=1)
    paths = np.take_along_axis(errors, ranked[:, :, None], axis=1)
    usable = wanted & np.isfinite(np.take_along_axis(distance, ranked, axis=1))
    chosen: Floats = np.where(usable[:, :, None], paths, np.nan)
    return chosen


def explained_share(values: Array, fitted: Array) -> Array:
    """1 - var(values - fitted) / var(values) per row over finite points (0 where undefined)."""
    finite = np.isfinite(values) & np.isfinite(fitted)
    count = np.maximum(finite.sum(axis=1), 1)
    v = np.where(finite, values, 0.0)
    r = np.where(finite, values - fitted, 0.0)
    var_v = (v**2).sum(axis=1) / count - (v.sum(axis=1) / count) ** 2
    var_r = (r**2).sum(axis=1) / count - (r.sum(axis=1) / count) ** 2
    share = 1.0 - np.divide(var_r, var_v, out=np.ones_like(var_v), where=var_v > 1e-12)
    return np.asarray(np.where(finite.sum(axis=1) > 1, share, 0.0))
