"""Water level: tide + rain response + autoregressive residual, forecast directly at every horizon.

A canal gauge follows the tide, plus what the catchment's rain adds for hours or days; a street
depth sensor reads zero until rain arrives faster than drains that the high river is blocking can
take it away. One linear model per series and horizon knot covers both:

    level(t + k) - base(t + k) ~ residual block means before t (``forecasting.lags``)
                                + rain: catchment blocks of the last 3 h, rate hinges, and each
                                  gauge's multi-day memory, missing kept apart (``forecasting.rain``)
                                + the reference tide's change from t to t + k, and its level x recent rain

``base`` is the series' own astronomical tide when its harmonic fit explains most of its variance
(a tide gauge), else zero; a series that is not a tide gauge takes the tide of the nearest one as
its reference (``xy``). Tide gauges get a ridge regression each; the other series (street depth)
share one pooled regression, so a street that has not flooded yet learns from those that have.
Each has dry and wet coefficients (rain in the last 3 h or not). Every series and knot is solved
at once, on standardised features.

``fit`` learns everything: the tides, the lag depth and ridge (cross-validated, ``forecasting.
ridge``), the coefficients for every knot up to ``horizon_s``, and cross-fitted error paths (blocks
of origins, each scored by coefficients fitted without it). ``update`` reads the newest data;
``predict`` returns a ``PathForecast`` whose bands and ``exceedance(thresholds)`` =
``P(level > L at or before t + h)`` come from the error paths of the origins most like now: dry
origins when dry, else those with the closest recent rain (an analog ensemble).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from forecasting import tide
from forecasting.bands import KnotErrors, check_horizon, horizon_knots, interpolate_knots, without_forecast
from forecasting.baselines import origins_between
from forecasting.lags import Cumulative, block_edges, blocks_within
from forecasting.model import DEFAULT_HORIZON_S, DEFAULT_LEVELS, check_batch, fitted
from forecasting.rain import MEMORY_S, RainFeatures, RainHistory, RainLink, catchment_rain, nearest_gauges
from forecasting.ridge import FOLDS
from forecasting.series import Array, Ints, Mask, PathForecast, Series, forward_fill, horizon_steps
from forecasting.water_regression import (
    WET_MM,
    Candidate,
    Design,
    RainUse,
    analog_errors,
    explained_share,
    hinge_columns,
    with_tide,
)

__all__ = ["RainLink", "WaterLevelModel", "catchment_rain", "nearest_gauges", "tide_references"]

# Candidates for how far back the residual is read. 12 h was one too: it won on squared error in the
# simulated city but added false street-flood warnings in the monsoon-storm test, so it was dropped -
# a choice made on that simulated scenario (it costs 3-5 % at 3-6 h at Mayport), not on real data.
LAG_SPANS_S = (3600.0, 3 * 3600.0)
RIDGES = (1e-3, 1e-2, 1e-1)  # candidates on standardised features
TIDE_TIMES_RAIN = 3  # interactions: tide ahead x (last hour's rain, and the two upper hinges)
TIDAL_SHARE = 0.5  # a series is a tide gauge when its harmonic fit explains this share of its variance
SCALE_WINDOW_S = 3 * 86_400.0  # how far back the local scale of a tide gauge's errors looks


def tide_references(tidal: Mask, xy: Array | None) -> Ints:
    """For every series, the tide gauge whose tide drives it: itself if tidal, else the nearest tidal one (-1: none)."""
    n = len(tidal)
    own = np.where(tidal, np.arange(n), -1)
    if xy is None or not tidal.any():
        return own
    gauges = np.flatnonzero(tidal)
    distance = np.hypot(*(xy[:, None, :] - xy[None, gauges, :]).transpose(2, 0, 1))
    return np.where(tidal, own, gauges[np.argmin(distance, axis=1)])


@dataclass(frozen=True)
class _Tides:
    """What ``fit`` learned about each series' tide."""

    constants: tide.TidalConstants
    base_on: Mask  # (n,) series whose own tide is their base
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
class _Fit:
    step_s: float
    tides: _Tides
    lag_edges: Ints  # residual blocks (steps before the origin) of the chosen depth
    rain: RainFeatures
    choices: dict[bool, Candidate]  # per group (pooled street sensors or not): lag blocks, ridge, rain
    beta: Array  # (n, 2 regimes, K, 1 + p)
    errors: KnotErrors  # cross-fitted error paths (n, J, K)
    path_rain: Array  # (n, J) catchment rain in the 3 h before each error path's origin
    scaled: Mask  # (n,) series whose error paths are scaled by the local scale (tide gauges that move)
    scale_floor: Array  # (n, K) the median local scale over the training origins (1 where not scaled)


