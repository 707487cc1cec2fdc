"""Profile + autoregressive residual, forecast directly at every horizon: the traffic workhorse.

The profile (time of week, or day type) carries the rhythm; what is left - a jam that builds, an
incident's queue - persists for a while, and the detectors up- and downstream see it first. One
ridge regression per series and horizon knot maps the residual's recent past (block means over
widening ages, ``forecasting.lags``) and its neighbours' (``forecasting.graph``) to the residual
``k`` steps ahead: direct, not iterated, so errors do not compound. Every series is solved at
once, in chunks, as batched normal equations (``forecasting.ridge``).

``fit`` chooses how far back to look (``lag_spans_s``) and the ridge (``ridges``) by
forward-chaining cross-validation over the training origins of a sample of series, fits the
chosen setting on the earlier origins to score the last fifth out of sample (those errors set
the bands), and on all origins for the forecast. ``update`` reads the newest residuals; ``predict``
multiplies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from forecasting.bands import KnotErrors, check_horizon, horizon_knots, interpolate_knots, without_forecast
from forecasting.baselines import origins_between
from forecasting.graph import SensorGraph
from forecasting.lags import Cumulative, block_edges, blocks_within
from forecasting.model import DEFAULT_HORIZON_S, DEFAULT_LEVELS, Profile, check_batch, fitted
from forecasting.profile import TimeOfWeekAverage
from forecasting.ridge import FOLDS, Grams, choose, folds_of, sample_rows
from forecasting.series import Array, Floats, Forecast, Ints, Series, horizon_steps

# A 30-minute window steadies a profile learned from two or three weeks (chosen on backtests,
# docs/benchmarks.md); lag spans and ridges are candidates that cross-validation picks from.
PROFILE_SMOOTH_S = 1800.0
LAG_SPANS_S = (1800.0, 3600.0, 3 * 3600.0, 12 * 3600.0)
RIDGES = (0.1, 0.3, 1.0, 3.0)
NEIGHBOUR_BLOCKS = 2  # the neighbours' newest blocks read (their last step, and the one before)
CHUNK_SERIES = 500  # series solved per batch: its arrays stay in cache and under the allocator's mmap threshold


@dataclass(frozen=True)
class _Fit:
    step_s: float
    edges: Ints  # block edges in steps before the origin (all candidates' blocks)
    columns: Ints  # chosen feature columns (0: intercept)
    ridge: float
    beta: Array  # (n, len(columns), K)
    errors: KnotErrors | None  # None: too short to learn the residual (the profile alone)


class ProfileAR:
    def __init__(
        self,
        profile: Profile | None = None,
        graph: SensorGraph | None = None,
        lag_spans_s: Sequence[float] = LAG_SPANS_S,
        ridges: Sequence[float] = RIDGES,
        horizon_s: float = DEFAULT_HORIZON_S,
        max_origins: int = 600,
        name: str = "profile_ar",
    ) -> None:
        """``profile`` defaults to the 30-minute-smoothed time-of-week average (``DayTypeProfile``
        for holidays and Tết); ``graph`` adds the neighbours' residuals; ``horizon_s`` is the longest
        forecast ``predict`` will be asked for."""
        self._profile: Profile = profile or TimeOfWeekAverage(smooth_s=PROFILE_SMOOTH_S)
        self.graph, self.lag_spans_s, self.ridges = graph, tuple(lag_spans_s), tuple(ridges)
        self.horizon_s, self.max_origins, self.name = horizon_s, max_origins, name
        self._fit: _Fit | None = None
        self._origin: tuple[float, Array] | None = None  # (origin time, features now (n, p))
        self._n = 0

    @property
    def chosen(self) -> tuple[float, float]:
        """(lag span in s, ridge) that cross-validation chose at the last fit."""
        state = fitted(self._fit, self.name)
        own = int(np.sum((state.columns > 0) & (state.columns < len(state.edges))))
        return float(state.edges[own] * state.step_s), state.ridge

    def _neighbours(self, residual: Floats, origins: Ints, edges: Ints) -> Array | None:
        """(n, b x R, J) float32: the neighbours' newest block means at each origin (None without a graph)."""
        if self.graph is None:
            return None
        newest = np.empty((len(residual), NEIGHBOUR_BLOCKS, len(origins)))
        Cumulative(residual, gaps=False).means_by_block(origins, edges[: NEIGHBOUR_BLOCKS + 1], newest)
        near = np.moveaxis(self.graph.gather(newest), -1, 2)  # (n, b, R, J)
        return near.reshape(len(residual), -1, len(origins)).astype(np.float32)

    @staticmethod
    def _features(
        residual: Floats,
        origins: Ints,
        edges: Ints,
        rows: slice | Ints,
        near: Floats | None,
        targets: Ints | None = None,
    ) -> Floats:
        """(S, 1 + B [+ b x R] [+ K], J) float32, feature-major: intercept, own blocks, neighbours'
        newest blocks, each a row over the origins; then, given ``targets`` (J, K), the residual
        there - side by side and contiguous over the origins, as the batched Gram matrices read them."""
        own = residual[rows]
        n_own, extra = len(edges) - 1, 0 if near is None else near.shape[1]
        p = 1 + n_own + extra
        x = np.empty((len(own), p + (0 if targets is None else targets.shape[1]), len(origins)), dtype=np.float32)
        x[:, 0] = 1.0
        Cumulative(own, gaps=False).means_by_block(origins, edges, x[:, 1 : 1 + n_own])
        if near is not None:
            x[:, 1 + n_own : p] = near[rows]
        if targets is not None:
            x[:, p:] = np.take(own, targets.T, axis=1)
        return x

    def _candidates(self, edges: Ints, step_s: float, p: int) -> list[Ints]:
        n_blocks = len(edges) - 1
        extra = np.arange(1 + n_blocks, p)  # the neighbours' columns, in every candidate
        depths = sorted({blocks_within(edges, span, step_s) for span in self.lag_spans_s})
        return [np.concatenate([np.arange(1 + d), extra]) for d in depths]

    def fit(self, history: Series) -> ProfileAR:
        if self.graph is not None and self.graph.n_sensors != history.n_series:
            raise ValueError(f"{self.name}: graph of {self.graph.n_sensors} sensors, history of {history.n_series}")
        # Out of sample, and fits the profile. Missing: assume the profile. Single precision halves
        # the memory traffic (sensor values carry 4-5 significant digits); sums are kept in double.
        residual = self._profile.cross_fitted_residual(history, np.float32)
        residual[np.isnan(residual)] = 0.0
        step, n, n_time = history.step_s, history.n_series, history.n_time
        edges = block_edges(max(self.lag_spans_s), step)
        knots = horizon_knots(horizon_steps(timedelta(seconds=self.horizon_s), step))
        origins = origins_between(int(edges[-1]), n_time - 1 - int(knots[-1]), self.max_origins)
        near = self._neighbours(residual, origins, edges)
        p = len(edges) + (0 if near is None else near.shape[1])
        self._n = n
        if len(origins) < 4 * FOLDS * 4:  # too short to learn the residual: the profile alone
            self._fit = _Fit(step, edges, np.arange(1), self.ridges[0], np.zeros((n, 1, len(knots))), None)
            return self.update(history)
        fold = folds_of(len(origins))
        targets = origins[:, None] + knots[None, :]
        sample = sample_rows(n, np.count_nonzero(np.isfinite(history.values), axis=1) > 0.5 * n_time)
        candidates = self._candidates(edges, step, p)
        if len(sample) and (len(candidates) > 1 or len(self.ridges) > 1):
            xy = self._features(residual, origins, edges, sample, near, targets).transpose(0, 2, 1)
            choice = choose(xy[:, :, :p].astype(np.float64), xy[:, :, p:], fold, candidates, self.ridges)
            columns, ridge = choice.columns, choice.ridge
        else:
            columns, ridge = candidates[-1], self.ridges[0]
        own = edges[: int(np.sum((columns > 0) & (columns < len(edges)))) + 1]  # the chosen blocks' edges
        late = slice(int(np.searchsorted(fold, FOLDS - 1)), None)  # folds are contiguous
        q = len(columns)
        beta = np.empty((n, q, len(knots)))
        errors = np.empty((n, len(knots), len(origins) - late.start), dtype=np.float32)  # origins last: sorted so
        for lo in range(0, n, CHUNK_SERIES):  # chunks of series, each solved as one batch
            rows = slice(lo, min(lo + CHUNK_SERIES, n))
            xy = self._features(residual, origins, own, rows, near, targets)  # (S, q + K, J): the chosen columns
            grams = Grams.joint(xy.transpose(0, 2, 1), q, fold)
            early = grams.solve(slice(0, FOLDS - 1), ridge).transpose(0, 2, 1).astype(np.float32)
            errors[rows] = xy[:, q:, late] - np.matmul(early, xy[:, :q, late])
            beta[rows] = grams.solve(slice(0, FOLDS), ridge)
        self._fit = _Fit(step, edges, columns, ridge, beta, KnotErrors(knots, errors.transpose(0, 2, 1)))
        return self.update(history)

    def update(self, history: Series) -> ProfileAR:
        """Read the newest residuals (at most the longest lag span) against the fitted profile."""
        state = fitted(self._fit, self.name)
        check_batch(self._n, history, self.name)
        window = history.last(int(state.edges[-1]))
        residual = np.nan_to_num(window.values - self._profile.profile_at(window.start, window.n_time))
        now = np.array([window.n_time], dtype=np.int64)
        near = self._neighbours(residual, now, state.edges)
        x_now = self._features(residual, now, state.edges, slice(None), near)[:, state.columns, 0].astype(np.float64)
        self._profile.update(history)
        self._origin = (history.end, x_now)
        return self

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        state, (end, x_now) = fitted(self._fit, self.name), fitted(self._origin, self.name)
        n_steps = horizon_steps(horizon, state.step_s)
        profile = self._profile.profile_at(end, n_steps)
        if state.errors is None:  # the profile's own forecast, flagged as it flags
            own = self._profile.predict(n_steps, levels)
            return Forecast(self.name, end, state.step_s, own.mean, own.lower, own.upper, own.fallback)
        check_horizon(n_steps, state.errors.horizon, self.name)
        ahead = np.einsum("sp,spk->sk", x_now, state.beta)
        mean = profile + interpolate_knots(ahead, state.errors.knots, n_steps)
        lower, upper = state.errors.bands(mean, levels)
        fallback = without_forecast(mean) | self._profile.unseen_at(end, n_steps).any(axis=1)
        return Forecast(self.name, end, state.step_s, mean, lower, upper, fallback)
