"""Water level: tide + rain response + autoregressive residual, forecast directly at every horizon.

A canal gauge follows the tide, plus what the catchment's rain adds for a few hours; a street
depth sensor reads zero until rain arrives faster than drains that the high river is blocking can
take it away. One linear model per series and horizon knot covers both:

    level(t + k) - base(t + k) ~ residual lags at t
                                + rain of the nearest gauges in blocks of the last 3 h (a learned distributed lag)
                                + hinges of the latest rain rate (drains take so much, then the street ponds)
                                + the reference tide's change from t to t + k, and its level x recent rain

``base`` is the series' own astronomical tide when its harmonic fit explains most of its variance
(a tide gauge), else zero; a series that is not a tide gauge takes the tide of the nearest one as
its reference (``xy``). Tide gauges get a ridge regression each; the other series (street depth)
share one pooled regression, so a street that has not flooded yet learns from those that have.
Each has dry and wet coefficients (rain in the last 3 h or not): after rain a street is another
system than in a dry week. Every series and knot is solved at once, on standardised features.

Errors are cross-fitted (blocks of origins, each scored by coefficients fitted without it), so
every training origin yields an out-of-sample error path. Bands and the exceedance probability
``P(level > L at or before t + h)`` are read off the paths of the origins most like now: dry
origins when dry, else those with the closest recent rain (an analog ensemble).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from forecasting import tide
from forecasting.baselines import (
    DEFAULT_LEVELS,
    bands_from_knots,
    forward_fill,
    horizon_knots,
    interpolate_knots,
    without_forecast,
)
from forecasting.intervals import error_quantiles
from forecasting.series import Array, Forecast, Series

RAIN_BLOCKS_MIN = (0, 15, 30, 60, 120, 180)  # rain summed over [0, 15), [15, 30), ... minutes before now
HINGES_MM_H = (10.0, 25.0, 50.0)  # rain-rate knees of the piecewise-linear rain response
TIDE_TIMES_RAIN = 3  # interactions: tide ahead x (last hour's rain, and the two upper hinges)
WET_MM = 0.5  # catchment rain in the last 3 h above which a moment counts as wet
TIDAL_SHARE = 0.5  # a series is a tide gauge when its harmonic fit explains this share of its variance
FOLDS = 5  # blocks of origins for cross-fitted errors
MIN_REGIME_ERRORS = 20  # fewer wet (or dry) error paths than this: calibrate on all of them
ANALOGS = 60  # error paths read when it is raining: the origins with the most similar recent rain
DRY_PATHS = 400  # error paths read when it is dry
CHUNK_CELLS = 4_000_000  # series x origins handled per batch (memory: x features x 8 bytes)

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RainLink:
    """Which rain series feed each water series, and with what weights (each row sums to 1)."""

    gauges: Ints  # (n_water, k) rows of the rain batch
    weights: Array  # (n_water, k)


def nearest_gauges(water_xy: Array, rain_xy: Array, k: int = 2, min_km: float = 0.3) -> RainLink:
    """The ``k`` nearest rain gauges of every water sensor, inverse-distance-squared weighted (km grids)."""
    distance = np.hypot(*(water_xy[:, None, :] - rain_xy[None, :, :]).transpose(2, 0, 1))
    k = min(k, rain_xy.shape[0])
    gauges = np.argsort(distance, axis=1)[:, :k]
    weights = 1.0 / np.maximum(np.take_along_axis(distance, gauges, axis=1), min_km) ** 2
    return RainLink(gauges.astype(np.int64), weights / weights.sum(axis=1, keepdims=True))


def catchment_rain(rain: Array, link: RainLink) -> Array:
    """(n_water, n_time) weighted rain of each water sensor's gauges; a missing reading counts as none."""
    filled = np.where(np.isfinite(rain), rain, 0.0)
    weighted: Array = np.einsum("wkt,wk->wt", filled[link.gauges], link.weights)
    return weighted