@dataclass(frozen=True)
class _Now:
    """What ``update`` read: the features at the origin, and the tide ahead."""

    end: float
    n_time: int
    common: Array  # (n, 1, p_history) residual blocks and rain features at the origin
    rain_hour: Array  # (n, 1)
    rain_recent: Array  # (n,)
    no_data: Mask  # (n,) nothing finite in the window read
    scale: Array  # (n, K) local scale of the errors now (see ``local_scale``)


class WaterLevelModel:
    """Tide + rain response + AR residual, direct multi-horizon, with exceedance probabilities.

    Fit hourly or daily; ``update(newer history)`` then ``predict`` costs a few gathers.
    """

    def __init__(
        self,
        rain: Series | None = None,
        link: RainLink | None = None,
        xy: Array | None = None,
        lag_spans_s: Sequence[float] = LAG_SPANS_S,
        ridges: Sequence[float] = RIDGES,
        rain_memory_s: float = MEMORY_S,
        horizon_s: float = DEFAULT_HORIZON_S,
        max_origins: int = 3000,
        constants: tide.TidalConstants | None = None,
        pool: bool = True,
        name: str = "water_level",
    ) -> None:
        """``rain`` (its own batch, same step) with ``link`` adds the rain response; ``xy`` (km) lets
        street sensors borrow the nearest gauge's tide; ``constants`` replace analysing the history;
        ``pool`` fits one shared regression for all series that are not tide gauges (street depth:
        a street that has not flooded yet learns from those that have); ``horizon_s`` is the
        longest forecast ``predict`` will be asked for.
        """
        if (rain is None) != (link is None):
            raise ValueError("rain and its link to the water series come together")
        self.rain, self.link, self.xy, self.constants = rain, link, xy, constants
        self.lag_spans_s, self.ridges, self.rain_memory_s = tuple(lag_spans_s), tuple(ridges), rain_memory_s
        self.horizon_s, self.max_origins, self.pool, self.name = horizon_s, max_origins, pool, name
        self._fit: _Fit | None = None
        self._now: _Now | None = None

    @property
    def chosen(self) -> dict[str, tuple[float, float, str]]:
        """(lag span in s, ridge, rain use) that cross-validation chose at the last fit, for the tide
        gauges (and other series with their own regression) and for the pooled sensors."""
        state = fitted(self._fit, self.name)
        return {("pooled" if group else "own"): (float(state.lag_edges[d] * state.step_s), ridge, use.name.lower())
                for group, (d, ridge, use) in state.choices.items()}  # fmt: skip

    def _rain_of(self, history: Series) -> RainHistory:
        if self.rain is None or self.link is None:
            return RainHistory.none(history.n_series, history.n_time)
        return RainHistory.during(self.rain, self.link, history)

    def _learn_tides(self, history: Series) -> _Tides:
        values = history.values
        constants = self.constants or tide.analyse(history, rayleigh=0.8)
        own = constants.predict(history.times())
        base_on = explained_share(values, own) >= TIDAL_SHARE
        reference = tide_references(base_on, self.xy)
        ref = np.where(reference[:, None] >= 0, own[np.maximum(reference, 0)], 0.0)
        finite = np.isfinite(values)
        low = np.where(finite, values, np.inf).min(axis=1)
        at_low = (np.isclose(values, low[:, None]) & finite).sum(axis=1) >= 0.1 * np.maximum(finite.sum(axis=1), 1)
        floor = np.where(at_low & np.isfinite(low), low, -np.inf)
        return _Tides(constants, base_on, reference, ref.mean(axis=1), floor)

    def fit(self, history: Series) -> WaterLevelModel:
        step, n, n_time = history.step_s, history.n_series, history.n_time
        tides = self._learn_tides(history)
        knots = horizon_knots(horizon_steps(timedelta(seconds=self.horizon_s), step))
        times = history.start + step * np.arange(n_time + int(knots[-1]) + 1, dtype=np.float64)
        base, tide_ref = tides.at(times)
        level = history.values - base[:, :n_time]
        residual = np.nan_to_num(forward_fill(level))
        rain = self._rain_of(history)
        features = RainFeatures.on(step, 0 if self.link is None else self.link.gauges.shape[1], self.rain_memory_s)
        all_edges = block_edges(max(self.lag_spans_s), step)
        first = max(int(all_edges[-1]), int(features.short[-1]))
        origins = origins_between(first, n_time - 1 - int(knots[-1]), self.max_origins)
        pooled = np.flatnonzero(~tides.base_on) if self.pool else np.zeros(0, dtype=np.int64)
        depths = sorted({blocks_within(all_edges, span, step) for span in self.lag_spans_s})
        p_all = len(all_edges) - 1 + features.width + 1 + TIDE_TIMES_RAIN
        if len(origins) < 4 * FOLDS * p_all:  # too short to learn from: tides only, no error paths
            plain = (depths[0], self.ridges[0], RainUse.NONE)
            self._fit = _Fit(step, tides, all_edges[: depths[0] + 1], features, {False: plain, True: plain},
                             np.zeros((n, 2, len(knots), 1)), KnotErrors(knots, np.zeros((n, 0, len(knots)))),
                             np.zeros((n, 0)), np.zeros(n, dtype=np.bool_), np.ones((n, len(knots))))  # fmt: skip
            return self.update(history)
        regression = Design(residual, level, rain, features, tide_ref, all_edges, origins, pooled)
        choices = regression.choose(depths, self.ridges, knots)
        beta, errors = regression.solve(knots, max(depths), choices)
        edges = all_edges[: max(depths) + 1]
        scale = local_scale(residual, origins, knots, step, tides.base_on)  # (n, J, K)
        median = np.median(scale, axis=1)  # (n, K)
        scaled = np.asarray(tides.base_on & (median > 1e-9).all(axis=1), dtype=np.bool_)  # a still gauge: no
        floor = np.where(scaled[:, None], median, 1.0)
        errors = errors / np.where(scaled[:, None, None], np.maximum(scale, floor[:, None, :]), 1.0)
        self._fit = _Fit(step, tides, edges, features, choices, beta, KnotErrors(knots, errors),
                         features.recent(rain, origins), scaled, floor)  # fmt: skip
        return self.update(history)

    def update(self, history: Series, rain: Series | None = None) -> WaterLevelModel:
        """Newer data on the fitted model (same series, same step; ``rain``: newer rain for the same
        gauges, when the batch given at construction has none yet): nothing is relearned."""
        state = fitted(self._fit, self.name)
        if rain is not None:
            gauges = 0 if self.rain is None else self.rain.n_series
            if rain.n_series != gauges:
                raise ValueError(f"{self.name}: newer rain must come from the {gauges} gauges it was fitted with")
            self.rain = rain
        check_batch(len(state.tides.base_on), history, self.name)
        if not np.isclose(history.step_s, state.step_s):
            raise ValueError(f"{self.name}: fitted on {state.step_s} s steps, updated with {history.step_s} s")
        need = max(int(state.lag_edges[-1]), int(state.rain.memory[-1]), int(state.rain.short[-1]))
        window = history.last(need + round(86_400 / state.step_s))  # a day more: a gap is carried over as in fit
        base, _ = state.tides.at(window.times())
        residual = np.nan_to_num(forward_fill(window.values - base))
        now = np.array([window.n_time], dtype=np.int64)
        lags = Cumulative(residual).means(now, state.lag_edges)
        # the rain's memory is read from the rain batch, however short the water history given
        grid = Series(history.end - need * state.step_s, state.step_s, np.empty((history.n_series, need)))
        rain_now = self._rain_of(grid)
        rain_features, rain_hour = state.rain.at(rain_now, np.array([need], dtype=np.int64))
        no_data = np.asarray(~np.isfinite(window.values).any(axis=1), dtype=np.bool_)
        scale = local_scale(residual, now, state.errors.knots, state.step_s, state.scaled)[:, 0]
        self._now = _Now(history.end, window.n_time, np.concatenate([lags, rain_features], axis=2), rain_hour,
                         state.rain.recent(rain_now, np.array([need], dtype=np.int64))[:, 0], no_data,
                         np.maximum(scale, state.scale_floor))  # fmt: skip
        return self

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = DEFAULT_LEVELS) -> PathForecast:
        state, now = fitted(self._fit, self.name), fitted(self._now, self.name)
        n_steps = horizon_steps(horizon, state.step_s)
        knots = state.errors.knots
        check_horizon(n_steps, state.errors.horizon, self.name)
        n = len(state.tides.base_on)
        times = now.end + state.step_s * np.arange(-1, int(knots[-1]) + 1, dtype=np.float64)
        base, tide_ref = state.tides.at(times)  # column 0: the last step of the history
        wet_now = now.rain_recent > WET_MM
        beta = state.beta[np.arange(n), wet_now.astype(np.int64)]  # (n, K, 1 + p)
        ahead = np.zeros((n, len(knots)))
        if state.errors.errors.shape[1]:
            hinges = hinge_columns(len(state.lag_edges) - 1, state.rain)
            for j, k in enumerate(knots):
                x_now = with_tide(now.common, now.rain_hour, tide_ref[:, [0]], tide_ref[:, [k + 1]], hinges)[:, 0]
                ahead[:, j] = beta[:, j, 0] + np.einsum("sp,sp->s", x_now, beta[:, j, 1:])
        future = base[:, 1:]
        at_knots = np.maximum(future[:, knots] + ahead, state.tides.floor[:, None])
        mean = np.maximum(future[:, :n_steps] + interpolate_knots(ahead, knots, n_steps), state.tides.floor[:, None])
        chosen = analog_errors(state.errors.errors, state.path_rain, now.rain_recent, WET_MM) * now.scale[:, None, :]
        if chosen.shape[1]:
            lower, upper = KnotErrors(knots, chosen).bands(mean, levels)
            no_paths = ~np.isfinite(chosen).any(axis=(1, 2))
        else:
            lower = {lv: np.full(mean.shape, np.nan) for lv in levels}
            upper = {lv: np.full(mean.shape, np.nan) for lv in levels}
            no_paths = np.ones(n, dtype=np.bool_)
        fallback = without_forecast(mean) | no_paths | now.no_data
        inside = knots < n_steps
        return PathForecast(self.name, now.end, state.step_s, mean, lower, upper, fallback, knots[inside],
                            at_knots[:, None, inside] + chosen[:, :, inside])  # fmt: skip


