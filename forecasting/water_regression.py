"""The water model's regression machinery: its design matrix, cross-validated ridge, analog errors.

Separate from ``forecasting.water`` (what the model means) because it is how the numbers are
got: standardised features per series (one ridge suits every unit), sums of products per fold of
origins and per regime (dry, wet) - those of the features that do not change with the horizon
once, the tide's few columns per knot, so a fit costs little more per knot than a forecast -,
cross-fitted errors for every origin (each fold scored by coefficients fitted without it), and
the choice of lag depth and ridge on those errors, scored from the sums alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import assert_never

import numpy as np

from forecasting.lags import Cumulative
from forecasting.rain import HINGES_MM_H, RainFeatures, RainHistory
from forecasting.ridge import FOLDS, Grams, folds_of
from forecasting.series import Array, Floats, Ints, Mask, row_variances


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
ROW_BATCH = 4096  # rows without a target taken out of the cached sums at once
CHUNK_CELLS = 200_000  # series x origins handled at once (memory: x 2 (features + 2) x 8 bytes)


def with_tide(common: Array, rain_hour: Array, tide_before: Array, tide_ahead: Array, hinges: Ints) -> Array:
    """Features (S, J, p) for one knot: the history's, the tide's change until then, tide x recent rain.

    A high river blocks the drains: rain at high water floods where the same rain at low water
    does not, hence the products of the tide ahead with the last hour's rain and the upper rain
    hinges (``hinges``: their columns in ``common``). Tides (S, J): at the origin's last step, at the knot.
    """
    rainy = rainy_columns(common, rain_hour, hinges)
    return np.concatenate([common, tide_columns(rainy, tide_before, tide_ahead)], axis=2)


def rainy_columns(common: Array, rain_hour: Array, hinges: Ints) -> Array:
    """(S, J, 3) the rain the tide ahead multiplies: the last hour's, and the upper rate hinges."""
    return np.concatenate([rain_hour[..., None], common[..., hinges]], axis=2)