def tide_references(tidal: npt.NDArray[np.bool_], xy: Array | None) -> Ints:
    """For every series, the tide gauge whose tide drives it: itself if tidal, else the nearest tidal one (-1: none)."""
    n = len(tidal)
    own = np.where(tidal, np.arange(n), -1)
    if xy is None or not tidal.any():
        return own
    gauges = np.flatnonzero(tidal)
    distance = np.hypot(*(xy[:, None, :] - xy[None, gauges, :]).transpose(2, 0, 1))
    return np.where(tidal, own, gauges[np.argmin(distance, axis=1)])


@dataclass(frozen=True)
class _State:
    """The history as the regressions read it; ``update`` rebuilds it from newer data cheaply."""

    history: Series
    residual: Array  # (n, T) level minus base, forward-filled (for lags)
    target: Array  # (n, T) level minus base, NaN where missing (for targets)
    rain: Array  # (n, T) catchment rain per step (zeros without rain)


@dataclass(frozen=True)
class _Tides:
    """What ``fit`` learned about each series' tide."""

    constants: tide.TidalConstants
    base_on: npt.NDArray[np.bool_]  # (n,) series whose own tide is their base
    reference: Ints  # (n,) row whose tide drives each series, -1 for none
    reference_mean: Array  # (n,) mean of the reference tide over the fitted history
    floor: Array  # (n,) lowest possible reading (a depth sensor's zero) or -inf

    def at(self, times: Array) -> tuple[Array, Array]:
        """(base, reference tide minus its mean) at ``times``: (n, T) each, zeros where a series has none."""
        own = self.constants.predict(times)
        base = np.where(self.base_on[:, None], own, 0.0)
        ref = np.where(self.reference[:, None] >= 0, own[np.maximum(self.reference, 0)], np.nan)
        return base, np.nan_to_num(ref - self.reference_mean[:, None])


@dataclass(frozen=True)
class _Regressions:
    """Per regime (dry, wet) and knot: coefficients (n, 2, K, 1 + p); cross-fitted error paths, wet origins."""

    knots: Ints
    beta: Array
    errors: Array  # (n, J, K)
    rain: Array  # (n, J) catchment rain in the 3 h before each origin


