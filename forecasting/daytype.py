"""A time-of-day profile per kind of day: each weekday, public holidays, and Tết.

Traffic on a holiday looks like a Sunday, and Tết like nothing else. This profile keeps one
time-of-day curve per group - Monday ... Sunday, holiday, Tết (``forecasting.calendar``, the
``holidays`` package's Vietnamese calendar) - learned from the history. A group the history has
not seen borrows its nearest kin: Tết a holiday's curve, a holiday Sunday's. Forecasts read the
calendar of the days ahead, so a coming holiday is forecast as one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from forecasting.baselines import DEFAULT_LEVELS, fitted_history, slot_means, smooth_circular, steady_band_forecast
from forecasting.calendar import LOCAL_UTC_OFFSET_S, day_types, local_days
from forecasting.series import Array, Forecast, Series

HOLIDAY, TET = 7, 8
N_GROUPS = 9
BORROW = {TET: HOLIDAY, HOLIDAY: 6}  # unseen group -> the group whose curve it uses


class DayTypeProfile:
    def __init__(
        self,
        utc_offset_s: float = LOCAL_UTC_OFFSET_S,
        name: str = "day_type_profile",
        working_days_alike: bool = False,
        smooth_s: float = 0.0,
    ) -> None:
        """``working_days_alike`` pools Monday-Friday into one curve (five times the data per slot);
        ``smooth_s`` averages each slot with its neighbours within that many seconds (triangular)."""
        self.utc_offset_s = utc_offset_s
        self.name = name
        self.working_days_alike, self.smooth_s = working_days_alike, smooth_s
        self._history: Series | None = None
        self._curves = np.zeros((0, N_GROUPS, 0))
        self._residuals: Array | None = None

    def groups(self, times: Array) -> npt.NDArray[np.int64]:
        """Group of each time: weekday 0-6 (Monday 0), 7 holiday, 8 Tết (the days before Tết: their weekday)."""
        kinds = day_types(times, self.utc_offset_s)
        weekday = (local_days(times, self.utc_offset_s) + 3) % 7  # 1970-01-01 was a Thursday
        if self.working_days_alike:
            weekday = np.where(weekday < 5, 0, weekday)
        return np.where(kinds == "tet", TET, np.where(kinds == "holiday", HOLIDAY, weekday)).astype(np.int64)

    def _slot(self, times: Array, step_s: float) -> npt.NDArray[np.int64]:
        return (((times + self.utc_offset_s) % 86_400) // step_s).astype(np.int64)

    def _curves_of(self, values: Array, times: Array, step_s: float) -> Array:
        """(n_series, N_GROUPS, slots_per_day) means; unseen groups borrowed, unseen slots the series mean."""
        per_day = int(round(86_400 / step_s))
        key = self.groups(times) * per_day + self._slot(times, step_s)
        finite = np.isfinite(values)
        flat_sums = np.zeros((values.shape[0], N_GROUPS * per_day))
        flat_counts = np.zeros_like(flat_sums)
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(key) else np.zeros(0, np.int64)
        if len(starts):
            self._sum_runs(flat_sums, flat_counts, values, finite, order, ordered, starts)
        half = int(round(self.smooth_s / step_s))
        n = values.shape[0]
        sums = smooth_circular(flat_sums.reshape(-1, per_day), half).reshape(n, N_GROUPS, per_day)
        counts = smooth_circular(flat_counts.reshape(-1, per_day), half).reshape(n, N_GROUPS, per_day)
        for group in (HOLIDAY, TET):  # borrow in order: a holiday first, so Tết can borrow it
            unseen = counts[:, group].sum(axis=1) == 0
            sums[unseen, group], counts[unseen, group] = sums[unseen, BORROW[group]], counts[unseen, BORROW[group]]
        return slot_means(sums.reshape(n, -1), counts.reshape(n, -1)).reshape(n, N_GROUPS, per_day)

    def _read(self, curves: Array, times: Array, step_s: float) -> Array:
        """``curves`` at ``times``: each time's group and time-of-day slot, (n_series, len(times))."""
        values: Array = curves[:, self.groups(times), self._slot(times, step_s)]
        return values

    @staticmethod
    def _sum_runs(
        sums: Array,
        counts: Array,
        values: Array,
        finite: npt.NDArray[np.bool_],
        order: npt.NDArray[np.int64],
        ordered: npt.NDArray[np.int64],
        starts: npt.NDArray[np.int64],
    ) -> None:
        """Per-key sums and counts of finite values: columns sorted by key once, then summed run by run."""
        sums[:, ordered[starts]] = np.add.reduceat(np.where(finite, values, 0.0)[:, order], starts, axis=1)
        counts[:, ordered[starts]] = np.add.reduceat(finite[:, order].astype(np.float64), starts, axis=1)

    def fit(self, history: Series) -> DayTypeProfile:
        if abs(86_400 / history.step_s - round(86_400 / history.step_s)) > 1e-9:
            raise ValueError(f"a day must be a whole number of steps ({history.step_s} s)")
        self._history = history
        self._curves = self._curves_of(history.values, history.times(), history.step_s)
        self._residuals = None
        return self

    def cross_fitted_residual(self, history: Series) -> Array:
        """Each day's residual against curves fitted on the days of the other parity (odd vs even
        local days: every group's days fall in both halves); then fitted on everything."""
        times = history.times()
        odd = local_days(times, self.utc_offset_s) % 2 == 1
        residual = np.full(history.values.shape, np.nan)
        for side in (odd, ~odd):
            curves = self._curves_of(np.where(side[None, :], np.nan, history.values), times, history.step_s)
            residual[:, side] = history.values[:, side] - self._read(curves, times[side], history.step_s)
        self.fit(history)
        return residual

    def profile_at(self, start: float, n_steps: int) -> Array:
        history = fitted_history(self._history, self.name)
        times = start + history.step_s * np.arange(n_steps, dtype=np.float64)
        return self._read(self._curves, times, history.step_s)

    def predict(self, horizon: int, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        history = fitted_history(self._history, self.name)
        mean = self.profile_at(history.end, horizon)
        return steady_band_forecast(self.name, history, mean, self._calibration_errors(history), levels)

    def _calibration_errors(self, history: Series) -> Array:
        """Errors on the last quarter of curves fitted on the first three quarters (split conformal)."""
        if self._residuals is None:
            split = (3 * history.n_time) // 4
            times = history.times()
            early = self._curves_of(history.values[:, :split], times[:split], history.step_s)
            fitted = self._read(early, times[split:], history.step_s)
            self._residuals = (history.values[:, split:] - fitted)[:, :, None]
        return self._residuals