def tide_columns(rainy: Array, tide_before: Array, tide_ahead: Array) -> Array:
    """(S, J, 1 + 3) the features that change with the knot: the tide's change, tide ahead x rain."""
    return np.concatenate([(tide_ahead - tide_before)[..., None], tide_ahead[..., None] * rainy], axis=2)


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
        lags = Cumulative(self.residual).means(self.origins, self.edges)  # (n, J, L)
        rain_x, rain_hour = self.features.at(self.rain, self.origins)
        n, n_origins = len(self.residual), len(self.origins)
        self.wet = self.features.recent(self.rain, self.origins) > WET_MM
        self.fold = folds_of(n_origins)
        self.runs = np.searchsorted(self.fold, np.arange(FOLDS + 1))
        self.rainy = rainy_columns(rain_x, rain_hour, hinge_columns(0, self.features))  # (n, J, 3)
        # The features that do not change with the knot, once: [1, x - mean] with origins contiguous
        # (n, 1 + c, J), their means and spreads, and their sums of products per regime and fold.
        width = lags.shape[2] + rain_x.shape[2]
        self.common = np.empty((n, 1 + width, n_origins))
        self.common[:, 0] = 1.0
        self.common[:, 1 : 1 + lags.shape[2]] = lags.transpose(0, 2, 1)
        self.common[:, 1 + lags.shape[2] :] = rain_x.transpose(0, 2, 1)
        del lags, rain_x
        self.common_mean = self.common[:, 1:].mean(axis=2)
        self.common[:, 1:] -= self.common_mean[:, :, None]
        self.common_spread = np.einsum("spj,spj->sp", self.common[:, 1:], self.common[:, 1:])
        self.common_products = np.empty((n, 2, FOLDS, 1 + width, 1 + width))
        for chunk in self._chunks(np.arange(n)):
            a = self.common[chunk]
            weighted = np.concatenate([a, a * self.wet[chunk][:, None, :]])  # every origin, the wet ones
            products = Grams.joint(weighted.transpose(0, 2, 1), 1 + width, self.fold).gram
            self.common_products[chunk] = products.reshape(2, len(chunk), FOLDS, 1 + width, 1 + width).swapaxes(0, 1)

    @property
    def width(self) -> int:
        """Features per row: the common ones and the knot's."""
        return int(self.common.shape[1] + self.rainy.shape[2])  # [1, common] less the 1, + change and 3 x rain

    def _knot_columns(self, rows: Ints, k: int) -> Array:
        """(S, J, 4) the features of knot ``k``: the tide's change, tide ahead x rain."""
        tide = self.tide_ref[rows]
        return tide_columns(self.rainy[rows], tide[:, self.origins - 1], tide[:, self.origins + k])

    def x(self, rows: Ints, k: int) -> Array:
        """The raw features (S, J, p) of knot ``k``, as ``with_tide`` builds them for a forecast."""
        common = self.common[rows, 1:].transpose(0, 2, 1) + self.common_mean[rows][:, None, :]
        return np.concatenate([common, self._knot_columns(rows, k)], axis=2)

    def y(self, rows: Ints, k: int) -> Array:
        return self.target[rows][:, self.origins + k]

    def _chunks(self, rows: Ints) -> list[Ints]:
        chunk = max(1, CHUNK_CELLS // max(len(self.origins), 1))
        return [rows[lo : lo + chunk] for lo in range(0, len(rows), chunk)]

    def _groups(self) -> list[tuple[Ints, bool]]:
        """The series with their own regressions, and the pooled ones (one regression)."""
        alone = np.setdiff1d(np.arange(len(self.residual)), self.pooled)
        return [(rows, together) for rows, together in ((alone, False), (self.pooled, True)) if len(rows)]

    def sums(self, rows: Ints, k: int) -> FoldSums:
        """The fold sums of knot ``k``'s features ``self.x(rows, k)`` and targets, from the cached common
        part: only the knot's few columns are new, and the rows whose target is missing are taken back out."""
        return FoldSums.concatenate([self._chunk_sums(chunk, k) for chunk in self._chunks(rows)])

    def _chunk_sums(self, rows: Ints, k: int) -> FoldSums:
        a, wet = self.common[rows], self.wet[rows]
        knot = self._knot_columns(rows, k).transpose(0, 2, 1)  # (S, 4, J)
        knot_mean = knot.mean(axis=2)
        y = self.y(rows, k)
        finite = np.isfinite(y)
        u = np.concatenate([knot - knot_mean[:, :, None], np.where(finite, y, 0.0)[:, None, :]], axis=1)
        s, c, m = len(rows), a.shape[1], u.shape[1]
        weights = np.stack([finite, finite & wet], axis=1).astype(np.float64)  # (S, 2, J) per regime
        uw = (u[:, None] * weights[:, :, None]).reshape(s, 2 * m, -1)
        products = np.empty((s, 2, FOLDS, c + m, c + m))
        products[..., :c, :c] = self.common_products[rows]
        for f, (lo, hi) in enumerate(itertools.pairwise(self.runs)):
            cross = np.matmul(a[:, :, lo:hi], uw[:, :, lo:hi].transpose(0, 2, 1)).reshape(s, c, 2, m)
            products[:, :, f, :c, c:] = cross.transpose(0, 2, 1, 3)
            products[:, :, f, c:, :c] = cross.transpose(0, 2, 3, 1)
            inner = np.matmul(uw[:, :, lo:hi], u[:, :, lo:hi].transpose(0, 2, 1)).reshape(s, 2, m, m)
            products[:, :, f, c:, c:] = inner
        if not finite.all():
            products[..., :c, :c] -= _row_products(a, ~finite, wet, self.fold)
        spread = np.concatenate([self.common_spread[rows], np.einsum("spj,spj->sp", u[:, :-1], u[:, :-1])], axis=1)
        return FoldSums(
            products, np.concatenate([self.common_mean[rows], knot_mean], axis=1), spread, len(self.origins)
        )

    def _regression(self, rows: Ints, together: bool, k: int, minimum: int) -> Regression:
        wet = self.wet[rows]
        alone = [own_regime(~wet, minimum, together), own_regime(wet, minimum, together)]
        return Regression.of(self.sums(rows, k), together, [a[:1] for a in alone] if together else alone)

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
        target's variance) over a few knots: for the series with their own regressions (the tide
        gauges) on their errors alone, for the pooled street sensors on every series' errors. Chosen
        on the streets' errors alone, the streets took a 1-hour memory that warned of fewer floods in
        the monsoon-storm test; chosen on everyone's, the many streets set the gauges' ridge, and a
        ridge that flattened the rain-driven rise cut canal warnings from 88 to 15 minutes ahead
        (monsoon-storm seed 5).

        Scored from the sums of products alone: a fold's squared error under coefficients fitted
        without it is a quadratic form of its sums, so no candidate predicts row by row."""
        # Given rain, the last hours' always stay: the rare storm is what they are for, and a squared
        # error over mostly dry weeks would drop them (it did, on 15 days of the simulated city).
        uses = [RainUse.RECENT, RainUse.MEMORY] if self.features.n_gauges else [RainUse.NONE]
        candidates = [(d, r, u) for d in depths for r in ridges for u in uses]
        if len(candidates) == 1:
            return {False: candidates[0], True: candidates[0]}
        depth = max(depths)
        p = self.width
        scores = {False: np.zeros(len(candidates)), True: np.zeros(len(candidates))}
        chosen_knots = knots[np.unique(np.linspace(0, len(knots) - 1, SELECTION_KNOTS).astype(np.int64))]
        minimum = 4 * FOLDS * (p + 1)
        for rows, together in self._groups():
            for k in chosen_knots:
                variance = np.maximum(np.nan_to_num(row_variances(self.y(rows, int(k)))), 1e-12)
                regression = self._regression(rows, together, int(k), minimum)
                for c, (d, ridge, use) in enumerate(candidates):
                    squared, count = regression.held_out_squares(self._columns(depth, d, use, p), ridge)
                    per_series = np.where(count > 0, squared / np.maximum(count, 1), np.nan) / variance
                    scores[together][c] += float(np.nansum(per_series))
        own = candidates[int(np.argmin(scores[False]))]
        every = candidates[int(np.argmin(scores[False] + scores[True]))]
        return {False: own if scores[False].any() else every, True: every}  # no gauge scored: as pooled

    def solve(self, knots: Ints, depth: int, choices: dict[bool, Candidate]) -> tuple[Array, Array]:
        """Coefficients (n, 2, K, 1 + p) on features of ``depth`` lag blocks, and cross-fitted error
        paths (n, J, K), each group with its chosen setting: the blocks and rain its choice leaves
        out get zero coefficients."""
        n, p = len(self.residual), self.width
        beta = np.zeros((n, 2, len(knots), 1 + p))
        errors = np.full((n, len(self.origins), len(knots)), np.nan)
        minimum = 4 * FOLDS * (p + 1)
        for rows, together in self._groups():
            d, ridge, use = choices[together]
            columns = self._columns(depth, d, use, p)
            held_out = np.empty((len(rows), len(knots), 2, FOLDS, 1 + p))
            for j, k in enumerate(knots):
                regression = self._regression(rows, together, int(k), minimum)
                fit = regression.fit(columns, ridge)
                beta[rows, :, j] = fit.coefficients
                held_out[:, j] = regression.held_out(fit)
            start = 0
            for chunk in self._chunks(rows):
                errors[chunk] = self._errors(chunk, held_out[start : start + len(chunk)], knots)
                start += len(chunk)
        return beta, errors

    def _errors(self, rows: Ints, coefficients: Array, knots: Ints) -> Array:
        """Cross-fitted errors (S, J, K): each row by its regime's coefficients (S, K, 2, F, 1 + p) on
        ``[1, x - mean]``, fitted without its fold; NaN where the target is missing."""
        a, wet = self.common[rows], self.wet[rows]
        c = a.shape[1]
        knot = np.stack([self._knot_columns(rows, int(k)).transpose(0, 2, 1) for k in knots], axis=1)  # (S, K, 4, J)
        knot -= knot.mean(axis=3, keepdims=True)
        predicted = np.empty((len(rows), 2, len(knots), len(self.origins)))
        for f, (lo, hi) in enumerate(itertools.pairwise(self.runs)):
            for regime in (0, 1):
                b = coefficients[:, :, regime, f]  # (S, K, 1 + p)
                common = np.matmul(b[..., :c], a[:, :, lo:hi])
                predicted[:, regime, :, lo:hi] = common + np.einsum("ski,skij->skj", b[..., c:], knot[..., lo:hi])
        chosen = np.where(wet[:, None, :], predicted[:, 1], predicted[:, 0])  # (S, K, J)
        targets = np.stack([self.y(rows, int(k)) for k in knots], axis=2)
        return np.asarray(targets - chosen.transpose(0, 2, 1))


def _row_products(a: Array, rows: Mask, wet: Mask, fold: Ints) -> Array:
    """(S, 2, F, c, c) the sums of ``a a'`` over the origins ``rows`` (S, J) per fold, for every
    such origin and for the wet ones: what the rows without a target put in the cached sums."""
    s, c, _ = a.shape
    out = np.zeros((s * 2 * FOLDS, c, c))
    series, origin = np.nonzero(rows)
    for lo in range(0, len(series), ROW_BATCH):
        at, j = series[lo : lo + ROW_BATCH], origin[lo : lo + ROW_BATCH]
        row = a[at, :, j]  # (m, c)
        outer = row[:, :, None] * row[:, None, :]
        key = (at * 2) * FOLDS + fold[j]
        np.add.at(out, key, outer)
        damp = wet[at, j]
        np.add.at(out, key[damp] + FOLDS, outer[damp])
    return out.reshape(s, 2, FOLDS, c, c)


@dataclass(frozen=True)
class FoldSums:
    """Per series, regime and fold, the sums of products of ``v = [1, x - mean, y]`` (S, 2, F, q, q),
    ``q = p + 2``: regime 0 over every origin with a target, regime 1 over the wet ones (the dry are
    the difference). ``y`` enters as 0 where missing, and the rows without one are left out.

    Everything a ridge regression and its cross-validation need, in (p + 2)^2 numbers per fold
    instead of the rows; centred on each series' mean (``mean``, with ``spread`` its unweighted sum
    of squared deviations) so no sum cancels, whatever the columns' offsets.
    """

    products: Array
    mean: Array  # (S, p)
    spread: Array  # (S, p)
    n_origins: int

    @classmethod
    def concatenate(cls, parts: list[FoldSums]) -> FoldSums:
        return cls(np.concatenate([f.products for f in parts]), np.concatenate([f.mean for f in parts]),
                   np.concatenate([f.spread for f in parts]), parts[0].n_origins)  # fmt: skip


@dataclass(frozen=True)
class HeldOutFit:
    """A candidate's coefficients per regime (dry, wet): without each fold ``beta_out`` (S', 2, F, q')
    in the standardised design, and on every fold ``coefficients`` on the raw features; S' is 1 when pooled."""

    columns: Ints
    beta_out: Array
    coefficients: Array  # (S', 2, 1 + p): on the raw features, intercept first, 0 for unread columns


