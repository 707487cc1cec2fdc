"""Baseline models every other model must beat: naive, seasonal naive, time-of-week average.

All vectorised over the batch: a forecast is a gather from (or a mean over) columns of the
``(n_series, n_time)`` history. Bands come from out-of-sample errors (``forecasting.intervals``):
seasonal naive replays its own forecasts from past origins; the time-of-week average is
calibrated split-conformally on the last quarter of the history.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from forecasting.intervals import error_quantiles
from forecasting.series import Array, Forecast, Series

DEFAULT_LEVELS = (0.8, 0.95)
CALIBRATION_ORIGINS = 96  # past forecast origins replayed for the error distribution
HORIZON_KNOTS = 24  # band widths computed at this many steps, interpolated between


def forward_fill(values: Array) -> Array:
    """Each NaN replaced by the last finite value before it in its row (leading NaN stay NaN)."""
    n = values.shape[1]
    seen = np.where(np.isfinite(values), np.arange(n), 0)
    np.maximum.accumulate(seen, axis=1, out=seen)
    filled = np.take_along_axis(values, seen, axis=1)
    return np.where(np.isfinite(values).cumsum(axis=1) > 0, filled, np.nan)


def horizon_knots(horizon: int) -> np.ndarray:
    """0-based steps at which band widths are computed: dense early, sparse late, always the last."""
    return np.unique(np.round(np.geomspace(1, horizon, min(HORIZON_KNOTS, horizon))).astype(np.int64) - 1)


def interpolate_knots(at_knots: Array, knots: np.ndarray, horizon: int) -> Array:
    """(n_series, horizon) from values at the knot steps, linear in between (all series at once)."""
    steps = np.arange(horizon)
    left = np.clip(np.searchsorted(knots, steps, side="right") - 1, 0, len(knots) - 1)
    right = np.minimum(left + 1, len(knots) - 1)
    span = np.maximum(knots[right] - knots[left], 1)
    weight = np.where(right > left, (steps - knots[left]) / span, 0.0)
    result: Array = at_knots[:, left] * (1 - weight) + at_knots[:, right] * weight
    return result


def bands_from_knots(
    mean: Array, widths_at_knots: dict[float, Array], knots: np.ndarray
) -> tuple[dict[float, Array], dict[float, Array]]:
    """Bands at every step around ``mean``, half-widths interpolated between the knots."""
    lower, upper = {}, {}
    for level, w in widths_at_knots.items():
        width = interpolate_knots(w, knots, mean.shape[1])
        lower[level], upper[level] = mean - width, mean + width
    return lower, upper


class SeasonalNaive:
    """The value one season ago (``period`` steps; 1 = naive: the last value), repeated."""

    def __init__(self, period: int = 1, name: str | None = None) -> None:
        if period < 1:
            raise ValueError("the season must be at least one step")
        self.period = period
        self.name = name or ("naive" if period == 1 else f"seasonal_naive_{period}")
        self._history: Series | None = None
        self._filled = np.zeros((0, 0))

    def fit(self, history: Series) -> SeasonalNaive:
        self._history = history
        self._filled = forward_fill(history.values)
        return self

    def predict(self, horizon: int, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        history = fitted_history(self._history, self.name)
        n = history.n_time
        period = self.period if n >= self.period else 1  # too short for a season: fall back to naive
        steps = np.arange(horizon)
        if n:
            seasonal = self._filled[:, n - period + steps % period]
            young = ~np.isfinite(seasonal).all(axis=1)  # no full season yet: its last value instead
            mean = np.where(np.isfinite(seasonal), seasonal, self._filled[:, -1:])
        else:
            young = np.ones(history.n_series, dtype=np.bool_)
            mean = np.full((history.n_series, horizon), np.nan)
        knots = horizon_knots(horizon)
        first = period
        origins = np.unique(np.linspace(first, n - 1, min(CALIBRATION_ORIGINS, max(n - first, 0))).astype(np.int64))
        if len(origins):
            source = origins[:, None] - period + knots[None, :] % period  # (n_origins, n_knots)
            target = origins[:, None] + knots[None, :]
            valid = target < n
            actual = np.where(valid[None], history.values[:, np.minimum(target, n - 1)], np.nan)
            errors = actual - self._filled[:, source]
        else:
            errors = np.full((history.n_series, 0, len(knots)), np.nan)
        lower, upper = bands_from_knots(mean, error_quantiles(errors, tuple(levels)), knots)
        fallback = without_forecast(mean) | young
        return Forecast(self.name, history.end, history.step_s, mean, lower, upper, fallback)


class TimeOfWeekAverage:
    """The mean of past values at the same time of week (or day), per series.

    Slots follow local time (``utc_offset_s``, Ho Chi Minh City's +7 h by default) so that a
    weekday 08:00 profile means 08:00 in the city. ``smooth_s`` averages each slot with its
    neighbours within that many seconds (a triangular kernel, weighted by how often each was
    seen): with two or three weeks of history each time-of-week slot has two or three values,
    and the noise of so few costs more than the blur of a half-hour window.
    """

    def __init__(
        self,
        period_s: float = 7 * 86_400.0,
        utc_offset_s: float = 7 * 3600.0,
        name: str | None = None,
        smooth_s: float = 0.0,
    ):
        self.period_s = period_s
        self.utc_offset_s = utc_offset_s
        self.smooth_s = smooth_s
        self.name = name or ("time_of_week" if period_s == 7 * 86_400.0 else "time_of_day")
        self._history: Series | None = None
        self._profile = np.zeros((0, 0))
        self._residuals: Array | None = None

    def _slots(self, history: Series) -> int:
        slots = self.period_s / history.step_s
        if abs(slots - round(slots)) > 1e-9:
            raise ValueError(f"the period ({self.period_s} s) must be a whole number of steps ({history.step_s} s)")
        return int(round(slots))

    def _slot_of(self, start: float, step_s: float, slots: int) -> int:
        return int(((start + self.utc_offset_s) % self.period_s) // step_s) % slots

    def _slot_sums(self, values: Array, start: float, step_s: float) -> tuple[Array, Array, list[tuple[int, int, int]]]:
        """Smoothed per-slot sums (n, slots) and counts (n or 1, slots) of the finite values, and the runs.

        Works on runs of columns within one period, ``(first, past the last, slot of the first)``:
        each run adds into its slots' sums in one slab, a few passes over the data. Counts are the
        same for every series but for its missing values, so only those are counted per series.
        """
        n, n_time = values.shape
        slots = int(round(self.period_s / step_s))
        offset = self._slot_of(start, step_s, slots)
        column = np.arange(n_time)
        starts = np.flatnonzero(((column + offset) % slots == 0) | (column == 0))
        runs = [(int(a), int(b), int((a + offset) % slots)) for a, b in zip(starts, np.append(starts[1:], n_time),
                                                                             strict=True)]  # fmt: skip
        sums, seen = np.zeros((n, slots)), np.zeros((1, slots))
        missing: Array | None = None
        for a, b, slot in runs:  # a Python loop over periods, each a slab of all series
            chunk = values[:, a:b]
            gaps = np.isnan(chunk)
            seen[:, slot : slot + b - a] += 1
            if gaps.any():
                missing = np.zeros((n, slots)) if missing is None else missing
                missing[:, slot : slot + b - a] += gaps
                chunk = np.where(gaps, 0.0, chunk)
            sums[:, slot : slot + b - a] += chunk
        half = self._half_width(step_s)
        return smooth_circular(sums, half), smooth_circular(seen if missing is None else seen - missing, half), runs

    def _profile_of(self, values: Array, start: float, step_s: float) -> Array:
        """(n_series, slots) mean per slot, NaN-aware (smoothed over ``smooth_s``)."""
        sums, counts, _ = self._slot_sums(values, start, step_s)
        return slot_means(sums, counts)

    def _half_width(self, step_s: float) -> int:
        return int(round(self.smooth_s / step_s))

    def cross_fitted_residual(self, history: Series) -> Array:
        """Each value's residual against the profile fitted on every *other* value (leave-one-out).

        A slot's mean without one value is its sums minus that value, so the residuals the bands
        are calibrated on carry the noise of an (n-1)-value profile, like the forecast's n-value
        one, not that of a half-data profile (bands too wide on three weeks of real counts).
        Fits this profile on the whole history as well.
        """
        values = history.values
        self._slots(history)  # the period must be whole steps
        sums, counts, runs = self._slot_sums(values, history.start, history.step_s)
        self._history = history
        self._profile = slot_means(sums, counts)
        self._residuals = None
        own = self._half_width(history.step_s) + 1  # a value's weight in its own slot's smoothed sums
        residual = np.empty(values.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            for a, b, slot in runs:
                y = values[:, a:b]
                others = counts[:, slot : slot + b - a] - own
                without = (sums[:, slot : slot + b - a] - own * y) / others
                residual[:, a:b] = np.where(others > 0, y - without, np.nan)
        return residual

    def fit(self, history: Series) -> TimeOfWeekAverage:
        self._slots(history)  # the period must be whole steps
        self._history = history
        self._profile = self._profile_of(history.values, history.start, history.step_s)
        self._residuals = None  # calibrated on first use: models built on the profile bring their own bands
        return self

    def _calibration_errors(self, history: Series) -> Array:
        """Errors of a profile fitted on the first three quarters, on the last quarter (split conformal)."""
        if self._residuals is None:
            slots = self._slots(history)
            split = (3 * history.n_time) // 4
            early = self._profile_of(history.values[:, :split], history.start, history.step_s)
            late = (self._slot_of(history.start, history.step_s, slots) + np.arange(split, history.n_time)) % slots
            self._residuals = (history.values[:, split:] - early[:, late])[:, :, None]  # same at every step
        return self._residuals

    def profile_at(self, start: float, n_steps: int) -> Array:
        """The fitted profile on ``n_steps`` columns from ``start`` (history or future): (n_series, n_steps)."""
        history = fitted_history(self._history, self.name)
        slots = self._slots(history)
        first = self._slot_of(start, history.step_s, slots)
        return self._profile[:, (first + np.arange(n_steps)) % slots]

    def predict(self, horizon: int, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        history = fitted_history(self._history, self.name)
        mean = self.profile_at(history.end, horizon)
        return steady_band_forecast(self.name, history, mean, self._calibration_errors(history), levels)


def smooth_circular(values: Array, half: int) -> Array:
    """Triangular moving sum of half-width ``half`` along the last axis, wrapping around (the week is a circle).

    A trailing then a leading box sum of ``half + 1`` slots make the triangle: weights
    1, 2, ..., half + 1, ..., 2, 1 - a few cumulative sums whatever the width.
    """
    if half <= 0:
        return values
    return _box_sum(_box_sum(values, half + 1, leading=False), half + 1, leading=True)


def _box_sum(values: Array, width: int, leading: bool) -> Array:
    """Circular sums of ``width`` slots ending (trailing) or starting (leading) at each slot."""
    n = values.shape[1]
    wrapped = [values, values[:, : width - 1]] if leading else [values[:, n - width + 1 :], values]
    totals = np.cumsum(np.concatenate([np.zeros((len(values), 1)), *wrapped], axis=1), axis=1)
    sums: Array = totals[:, width : width + n] - totals[:, :n]
    return sums


def slot_means(sums: Array, counts: Array) -> Array:
    """Mean per slot of ``sums`` (n, slots) over ``counts`` (n or 1, slots: one row when shared by all).

    A slot never seen takes the series' overall mean; a series never seen stays NaN.
    """
    total, seen = sums.sum(axis=1), np.broadcast_to(counts.sum(axis=1), (len(sums),))
    overall = np.divide(total, seen, out=np.full(total.shape, np.nan), where=seen > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        means: Array = sums / counts  # NaN where never seen, fixed below
    unseen = np.broadcast_to(counts == 0, means.shape)
    if unseen.any():
        means[unseen] = np.broadcast_to(overall[:, None], means.shape)[unseen]
    return means


def steady_band_forecast(name: str, history: Series, mean: Array, errors: Array, levels: Sequence[float]) -> Forecast:
    """A profile's forecast: bands as wide at every step, from ``errors`` (n_series, n_errors, 1)."""
    widths = error_quantiles(errors, tuple(levels))
    lower = {lv: mean - w for lv, w in widths.items()}
    upper = {lv: mean + w for lv, w in widths.items()}
    return Forecast(name, history.end, history.step_s, mean, lower, upper, without_forecast(mean))


def without_forecast(mean: Array) -> npt.NDArray[np.bool_]:
    """Series the model could say nothing about (e.g. no finite value at all)."""
    return np.asarray(~np.isfinite(mean).all(axis=1), dtype=np.bool_)


def fitted_history(history: Series | None, name: str) -> Series:
    """The history a model was fitted on; predicting before fitting is a programming error."""
    if history is None:
        raise RuntimeError(f"{name}: call fit(history) before predict()")
    return history
