"""The time-of-week (or time-of-day) average: the rhythm every traffic model starts from.

A slot is a step of the week in local time (``utc_offset_s``, Ho Chi Minh City's +7 h by
default), so a weekday 08:00 profile means 08:00 in the city. ``smooth_s`` averages each slot
with its neighbours within that many seconds (a triangular kernel, weighted by how often each was
seen): with two or three weeks of history each time-of-week slot has two or three values, and
the noise of so few costs more than the blur of a half-hour window.

A slot the history never saw (less than a week of data) takes the same time of day from the
days that were seen, else the series' mean - and a forecast that reads such a slot is flagged
``fallback``, as the contract asks of a series a model cannot forecast its own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from forecasting.bands import steady_bands, without_forecast
from forecasting.calendar import LOCAL_UTC_OFFSET_S
from forecasting.model import DEFAULT_LEVELS, Profile, check_batch, fitted
from forecasting.series import Array, Floats, Forecast, Mask, Series, horizon_steps

CALIBRATION_ERRORS = 600  # leave-one-out residuals kept for the bands, spread evenly over the history
Run = tuple[int, int, int]  # columns [first, past the last) within one period, and the slot of the first
CHUNK_SERIES = 500  # series fitted together: their temporaries stay small (see _learn)
DAY_S = 86_400.0
WEEK_S = 7 * DAY_S


@dataclass(frozen=True)
class _Fit:
    step_s: float
    slots: int
    profile: Array  # (n, slots), unseen slots filled
    unseen: Mask  # (n or 1, slots): no value (near) this slot in the history
    errors: Array  # (n, CALIBRATION_ERRORS) leave-one-out residuals


class TimeOfWeekAverage:
    """The mean of past values at the same time of week (or day), per series."""

    def __init__(
        self,
        period_s: float = WEEK_S,
        utc_offset_s: float = LOCAL_UTC_OFFSET_S,
        name: str | None = None,
        smooth_s: float = 0.0,
    ):
        self.period_s, self.utc_offset_s, self.smooth_s = period_s, utc_offset_s, smooth_s
        self.name = name or ("time_of_week" if period_s == WEEK_S else "time_of_day")
        self._fit: _Fit | None = None
        self._origin = 0.0
        self._n = 0

    def _slots(self, step_s: float) -> int:
        slots = self.period_s / step_s
        if abs(slots - round(slots)) > 1e-9:
            raise ValueError(f"the period ({self.period_s} s) must be a whole number of steps ({step_s} s)")
        return int(round(slots))

    def _slot_of(self, start: float, step_s: float, slots: int) -> int:
        return int(((start + self.utc_offset_s) % self.period_s) // step_s) % slots

    def _half_width(self, step_s: float) -> int:
        return int(round(self.smooth_s / step_s))

    def _runs(self, start: float, step_s: float, n_time: int, slots: int) -> list[Run]:
        """The history cut at the period's turns: ``(first, past the last, slot of the first)``."""
        offset = self._slot_of(start, step_s, slots)
        column = np.arange(n_time)
        starts = np.flatnonzero(((column + offset) % slots == 0) | (column == 0))
        return [(int(a), int(b), int((a + offset) % slots)) for a, b in zip(starts, np.append(starts[1:], n_time),
                                                                            strict=True)]  # fmt: skip

    @staticmethod
    def _slot_sums(values: Array, runs: list[Run], slots: int, half: int) -> tuple[Array, Array | None]:
        """Smoothed per-slot sums (n, slots) of the finite values, and the smoothed count of missing
        values per slot (None when nothing is missing).

        Each run adds into its slots' sums in one slab, a few passes over the data. Counts are the
        same for every series but for its missing values, so only those are counted per series.
        """
        n = len(values)
        sums = np.zeros((n, slots))
        missing: Array | None = None
        for a, b, slot in runs:  # a Python loop over periods, each a slab of all series
            chunk = values[:, a:b]
            gaps = np.isnan(chunk)
            if gaps.any():
                missing = np.zeros((n, slots)) if missing is None else missing
                missing[:, slot : slot + b - a] += gaps
                chunk = np.where(gaps, 0.0, chunk)
            sums[:, slot : slot + b - a] += chunk
        return smooth_circular(sums, half), None if missing is None else smooth_circular(missing, half)

    def _learn(self, history: Series, dtype: type[np.floating[Any]] = np.float64) -> Floats:
        """Fit the profile; return each value's residual against the profile fitted on every *other*
        value (leave-one-out), in ``dtype``.

        A slot's mean without one value is its sums minus that value, so the residuals carry the
        noise of an (n-1)-value profile, like the forecast's n-value one, not that of a half-data
        profile (bands too wide on three weeks of real counts). Series are taken in chunks: every
        series is its own profile, and chunk-sized temporaries are reused where whole-batch ones
        would each be fresh memory (the kernel's page faults cost more than the arithmetic).
        """
        values, step, (n, n_time) = history.values, history.step_s, history.values.shape
        slots, half = self._slots(step), self._half_width(step)
        runs = self._runs(history.start, step, n_time, slots)
        per_day = round(DAY_S / step) if self.period_s % DAY_S == 0 and slots % round(DAY_S / step) == 0 else slots
        seen = np.zeros((1, slots))
        for a, b, slot in runs:
            seen[:, slot : slot + b - a] += 1
        seen = smooth_circular(seen, half)  # the counts of every series with nothing missing
        keep = np.unique(np.linspace(0, n_time - 1, min(CALIBRATION_ERRORS, n_time)).astype(np.int64))
        residual = np.empty(values.shape, dtype=dtype)
        means, errors = np.empty((n, slots)), np.empty((n, len(keep)))
        counts: Array | None = None  # per series, once a series has missing values
        for lo in range(0, n, CHUNK_SERIES):
            rows = slice(lo, min(lo + CHUNK_SERIES, n))
            sums, missing = self._slot_sums(values[rows], runs, slots, half)
            count = seen if missing is None else seen - missing
            if missing is not None:
                counts = np.repeat(seen, n, axis=0) if counts is None else counts
                counts[rows] = count
            left_out = leave_one_out(values[rows], sums, count, runs, half + 1)
            residual[rows], errors[rows] = left_out, left_out[:, keep]
            means[rows] = slot_means(sums, count, per_day)
        counts = seen if counts is None else counts
        self._fit = _Fit(step, slots, means, counts < 1e-9, errors)
        self._n = history.n_series
        self._origin = history.end
        return residual

    def cross_fitted_residual(self, history: Series, dtype: type[np.floating[Any]] = np.float64) -> Floats:
        return self._learn(history, dtype)

    def fit(self, history: Series) -> TimeOfWeekAverage:
        self._learn(history)
        return self

    def update(self, history: Series) -> TimeOfWeekAverage:
        """The profile reads no recent values: the origin moves to ``history.end``."""
        state = fitted(self._fit, self.name)
        check_batch(self._n, history, self.name)
        if not np.isclose(history.step_s, state.step_s):
            raise ValueError(f"{self.name}: fitted on {state.step_s} s steps, updated with {history.step_s} s")
        self._origin = history.end
        return self

    def _columns(self, start: float, n_steps: int) -> np.ndarray:
        state = fitted(self._fit, self.name)
        return (self._slot_of(start, state.step_s, state.slots) + np.arange(n_steps)) % state.slots

    def profile_at(self, start: float, n_steps: int) -> Array:
        """The fitted profile on ``n_steps`` columns from ``start`` (history or future): (n_series, n_steps)."""
        profile: Array = fitted(self._fit, self.name).profile[:, self._columns(start, n_steps)]
        return profile

    def unseen_at(self, start: float, n_steps: int) -> Array:
        state = fitted(self._fit, self.name)
        unseen = np.broadcast_to(state.unseen, state.profile.shape)[:, self._columns(start, n_steps)]
        return unseen.astype(np.float64)

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        state = fitted(self._fit, self.name)
        return profile_forecast(self, self._origin, state.step_s, state.errors, horizon, levels)