def local_scale(residual: Array, origins: Ints, knots: Ints, step_s: float, scaled: Mask) -> Array:
    """How unsettled the water is before each origin, per knot: the RMS of the residual's k-step
    changes over the last ``SCALE_WINDOW_S`` (n, J, K); 1 for series not ``scaled``.

    Errors ``k`` steps ahead grow with how much the residual (surge, flood, season) has been moving
    over k steps lately, so the error paths are kept divided by this scale and multiplied back by
    today's (normalised split-conformal): a storm or a flood widens the bands a calm training
    period would have drawn too narrow.
    """
    window = max(1, round(SCALE_WINDOW_S / step_s))
    out = np.ones((residual.shape[0], len(origins), len(knots)))
    rows = np.flatnonzero(scaled)
    if not len(rows):
        return out
    r = residual[rows]
    for j, k in enumerate(knots):  # a few dozen knots, every series and origin at once
        lag = int(k) + 1
        change = np.zeros_like(r)
        change[:, lag:] = (r[:, lag:] - r[:, :-lag]) ** 2
        totals = np.concatenate([np.zeros((len(r), 1)), np.cumsum(change, axis=1)], axis=1)
        hi, lo = origins, np.maximum(origins - window, lag)
        count = np.maximum(hi - lo, 1)
        out[rows, :, j] = np.sqrt(np.maximum(totals[:, hi] - totals[:, lo], 0.0) / count)
    return out
