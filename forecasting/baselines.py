"""Baselines every engine model must beat: persistence, seasonal naive, VAR(1), harmonics + ridge.

All vectorised over the batch, all with the engine's lifecycle (``fit`` learns, ``update`` moves
the origin, ``predict`` reads only those two), and all with bands from their own out-of-sample
errors (``forecasting.bands``), so that a benchmark compares like with like. The time-of-week
average (``forecasting.profile``) and the comparison libraries' ETS (``forecasting.compare``)
complete the set the benchmarks score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from forecasting import tide
from forecasting.bands import KnotErrors, check_horizon, horizon_knots, interpolate_knots, without_forecast
from forecasting.model import DEFAULT_HORIZON_S, DEFAULT_LEVELS, check_batch, fitted
from forecasting.ridge import FOLDS, Grams, folds_of
from forecasting.series import Array, Forecast, Ints, Mask, Series, forward_fill, horizon_steps, row_means, steps

CALIBRATION_ORIGINS = 96  # past forecast origins replayed for the error distribution
GRACE_S = 86_400.0  # an update reads this much before what it needs, so a gap is carried over as in fit


@dataclass(frozen=True)
class _Window:
    """The newest ``period`` values, forward-filled: all a seasonal naive forecast reads."""

    end: float
    filled: Array  # (n, period)
    young: Mask  # (n,) no full season of values yet: the last value instead


class SeasonalNaive:
    """The value one season ago (``season_s``; 0 = persistence: the last value), repeated."""

    def __init__(self, season_s: float = 0.0, horizon_s: float = DEFAULT_HORIZON_S, name: str | None = None) -> None:
        if season_s < 0:
            raise ValueError("the season cannot be negative")
        self.season_s, self.horizon_s = season_s, horizon_s
        self.name = name or ("naive" if season_s == 0 else f"seasonal_naive_{season_s / 3600:g}h")
        self._errors: KnotErrors | None = None
        self._step_s, self._period, self._n = 0.0, 1, 0
        self._window: _Window | None = None

    def fit(self, history: Series) -> SeasonalNaive:
        """Learn the bands: this rule's own errors replayed from past origins of the history."""
        period = steps(self.season_s, history.step_s) if self.season_s else 1
        period = period if history.n_time >= period else 1  # too short for a season: persistence
        n = history.n_time
        knots = horizon_knots(horizon_steps(timedelta(seconds=self.horizon_s), history.step_s))
        filled = forward_fill(history.values)
        origins = np.unique(np.linspace(period, n - 1, min(CALIBRATION_ORIGINS, max(n - period, 0))).astype(np.int64))
        if len(origins):
            source = origins[:, None] - period + knots[None, :] % period  # (n_origins, n_knots)
            target = origins[:, None] + knots[None, :]
            actual = np.where((target < n)[None], history.values[:, np.minimum(target, n - 1)], np.nan)
            errors = actual - filled[:, source]
        else:
            errors = np.full((history.n_series, 0, len(knots)), np.nan)
        self._errors, self._step_s, self._period = KnotErrors(knots, errors), history.step_s, period
        self._n = history.n_series
        return self.update(history)

    def update(self, history: Series) -> SeasonalNaive:
        fitted(self._errors, self.name)
        check_batch(self._n, history, self.name)
        filled = forward_fill(history.last(self._period + steps(GRACE_S, self._step_s)).values)[:, -self._period :]
        if filled.shape[1] < self._period:
            filled = np.concatenate([np.full((len(filled), self._period - filled.shape[1]), np.nan), filled], axis=1)
        self._window = _Window(history.end, filled, np.asarray(~np.isfinite(filled).all(axis=1), dtype=np.bool_))
        return self

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        errors, window = fitted(self._errors, self.name), fitted(self._window, self.name)
        n_steps = horizon_steps(horizon, self._step_s)
        check_horizon(n_steps, errors.horizon, self.name)
        seasonal = window.filled[:, np.arange(n_steps) % self._period]
        mean = np.where(np.isfinite(seasonal), seasonal, window.filled[:, -1:])
        lower, upper = errors.bands(mean, levels)
        fallback = without_forecast(mean) | (window.young if self._period > 1 else np.zeros(len(mean), np.bool_))
        return Forecast(self.name, window.end, self._step_s, mean, lower, upper, fallback)