def profile_forecast(
    profile: Profile,
    origin: float,
    step_s: float,
    errors: Array,
    horizon: int | timedelta,
    levels: Sequence[float],
) -> Forecast:
    """A profile's forecast from ``origin``: the rhythm ahead, bands as wide at every step from its
    out-of-sample ``errors`` (n_series, n_errors), flagged where it reads slots never seen."""
    n_steps = horizon_steps(horizon, step_s)
    mean = profile.profile_at(origin, n_steps)
    lower, upper = steady_bands(mean, errors, levels)
    fallback = without_forecast(mean) | profile.unseen_at(origin, n_steps).any(axis=1)
    return Forecast(profile.name, origin, step_s, mean, lower, upper, fallback)


def leave_one_out(values: Array, sums: Array, counts: Array, runs: list[Run], own: int) -> Array:
    """Each value's residual (n, n_time) against its slot's smoothed mean without it, from the
    smoothed slot ``sums`` (n, slots) and ``counts`` (n or 1, slots) that hold it with weight
    ``own``; NaN where no other value is near its slot."""
    residual = np.empty(values.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        for a, b, slot in runs:  # y - (sums - own y) / (counts - own) = (y counts - sums) / (counts - own)
            out, count = residual[:, a:b], counts[:, slot : slot + b - a]
            others = count - own
            np.multiply(values[:, a:b], count, out=out)
            out -= sums[:, slot : slot + b - a]
            out /= others
            if (alone := others <= 0).any():
                np.copyto(out, np.nan, where=np.broadcast_to(alone, out.shape))
    return residual


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


def slot_means(sums: Array, counts: Array, per_day: int | None = None) -> Array:
    """Mean per slot of ``sums`` (n, slots) over ``counts`` (n or 1, slots: one row when shared by all).

    A slot never seen takes the same time of day averaged over the days seen (slots ``per_day``
    apart), else the series' overall mean; a series never seen stays NaN.
    """
    n, slots = sums.shape
    counts = np.broadcast_to(counts, sums.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        means: Array = sums / counts  # NaN where never seen, filled below
        unseen = counts == 0
        if not unseen.any():
            return means
        if per_day and slots % per_day == 0 and slots > per_day:
            day_sums = sums.reshape(n, -1, per_day).sum(axis=1)
            day_counts = counts.reshape(n, -1, per_day).sum(axis=1)
            time_of_day = np.tile(day_sums / day_counts, slots // per_day)
            means = np.where(unseen, time_of_day, means)
        overall = sums.sum(axis=1) / counts.sum(axis=1)
    return np.where(np.isfinite(means), means, overall[:, None])