class WaterLevelModel:
    """Tide + rain response + AR residual, direct multi-horizon, with exceedance probabilities.

    ``fit`` learns the tides; the regressions are solved on the first ``predict`` of a horizon and
    kept, so ``update(newer history)`` followed by ``predict`` costs a few gathers: refit hourly
    or daily, update every few minutes.
    """

    def __init__(
        self,
        rain: Series | None = None,
        link: RainLink | None = None,
        xy: Array | None = None,
        lags: int = 6,
        ridge: float = 1e-3,
        max_origins: int = 3000,
        constants: tide.TidalConstants | None = None,
        pool: bool = True,
        name: str = "water_level",
    ) -> None:
        """``rain`` (its own batch, same step) with ``link`` adds the rain response; ``xy`` (km) lets
        street sensors borrow the nearest gauge's tide; ``constants`` replace analysing the history;
        ``pool`` fits one shared regression for all series that are not tide gauges (street depth:
        a street that has not flooded yet learns from those that have).
        """
        if (rain is None) != (link is None):
            raise ValueError("rain and its link to the water series come together")
        self.rain, self.link, self.xy, self.constants = rain, link, xy, constants
        self.lags, self.ridge, self.max_origins, self.pool, self.name = lags, ridge, max_origins, pool, name
        self._tides: _Tides | None = None
        self._state: _State | None = None
        self._regressions: dict[int, _Regressions] = {}
        self._last: tuple[Array, Ints, Array] | None = None  # mean at knots, knots, regime's error paths

    def fit(self, history: Series) -> WaterLevelModel:
        values = history.values
        constants = self.constants or tide.analyse(history, rayleigh=0.8)
        own = constants.predict(history.times())
        base_on = _explained_share(values, own) >= TIDAL_SHARE
        reference = tide_references(base_on, self.xy)
        ref = np.where(reference[:, None] >= 0, own[np.maximum(reference, 0)], 0.0)
        finite = np.isfinite(values)
        low = np.where(finite, values, np.inf).min(axis=1)
        at_low = (np.isclose(values, low[:, None]) & finite).sum(axis=1) >= 0.1 * np.maximum(finite.sum(axis=1), 1)
        floor = np.where(at_low & np.isfinite(low), low, -np.inf)
        self._tides = _Tides(constants, base_on, reference, ref.mean(axis=1), floor)
        self._regressions = {}
        return self.update(history)

    def update(self, history: Series) -> WaterLevelModel:
        """Newer data on the fitted model (same series, same step): tides and coefficients are kept."""
        tides = self._fitted_tides()
        if len(tides.base_on) != history.n_series:
            raise ValueError(f"{self.name}: fitted on {len(tides.base_on)} series, updated with {history.n_series}")
        base, _ = tides.at(history.times())
        level = history.values - base
        self._state = _State(history, np.nan_to_num(forward_fill(level)), level, self._rain_during(history))
        self._last = None
        return self

    def _fitted_tides(self) -> _Tides:
        if self._tides is None:
            raise RuntimeError(f"{self.name}: call fit(history) first")
        return self._tides

    def _rain_during(self, history: Series) -> Array:
        """Catchment rain on the history's columns (rain after the history's end is never read)."""
        if self.rain is None or self.link is None:
            return np.zeros(history.values.shape)
        if not np.isclose(self.rain.step_s, history.step_s):
            raise ValueError(f"rain step {self.rain.step_s} s differs from the water step {history.step_s} s")
        offset = int(round((history.start - self.rain.start) / history.step_s))
        columns = offset + np.arange(history.n_time)
        inside = (columns >= 0) & (columns < self.rain.n_time)
        block = np.full((self.rain.n_series, history.n_time), np.nan)
        block[:, inside] = self.rain.values[:, columns[inside]]
        return catchment_rain(block, self.link)

    def predict(self, horizon: int, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        tides, state = self._fitted_tides(), self._state
        assert state is not None  # set by fit
        history = state.history
        n_time, step = history.n_time, history.step_s
        times = history.start + step * np.arange(n_time + horizon, dtype=np.float64)
        base, tide_ref = tides.at(times)
        blocks = _block_columns(step)
        regressions = self._regressions.get(horizon) or self._solve(state, tide_ref, horizon, blocks)
        self._regressions[horizon] = regressions
        knots = regressions.knots
        now = np.array([n_time], dtype=np.int64)
        rain_now = _recent_rain(state.rain, now, blocks)[:, 0]
        wet_now = rain_now > WET_MM
        beta = regressions.beta[np.arange(history.n_series), wet_now.astype(np.int64)]  # (n, K, 1 + p)
        ahead = np.zeros((history.n_series, len(knots)))
        if regressions.errors.shape[1]:
            common, rain_hour = self._history_features(state, slice(None), now, blocks)
            for j, k in enumerate(knots):
                x_now = _with_tide(common, rain_hour, tide_ref, now, int(k))[:, 0]
                ahead[:, j] = beta[:, j, 0] + np.einsum("sp,sp->s", x_now, beta[:, j, 1:])
        future = base[:, n_time:]
        at_knots = np.maximum(future[:, knots] + ahead, tides.floor[:, None])
        mean = np.maximum(future + interpolate_knots(ahead, knots, horizon), tides.floor[:, None])
        chosen = _analog_errors(regressions.errors, regressions.rain, rain_now)
        widths = error_quantiles(chosen, tuple(levels)) if chosen.shape[1] else {}
        if widths:
            lower, upper = bands_from_knots(mean, widths, knots)
        else:
            lower = {lv: np.full(mean.shape, np.nan) for lv in levels}
            upper = {lv: np.full(mean.shape, np.nan) for lv in levels}
        no_paths = ~np.isfinite(chosen).any(axis=(1, 2)) if chosen.shape[1] else np.ones(len(mean), dtype=np.bool_)
        fallback = without_forecast(mean) | no_paths | ~np.isfinite(history.values).any(axis=1)
        self._last = (at_knots, knots, chosen)
        return Forecast(self.name, history.end, step, mean, lower, upper, fallback)

    def exceedance(self, thresholds: Array) -> Array:
        """``P(level > thresholds[i] at or before step h)`` for the last ``predict``: (n_series, horizon).

        Each cross-fitted error path added to the forecast is one plausible future; the probability
        is the share of them that cross by then (NaN where the model has no error paths).
        """
        if self._last is None:
            raise RuntimeError(f"{self.name}: call predict() before exceedance()")
        at_knots, knots, errors = self._last
        paths = at_knots[:, None, :] + errors  # (n, paths, K)
        valid = np.asarray(np.isfinite(paths).all(axis=2))
        crossed = np.maximum.accumulate(paths > np.asarray(thresholds, dtype=np.float64)[:, None, None], axis=2)
        counts = valid.sum(axis=1)
        share = np.where(valid[:, :, None], crossed, False).sum(axis=1) / np.maximum(counts, 1)[:, None]
        share = np.where(counts[:, None] > 0, share, np.nan)
        horizon = int(knots[-1]) + 1
        steps = np.searchsorted(knots, np.arange(horizon), side="right") - 1  # the last knot at or before
        probability: Array = np.where(steps[None, :] >= 0, share[:, np.maximum(steps, 0)], 0.0)
        return probability

    def _solve(self, state: _State, tide_ref: Array, horizon: int, blocks: Ints) -> _Regressions:
        """Ridge coefficients per series and knot, and cross-fitted error paths at the training origins."""
        n, n_time = state.residual.shape
        knots = horizon_knots(horizon)
        first, last = max(self.lags, int(blocks[-1])), n_time - 1 - int(knots[-1])
        count = min(self.max_origins, max(last - first + 1, 0))
        origins = np.unique(np.linspace(first, last, count).astype(np.int64))
        p = _n_features(self.lags, blocks)
        if len(origins) < 4 * FOLDS * p:  # too short to learn from: no regression, no error paths
            return _Regressions(knots, np.zeros((n, 2, len(knots), 1 + p)), np.zeros((n, 0, len(knots))),
                                np.zeros((n, 0)))  # fmt: skip
        fold = np.minimum(np.arange(len(origins)) * FOLDS // len(origins), FOLDS - 1)
        recent = _recent_rain(state.rain, origins, blocks)
        wet = recent > WET_MM  # (n, J)
        beta = np.empty((n, 2, len(knots), 1 + p))
        errors = np.full((n, len(origins), len(knots)), np.nan)
        chunk = max(1, CHUNK_CELLS // len(origins))
        pooled = np.flatnonzero(~self._fitted_tides().base_on) if self.pool else np.zeros(0, dtype=np.int64)
        alone = np.setdiff1d(np.arange(n), pooled)
        batches = [(alone[lo : lo + chunk], False) for lo in range(0, len(alone), chunk)]
        batches += [(pooled, True)] if len(pooled) else []
        for rows, together in batches:  # batches of series solved at once; the pooled ones as one regression
            common, rain_hour = self._history_features(state, rows, origins, blocks)
            dry = ~wet[rows]
            learn = [_regime_rows(dry, 4 * FOLDS * p, together), _regime_rows(~dry, 4 * FOLDS * p, together)]
            for j, k in enumerate(knots):
                x = _with_tide(common, rain_hour, tide_ref[rows], origins, int(k))
                y = state.target[rows][:, np.minimum(origins + k, n_time - 1)]  # (S, J)
                if together:  # one regression over every pooled series' rows, ordered by origin so folds stay runs
                    flat = x.transpose(1, 0, 2).reshape(1, -1, x.shape[2])
                    fits = self._ridge(
                        flat, y.T.reshape(1, -1), np.repeat(fold, len(rows)), [m.T.reshape(1, -1) for m in learn]
                    )
                    fits = [(b, e.reshape(len(origins), len(rows)).T) for b, e in fits]
                else:
                    fits = self._ridge(x, y, fold, learn)
                for regime, (coefficients, error) in enumerate(fits):  # dry, wet
                    beta[rows, regime, j] = coefficients
                    errors[rows, :, j] = np.where(dry != bool(regime), error, errors[rows, :, j])
        return _Regressions(knots, beta, errors, recent)

    def _history_features(self, state: _State, rows: Ints | slice, origins: Ints, blocks: Ints) -> tuple[Array, Array]:
        """Residual lags and rain blocks before each origin (S, J, lags + blocks), and the last hour's rain (S, J)."""
        lag_columns = origins[:, None] - 1 - np.arange(self.lags)[None, :]
        lags = state.residual[rows][:, lag_columns]  # (S, J, L)
        rain = state.rain[rows]
        totals = np.concatenate([np.zeros((rain.shape[0], 1)), np.cumsum(rain, axis=1)], axis=1)
        blocks_rain = totals[:, origins[:, None] - blocks[None, :-1]] - totals[:, origins[:, None] - blocks[None, 1:]]
        rate = blocks_rain[..., 0] * 3600.0 / (blocks[1] * state.history.step_s)  # mm/h over the first block
        hinges = np.maximum(rate[..., None] - np.array(HINGES_MM_H), 0.0)  # a drain takes so much, then it ponds
        return np.concatenate([lags, blocks_rain, hinges], axis=2), blocks_rain[..., :3].sum(axis=2)

    def _ridge(self, x: Array, y: Array, fold: Ints, learn: list[npt.NDArray[np.bool_]]) -> list[tuple[Array, Array]]:
        """Per mask in ``learn`` (rows it learns from): coefficients on all its rows (S, 1 + p), intercept
        first, and every row's cross-fitted error (S, J) from coefficients fitted without its fold.

        ``fold`` is non-decreasing (contiguous blocks of origins). Columns are standardised per
        series so one ``ridge`` suits every unit; the intercept is not shrunk. Fold grams sum to
        the whole, so leaving a fold out is a subtraction.
        """
        s, _, p = x.shape
        mu = x.mean(axis=1, keepdims=True)
        sigma = np.maximum(x.std(axis=1, keepdims=True), 1e-9)
        z = np.concatenate([np.ones((s, x.shape[1], 1)), (x - mu) / sigma], axis=2)
        zt = z.transpose(0, 2, 1)
        edges = np.searchsorted(fold, np.arange(FOLDS + 1))
        runs = list(zip(edges[:-1], edges[1:], strict=True))
        penalty = self.ridge * np.eye(p + 1)
        penalty[0, 0] = 0.0
        jitter = 1e-9 * np.eye(p + 1)
        fits = []
        for mask in learn:
            w = (np.isfinite(y) & mask).astype(np.float64)
            yw = np.where(w > 0, y, 0.0)
            gram = np.stack([np.matmul(zt[:, :, lo:hi] * w[:, None, lo:hi], z[:, lo:hi]) for lo, hi in runs], 1)
            moment = np.stack([np.matmul(zt[:, :, lo:hi], yw[:, lo:hi, None])[..., 0] for lo, hi in runs], 1)
            count = np.stack([w[:, lo:hi].sum(axis=1) for lo, hi in runs], 1)  # (S, F)
            total = count.sum(axis=1)
            beta = np.linalg.solve(
                gram.sum(axis=1) + np.maximum(total, 1)[:, None, None] * penalty + jitter, moment.sum(axis=1)[..., None]
            )[..., 0]
            out = np.maximum(total[:, None] - count, 1)
            beta_out = np.linalg.solve(
                gram.sum(axis=1, keepdims=True) - gram + out[..., None, None] * penalty + jitter,
                (moment.sum(axis=1, keepdims=True) - moment)[..., None],
            )  # (S, F, 1 + p, 1)
            predicted = np.concatenate([np.matmul(z[:, lo:hi], beta_out[:, f]) for f, (lo, hi) in enumerate(runs)], 1)
            fits.append((_unstandardise(beta[:, None], mu, sigma)[:, 0], y - predicted[..., 0]))
        return fits


def _unstandardise(beta: Array, mu: Array, sigma: Array) -> Array:
    """Raw-column coefficients from standardised ones (intercept first): ``beta`` (S, F, 1 + p), ``mu`` (S, 1, p)."""
    slopes = beta[..., 1:] / sigma
    intercept = beta[..., :1] - (slopes * mu).sum(axis=-1, keepdims=True)
    return np.concatenate([intercept, slopes], axis=-1)


def _with_tide(common: Array, rain_hour: Array, tide_ref: Array, origins: Ints, k: int) -> Array:
    """Features (S, J, p) for knot ``k``: the history's, the tide's change until then, tide x recent rain.

    A high river blocks the drains: rain at high water floods where the same rain at low water
    does not, hence the products of the tide ahead with the last hour's rain and the upper hinges.
    """
    ahead = tide_ref[:, origins + k]
    change = ahead - tide_ref[:, origins - 1]
    rainy = np.concatenate([rain_hour[..., None], common[..., 1 - TIDE_TIMES_RAIN :]], axis=2)
    return np.concatenate([common, change[..., None], ahead[..., None] * rainy], axis=2)


def _n_features(lags: int, blocks: Ints) -> int:
    """Columns of ``_with_tide``: lags, rain blocks, hinges, tide change, tide x rain."""
    return lags + len(blocks) - 1 + len(HINGES_MM_H) + 1 + TIDE_TIMES_RAIN


def _block_columns(step_s: float) -> Ints:
    """Column offsets of the rain blocks' edges before an origin: 0 first, each at least one past the last."""
    edges = [0]
    for minutes in RAIN_BLOCKS_MIN[1:]:
        edges.append(max(round(minutes * 60.0 / step_s), edges[-1] + 1))
    return np.array(edges, dtype=np.int64)


def _recent_rain(rain: Array, origins: Ints, blocks: Ints) -> Array:
    """Rain over the ``blocks[-1]`` columns before each origin: (n, J)."""
    totals = np.concatenate([np.zeros((rain.shape[0], 1)), np.cumsum(rain, axis=1)], axis=1)
    recent: Array = totals[:, origins] - totals[:, np.maximum(origins - blocks[-1], 0)]
    return recent


def _regime_rows(mine: npt.NDArray[np.bool_], minimum: int, together: bool) -> npt.NDArray[np.bool_]:
    """Rows a regime learns from: its own when there are ``minimum`` of them (per series, or in all), else all."""
    enough = mine.sum() >= minimum if together else mine.sum(axis=1, keepdims=True) >= minimum
    return np.where(enough, mine, True)


def _analog_errors(errors: Array, rain_at: Array, rain_now: Array) -> Array:
    """(n, M, K) error paths of the origins most like now.

    When it rains: the ``ANALOGS`` origins with the closest rain of the last hours (an analog
    ensemble: after a cloudburst, past cloudbursts' errors); when dry: up to ``DRY_PATHS`` dry
    origins spread over the history. Series with too few such paths take any (NaN pads).
    """
    n, n_origins, _ = errors.shape
    if n_origins == 0:
        return errors
    wet_now = rain_now > WET_MM
    spread = (np.arange(n_origins) * 0.6180339887) % 1.0  # distinct tie-breaks, evenly spread in time
    closeness = np.where(wet_now[:, None], np.abs(rain_at - rain_now[:, None]), spread[None, :])
    same = (rain_at > WET_MM) == wet_now[:, None]
    enough = same.sum(axis=1) >= MIN_REGIME_ERRORS
    distance = np.where(same | ~enough[:, None], closeness, np.inf)
    count = min(DRY_PATHS if not wet_now.any() else max(ANALOGS, DRY_PATHS), n_origins)
    nearest = np.argpartition(distance, count - 1, axis=1)[:, :count]
    wanted = np.where(wet_now, ANALOGS, DRY_PATHS)[:, None] > np.arange(count)[None, :]
    ranked = np.take_along_axis(nearest, np.argsort(np.take_along_axis(distance, nearest, axis=1), axis=1), axis=1)
    paths = np.take_along_axis(errors, ranked[:, :, None], axis=1)
    usable = wanted & np.isfinite(np.take_along_axis(distance, ranked, axis=1))
    chosen: Array = np.where(usable[:, :, None], paths, np.nan)
    return chosen


def _explained_share(values: Array, fitted: Array) -> Array:
    """1 - var(values - fitted) / var(values) per row over finite points (0 where undefined)."""
    finite = np.isfinite(values) & np.isfinite(fitted)
    count = np.maximum(finite.sum(axis=1), 1)
    v = np.where(finite, values, 0.0)
    r = np.where(finite, values - fitted, 0.0)
    var_v = (v**2).sum(axis=1) / count - (v.sum(axis=1) / count) ** 2
    var_r = (r**2).sum(axis=1) / count - (r.sum(axis=1) / count) ** 2
    share = 1.0 - np.divide(var_r, var_v, out=np.ones_like(var_v), where=var_v > 1e-12)
    return np.asarray(np.where(finite.sum(axis=1) > 1, share, 0.0))