@dataclass(frozen=True)
class _VarFit:
    step_s: float
    joint: Ints  # rows in the joint model; the others (constant, mostly missing) carry their last value
    carried: Mask  # rows outside the joint model that were not constant either: flagged
    intercept: Array  # (m,)
    transition: Array  # (m, m)
    errors: KnotErrors  # (n, J, K); persistence's errors for the rows outside the model


class VectorAR1:
    """VAR(1): every series' next value from the last values of all of them, iterated ahead.

    ``y(t+1) = c + A y(t)`` by least squares over the whole batch (a small ridge keeps ``A``
    stable when series outnumber what the history can tell apart). Gaps are carried forward.
    Bands: errors of the iterated forecast from held-out origins (the last fifth of the history,
    with ``A`` fitted on the rest).
    """

    def __init__(self, ridge: float = 1e-2, horizon_s: float = DEFAULT_HORIZON_S, name: str = "var1") -> None:
        self.ridge, self.horizon_s, self.name = ridge, horizon_s, name
        self._fit: _VarFit | None = None
        self._last: tuple[float, Array] | None = None

    def _solve(self, filled: Array) -> tuple[Array, Array]:
        x, y = filled[:, :-1], filled[:, 1:]
        ok = np.isfinite(x).all(axis=0) & np.isfinite(y).all(axis=0)
        x, y = x[:, ok], y[:, ok]
        mu_x, mu_y = x.mean(axis=1, keepdims=True), y.mean(axis=1, keepdims=True)
        xc, yc = x - mu_x, y - mu_y
        gram = xc @ xc.T
        penalty = self.ridge * np.trace(gram) / max(len(gram), 1) * np.eye(len(gram))
        transition = np.linalg.solve(gram + penalty + 1e-9 * np.eye(len(gram)), xc @ yc.T).T
        return (mu_y - transition @ mu_x)[:, 0], transition

    @staticmethod
    def _iterate(intercept: Array, transition: Array, start: Array, n_steps: int) -> Array:
        """Paths (n, n_origins, n_steps) from starting values (n, n_origins)."""
        out = np.empty((*start.shape, n_steps))
        state = start
        for h in range(n_steps):  # iterated one step at a time: the loop is over horizon steps
            state = intercept[:, None] + transition @ state
            out[:, :, h] = state
        return out

    def fit(self, history: Series) -> VectorAR1:
        """Series at least half seen and not constant enter the joint model: a dead or brand-new
        sensor must not move the others' forecasts (it carries its last value, flagged)."""
        finite = np.isfinite(history.values)
        filled = forward_fill(history.values)
        spread = np.nanmax(np.where(finite, history.values, -np.inf), axis=1) + np.nanmax(
            np.where(finite, -history.values, -np.inf), axis=1
        )  # max - min of the finite values
        spread = np.where(finite.any(axis=1), spread, 0.0)
        joint = np.flatnonzero((finite.mean(axis=1) >= 0.5) & (spread > 0))
        carried = np.asarray(spread > 0, dtype=np.bool_)
        carried[joint] = False
        filled = np.where(np.isfinite(filled), filled, row_means(filled)[:, None])
        filled = np.nan_to_num(filled)
        knots = horizon_knots(horizon_steps(timedelta(seconds=self.horizon_s), history.step_s))
        split = (4 * history.n_time) // 5
        last = history.n_time - 1 - int(knots[-1])
        origins = origins_between(split, last, CALIBRATION_ORIGINS)
        intercept, transition = self._solve(filled[joint, :split])
        paths = np.repeat(filled[:, origins - 1, None], len(knots), axis=2)  # persistence for the others
        start = filled[joint][:, origins - 1]
        paths[joint] = self._iterate(intercept, transition, start, int(knots[-1]) + 1)[..., knots]
        actual = history.values[:, origins[:, None] + knots[None, :]]
        intercept, transition = self._solve(filled[joint])
        self._fit = _VarFit(history.step_s, joint, carried, intercept, transition, KnotErrors(knots, actual - paths))
        return self.update(history)

    def update(self, history: Series) -> VectorAR1:
        state = fitted(self._fit, self.name)
        check_batch(state.errors.errors.shape[0], history, self.name)
        recent = forward_fill(history.last(steps(GRACE_S, state.step_s)).values)[:, -1]
        self._last = (history.end, recent)
        return self

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        state, (end, recent) = fitted(self._fit, self.name), fitted(self._last, self.name)
        n_steps = horizon_steps(horizon, state.step_s)
        check_horizon(n_steps, state.errors.horizon, self.name)
        mean = np.repeat(recent[:, None], n_steps, axis=1)
        start = np.nan_to_num(recent[state.joint])[:, None]
        mean[state.joint] = self._iterate(state.intercept, state.transition, start, n_steps)[:, 0]
        mean[~np.isfinite(recent)] = np.nan
        lower, upper = state.errors.bands(mean, levels)
        return Forecast(self.name, end, state.step_s, mean, lower, upper, without_forecast(mean) | state.carried)


