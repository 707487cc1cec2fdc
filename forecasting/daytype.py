"""A time-of-day profile per kind of day: each weekday, public holidays, and Tết.

Traffic on a holiday looks like a Sunday, and Tết like nothing else. This profile keeps one
time-of-day curve per group - Monday ... Sunday, holiday, Tết (``forecasting.calendar``: the
``holidays`` package's calendar of ``country``, Vietnam by default, in the local time zone
``tz``) - learned from the history. A holiday group the history has not seen borrows its nearest
kin: Tết a holiday's curve, a holiday Sunday's. A weekday the history has not seen (less than a
week of data) takes the mean of the days seen, and forecasts reading it are flagged ``fallback``.
Forecasts read the calendar of the days ahead, so a coming holiday is forecast as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from forecasting.calendar import LocalCalendar
from forecasting.model import DEFAULT_LEVELS, check_batch, fitted
from forecasting.profile import CALIBRATION_ERRORS, profile_forecast, slot_means, smooth_circular
from forecasting.series import Array, Floats, Forecast, Mask, Series

HOLIDAY, TET = 7, 8
N_GROUPS = 9
BORROW = {TET: HOLIDAY, HOLIDAY: 6}  # unseen group -> the group whose curve it uses


@dataclass(frozen=True)
class _Fit:
    step_s: float
    curves: Array  # (n, N_GROUPS, slots_per_day)
    unseen: Mask  # (n, N_GROUPS, slots_per_day): filled by a simpler rule
    errors: Array  # (n, CALIBRATION_ERRORS) out-of-sample residuals (odd vs even days)


class DayTypeProfile:
    def __init__(
        self,
        calendar: LocalCalendar | None = None,
        name: str = "day_type_profile",
        working_days_alike: bool = False,
        smooth_s: float = 0.0,
    ) -> None:
        """``working_days_alike`` pools Monday-Friday into one curve (five times the data per slot);
        ``smooth_s`` averages each slot with its neighbours within that many seconds (triangular)."""
        self.calendar = calendar or LocalCalendar()
        self.name = name
        self.working_days_alike, self.smooth_s = working_days_alike, smooth_s
        self._fit: _Fit | None = None
        self._origin = 0.0
        self._n = 0

    def groups(self, times: Array) -> npt.NDArray[np.int64]:
        """Group of each time: weekday 0-6 (Monday 0), 7 holiday, 8 Tết (the days before Tết: their weekday)."""
        kinds = self.calendar.day_types(times)
        weekday = self.calendar.weekdays(times)
        if self.working_days_alike:
            weekday = np.where(weekday < 5, 0, weekday)
        return np.where(kinds == "tet", TET, np.where(kinds == "holiday", HOLIDAY, weekday)).astype(np.int64)

    def _slot(self, times: Array, step_s: float) -> npt.NDArray[np.int64]:
        return (self.calendar.seconds_of_day(times) // step_s).astype(np.int64)

    def _curves_of(self, values: Array, times: Array, step_s: float) -> tuple[Array, Mask]:
        """(n_series, N_GROUPS, slots_per_day) means and where they were never seen; holiday groups
        borrowed, unseen weekdays the mean of the days seen, unseen slots the series mean."""
        per_day = int(round(86_400 / step_s))
        key = self.groups(times) * per_day + self._slot(times, step_s)
        finite = np.isfinite(values)
        flat_sums = np.zeros((values.shape[0], N_GROUPS * per_day))
        flat_counts = np.zeros_like(flat_sums)
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(key) else np.zeros(0, np.int64)
        if len(starts):
            flat_sums[:, ordered[starts]] = np.add.reduceat(np.where(finite, values, 0.0)[:, order], starts, axis=1)
            flat_counts[:, ordered[starts]] = np.add.reduceat(finite[:, order].astype(np.float64), starts, axis=1)
        half = int(round(self.smooth_s / step_s))
        n = values.shape[0]
        sums = smooth_circular(flat_sums.reshape(-1, per_day), half).reshape(n, N_GROUPS, per_day)
        counts = smooth_circular(flat_counts.reshape(-1, per_day), half).reshape(n, N_GROUPS, per_day)
        for group in (HOLIDAY, TET):  # borrow in order: a holiday first, so Tết can borrow it
            unseen = counts[:, group].sum(axis=1) == 0
            sums[unseen, group], counts[unseen, group] = sums[unseen, BORROW[group]], counts[unseen, BORROW[group]]
        used = [0, 5, 6] if self.working_days_alike else list(range(7))  # groups a forecast can read
        missing = np.zeros(counts.shape, dtype=np.bool_)
        missing[:, used] = counts[:, used] < 1e-9
        missing[:, HOLIDAY:] = counts[:, HOLIDAY:] < 1e-9
        means = slot_means(sums.reshape(n, -1), counts.reshape(n, -1), per_day).reshape(n, N_GROUPS, per_day)
        return means, missing

    def _read(self, curves: Array, times: Array, step_s: float) -> Array:
        """``curves`` at ``times``: each time's group and time-of-day slot, (n_series, len(times))."""
        values: Array = curves[:, self.groups(times), self._slot(times, step_s)]
        return values

    def cross_fitted_residual(self, history: Series, dtype: type[np.floating[Any]] = np.float64) -> Floats:
        """Each day's residual against curves fitted on the days of the other parity (odd vs even
        local days: every group's days fall in both halves); fits on everything on the way."""
        if abs(86_400 / history.step_s - round(86_400 / history.step_s)) > 1e-9:
            raise ValueError(f"a day must be a whole number of steps ({history.step_s} s)")
        times = history.times()
        odd = self.calendar.local_days(times) % 2 == 1
        residual = np.full(history.values.shape, np.nan)
        for side in (odd, ~odd):
            curves, _ = self._curves_of(np.where(side[None, :], np.nan, history.values), times, history.step_s)
            residual[:, side] = history.values[:, side] - self._read(curves, times[side], history.step_s)
        curves, unseen = self._curves_of(history.values, times, history.step_s)
        keep = np.unique(np.linspace(0, history.n_time - 1, min(CALIBRATION_ERRORS, history.n_time)).astype(np.int64))
        self._fit = _Fit(history.step_s, curves, unseen, residual[:, keep])
        self._n, self._origin = history.n_series, history.end
        return residual.astype(dtype, copy=False)

    def fit(self, history: Series) -> DayTypeProfile:
        self.cross_fitted_residual(history)
        return self

    def update(self, history: Series) -> DayTypeProfile:
        """The profile reads no recent values: the origin moves to ``history.end``."""
        fitted(self._fit, self.name)
        check_batch(self._n, history, self.name)
        self._origin = history.end
        return self

    def _times(self, start: float, n_steps: int) -> Array:
        return start + fitted(self._fit, self.name).step_s * np.arange(n_steps, dtype=np.float64)

    def profile_at(self, start: float, n_steps: int) -> Array:
        state = fitted(self._fit, self.name)
        return self._read(state.curves, self._times(start, n_steps), state.step_s)

    def unseen_at(self, start: float, n_steps: int) -> Array:
        state = fitted(self._fit, self.name)
        return self._read(state.unseen.astype(np.float64), self._times(start, n_steps), state.step_s)

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        state = fitted(self._fit, self.name)
        return profile_forecast(self, self._origin, state.step_s, state.errors, horizon, levels)