@dataclass(frozen=True)
class Regression:
    """One group's regressions (each series its own, or one pooled over all) from their fold sums,
    on features standardised per series (pooled: over all the group's rows) - one ridge suits every
    unit. A regime learns from its own rows where ``alone`` (per regime, (S',)) says so, else from all.

    ``shift`` (S, q, q) maps a series' centred row ``v`` to the group's: ``v_group = shift @ v``,
    so a coefficient vector ``b`` on the standardised group design reads ``(shift' D b) . v`` on it.
    """

    learned: Array  # (S', 2, F, q, q) in standardised units: what each regime learns from
    own: Array  # (S, 2, F, q, q) each series' own sums per regime (dry, wet), centred on its own mean
    scale: Array  # (S', q): D, 1 / sigma for the features, 1 for the intercept and y
    mu: Array  # (S', p) the group's feature means
    shift: Array | None  # (S, q, q), None when every series is its own group

    @classmethod
    def of(cls, sums: FoldSums, together: bool, alone: list[Mask]) -> Regression:
        products, n_origins = sums.products, sums.n_origins
        products = np.concatenate([products[:, :1] - products[:, 1:], products[:, 1:]], axis=1)  # dry, wet
        if together:
            mu = sums.mean.mean(axis=0, keepdims=True)
            offset = sums.mean - mu  # (S, p)
            spread = sums.spread.sum(axis=0, keepdims=True) + n_origins * (offset**2).sum(axis=0, keepdims=True)
            count = n_origins * len(sums.mean)
            shift = np.broadcast_to(np.eye(products.shape[-1]), (len(offset),) + products.shape[-2:]).copy()
            shift[:, 1:-1, 0] = offset
            shifted = np.matmul(np.matmul(shift[:, None, None], products), shift.transpose(0, 2, 1)[:, None, None])
            grouped = shifted.sum(axis=0, keepdims=True)
        else:
            mu, spread, count, shift, grouped = sums.mean, sums.spread, n_origins, None, products
        sigma = np.maximum(np.sqrt(spread / max(count, 1)), 1e-9)
        scale = np.concatenate([np.ones((len(sigma), 1)), 1.0 / sigma, np.ones((len(sigma), 1))], axis=1)
        standard = grouped * scale[:, None, None, :, None] * scale[:, None, None, None, :]
        both = standard.sum(axis=1, keepdims=True)
        learned = np.stack([np.where(alone[r][:, None, None, None], standard[:, r], both[:, 0])
                            for r in (0, 1)], axis=1)  # fmt: skip
        return cls(learned, products, scale, mu, shift)

    def fit(self, columns: Ints, ridge: float) -> HeldOutFit:
        """Coefficients of the candidate reading ``columns`` (of ``[1, x]``) with ``ridge``, for
        every regime, on every fold and without each fold; the intercept is not shrunk."""
        target = self.learned.shape[-1] - 1
        gram = self.learned[..., columns[:, None], columns[None, :]]  # (S', 2, F, q', q')
        moment = self.learned[..., columns, target]
        count = self.learned[..., 0, 0]  # (S', 2, F)
        penalty = ridge * np.eye(len(columns))
        penalty[0, 0] = 0.0
        jitter = 1e-9 * np.eye(len(columns))
        total = count.sum(axis=-1)
        gram_all, moment_all = gram.sum(axis=2), moment.sum(axis=2)
        beta = np.linalg.solve(gram_all + np.maximum(total, 1)[..., None, None] * penalty + jitter,
                               moment_all[..., None])[..., 0]  # fmt: skip
        out = np.maximum(total[..., None] - count, 1)
        beta_out = np.linalg.solve(gram_all[:, :, None] - gram + out[..., None, None] * penalty + jitter,
                                   (moment_all[:, :, None] - moment)[..., None])[..., 0]  # fmt: skip
        full = np.zeros(beta.shape[:-1] + (target,))
        full[..., columns] = beta
        coefficients = _unstandardise(full * self.scale[:, None, :-1], self.mu[:, None, :])
        return HeldOutFit(columns, beta_out, coefficients)

    def held_out(self, fit: HeldOutFit) -> Array:
        """(S, 2, F, q - 1) each series' held-out coefficients on its own centred row ``[1, x - mean]``."""
        q = self.learned.shape[-1]
        full = np.zeros(fit.beta_out.shape[:-1] + (q - 1,))
        full[..., fit.columns] = fit.beta_out
        full *= self.scale[:, None, None, :-1]
        if self.shift is None:
            return full
        return np.asarray(np.einsum("sij,rfi->srfj", self.shift[:, :-1, :-1], full[0]))

    def held_out_squares(self, columns: Ints, ridge: float) -> tuple[Array, Array]:
        """Per series: the squared errors summed over its rows with targets, each row scored by its
        regime's coefficients fitted without the row's fold, and how many rows that is (S,), (S,)."""
        per_series = self.held_out(self.fit(columns, ridge))
        vector = np.concatenate([per_series, -np.ones(per_series.shape[:-1] + (1,))], axis=-1)
        squares = np.einsum("srfi,srfij,srfj->s", vector, self.own, vector)
        return squares, self.own[:, :, :, 0, 0].sum(axis=(1, 2))


def _unstandardise(beta: Array, mu: Array) -> Array:
    """Raw-column coefficients (..., 1 + p) from ones on centred raw columns (slopes already divided
    by sigma), intercept first; ``mu`` (..., p) the centre."""
    intercept = beta[..., :1] - (beta[..., 1:] * mu).sum(axis=-1, keepdims=True)
    return np.concatenate([intercept, beta[..., 1:]], axis=-1)


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