def fourier_basis(times: Array, periods_s: Sequence[float], harmonics: Sequence[int]) -> Array:
    """(n_times, 1 + 2 sum(harmonics)): a constant, then cos/sin of each period's first harmonics."""
    columns = [np.ones(len(times))]
    for period, count in zip(periods_s, harmonics, strict=True):
        for k in range(1, count + 1):
            angle = 2 * np.pi * k * times / period
            columns += [np.cos(angle), np.sin(angle)]
    return np.column_stack(columns)


def origins_between(first: int, last: int, count: int) -> Ints:
    """Up to ``count`` distinct columns spread evenly over ``[first, last]`` (none when empty)."""
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(first, last, min(count, last - first + 1)).astype(np.int64))


@dataclass(frozen=True)
class _HarmonicFit:
    step_s: float
    constants: tide.TidalConstants | Array  # a tidal analysis, or Fourier coefficients (n, 1 + 2H)
    level: Array  # (n,) mean of each series: its harmonics where they could not be fitted (flagged)
    unfitted: Mask  # (n,) too short for the harmonics
    scale: Array  # (n, 1, p) feature scales (intercept 1): one ridge for lags in metres and rain in mm
    beta: Array  # (n, 1 + lags + rain, K)
    errors: KnotErrors


class HarmonicRidge:
    """Harmonics + a direct ridge on the last ``lags`` residuals (+ accumulated rain): the strong
    classical baseline of tide and traffic forecasting.

    ``tidal``: the harmonics are a tidal analysis (``forecasting.tide``); otherwise Fourier terms of
    ``periods_s`` (a day and a week) fitted per series. The residual's last ``lags`` values (steps,
    not time: this is the textbook baseline) and, with ``rain``, each series' gauges' rain summed
    over the last 24 and 72 hours (missing counted as none) feed one ridge per horizon knot. Bands
    from the errors on the last fifth of the training origins, with coefficients fitted before it.
    """

    def __init__(
        self,
        tidal: bool = False,
        lags: int = 24,
        rain: Series | None = None,
        gauges: Ints | None = None,
        periods_s: Sequence[float] = (86_400.0, 7 * 86_400.0),
        harmonics: Sequence[int] = (6, 3),
        ridge: float = 1.0,
        horizon_s: float = DEFAULT_HORIZON_S,
        max_origins: int = 2000,
        name: str = "harmonic_ridge",
    ) -> None:
        """``gauges`` (n_series, k): rows of ``rain`` each series reads."""
        self.tidal, self.lags, self.rain, self.gauges = tidal, lags, rain, gauges
        self.periods_s, self.harmonics, self.ridge = tuple(periods_s), tuple(harmonics), ridge
        self.horizon_s, self.max_origins, self.name = horizon_s, max_origins, name
        self._fit: _HarmonicFit | None = None
        self._now: tuple[float, Array] | None = None

    def _harmonic(self, constants: tide.TidalConstants | Array, times: Array, level: Array) -> Array:
        """The harmonics at ``times`` (n, T); a series too short for them: its ``level``."""
        if isinstance(constants, tide.TidalConstants):
            fitted_values = constants.predict(times)
        else:
            fitted_values = np.asarray(constants) @ fourier_basis(times, self.periods_s, self.harmonics).T
        return np.where(np.isfinite(fitted_values), fitted_values, level[:, None])

    def _features(self, residual: Array, end: float, step_s: float, origins: Ints) -> Array:
        """(n, J, 1 + lags + rain features): intercept, the last ``lags`` residuals, accumulated rain."""
        lags = residual[:, origins[:, None] - 1 - np.arange(self.lags)[None, :]]
        parts = [np.ones((*lags.shape[:2], 1)), lags]
        if self.rain is not None and self.gauges is not None:
            n_time = residual.shape[1]
            offset = int(round((end - n_time * step_s - self.rain.start) / step_s))
            columns = offset + np.arange(n_time)
            inside = (columns >= 0) & (columns < self.rain.n_time)
            rain = np.zeros((self.rain.n_series, n_time))
            rain[:, inside] = np.nan_to_num(self.rain.values[:, columns[inside]])
            catchment = rain[self.gauges].mean(axis=1)  # (n, T)
            totals = np.concatenate([np.zeros((len(catchment), 1)), np.cumsum(catchment, axis=1)], axis=1)
            for hours in (24, 72):
                span = steps(hours * 3600.0, step_s)
                parts.append((totals[:, origins] - totals[:, np.maximum(origins - span, 0)])[..., None])
        return np.concatenate(parts, axis=2)

    def fit(self, history: Series) -> HarmonicRidge:
        times = history.times()
        if self.tidal:
            constants: tide.TidalConstants | Array = tide.analyse(history, rayleigh=0.8)
        else:
            constants = tide.batched_least_squares(fourier_basis(times, self.periods_s, self.harmonics), history.values)
        level = row_means(history.values)
        harmonic = self._harmonic(constants, times, level)
        unfitted = np.asarray(~np.isfinite(constants.predict(times[:1]) if isinstance(constants, tide.TidalConstants)
                                           else np.asarray(constants)).all(axis=1), dtype=np.bool_)  # fmt: skip
        residual = np.nan_to_num(forward_fill(history.values - harmonic))
        knots = horizon_knots(horizon_steps(timedelta(seconds=self.horizon_s), history.step_s))
        span = max(self.lags, steps(72 * 3600.0, history.step_s) if self.rain is not None else 0)
        origins = origins_between(span, history.n_time - 1 - int(knots[-1]), self.max_origins)
        target = history.values - harmonic
        n = history.n_series
        x = self._features(residual, history.end, history.step_s, origins)
        scale = np.maximum(np.sqrt((x**2).mean(axis=1, keepdims=True)) if len(origins) else np.ones((n, 1, x.shape[2])),
                           1e-9)  # fmt: skip
        x = x / scale
        if len(origins) < 5 * (x.shape[2] + 1):
            beta = np.zeros((n, x.shape[2], len(knots)))
            errors = np.full((n, 0, len(knots)), np.nan)
        else:
            fold = folds_of(len(origins))
            y = target[:, origins[:, None] + knots[None, :]]
            grams = Grams.of(x, y, fold)
            late = fold == FOLDS - 1
            errors = y[:, late] - np.matmul(x[:, late], grams.solve(slice(0, FOLDS - 1), self.ridge))
            beta = grams.solve(slice(0, FOLDS), self.ridge)
        self._fit = _HarmonicFit(history.step_s, constants, level, unfitted, scale, beta, KnotErrors(knots, errors))
        return self.update(history)

    def update(self, history: Series) -> HarmonicRidge:
        state = fitted(self._fit, self.name)
        check_batch(len(state.beta), history, self.name)
        need = max(self.lags, steps(72 * 3600.0, state.step_s) if self.rain is not None else 0)
        window = history.last(need + steps(GRACE_S, state.step_s))
        harmonic = self._harmonic(state.constants, window.times(), state.level)
        residual = np.nan_to_num(forward_fill(window.values - harmonic))
        x_now = (self._features(residual, window.end, state.step_s, np.array([window.n_time])) / state.scale)[:, 0]
        self._now = (history.end, x_now)
        return self

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        state, (end, x_now) = fitted(self._fit, self.name), fitted(self._now, self.name)
        n_steps = horizon_steps(horizon, state.step_s)
        check_horizon(n_steps, state.errors.horizon, self.name)
        times = end + state.step_s * np.arange(n_steps, dtype=np.float64)
        ahead = interpolate_knots(np.einsum("sp,spk->sk", x_now, state.beta), state.errors.knots, n_steps)
        mean = self._harmonic(state.constants, times, state.level) + ahead
        if state.errors.errors.shape[1]:
            lower, upper = state.errors.bands(mean, levels)
        else:
            lower = {lv: np.full(mean.shape, np.nan) for lv in levels}
            upper = {lv: np.full(mean.shape, np.nan) for lv in levels}
        fallback = without_forecast(mean) | (state.unfitted & np.isfinite(state.level))
        return Forecast(self.name, end, state.step_s, mean, lower, upper, fallback)
