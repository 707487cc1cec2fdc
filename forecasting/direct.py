"""Profile + autoregressive residual, forecast directly at every horizon: the workhorse model.

The time-of-week profile carries the rhythm; what is left (a jam that builds, a storm's runoff)
is persistent for a while, so the residual's last ``lags`` values predict its next hours. One
ridge regression per series and horizon knot maps those lags to the residual ``k`` steps ahead
(direct, not iterated: no error compounding); knots are spread geometrically over the horizon
and the forecast is interpolated between them. All series are solved together, in chunks, as
batched normal equations ``(X'X + lambda n I) b = X'y``.

Bands: split-conformal - coefficients fitted on the earlier four fifths of the training origins
score the last fifth out of sample; those errors set the widths.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from forecasting.baselines import (
    DEFAULT_LEVELS,
    TimeOfWeekAverage,
    bands_from_knots,
    fitted_history,
    horizon_knots,
    interpolate_knots,
    without_forecast,
)
from forecasting.intervals import error_quantiles
from forecasting.model import Profile
from forecasting.series import Array, Forecast, Series

# Chosen on backtests (docs/benchmarks.md): a 30-minute window steadies a profile learned from two
# or three weeks, and a firm ridge keeps the residual's lags from chasing noise at long horizons.
PROFILE_SMOOTH_S = 1800.0
CHUNK_SERIES = 2_000  # series solved per batch: bounds memory at (chunk, origins, lags) floats


class ProfileAR:
    def __init__(
        self,
        lags: int = 12,
        period_s: float = 7 * 86_400.0,
        ridge: float = 1.0,
        max_origins: int = 600,
        utc_offset_s: float = 7 * 3600.0,
        name: str = "profile_ar",
        profile: Profile | None = None,
    ) -> None:
        """``profile`` replaces the time-of-week average (e.g. ``DayTypeProfile`` for holidays and Tết)."""
        self.lags, self.ridge, self.max_origins, self.name = lags, ridge, max_origins, name
        self._profile: Profile = profile or TimeOfWeekAverage(period_s, utc_offset_s, smooth_s=PROFILE_SMOOTH_S)
        self._history: Series | None = None
        self._residual = np.zeros((0, 0))

    def fit(self, history: Series) -> ProfileAR:
        self._history = history
        # Out-of-sample residuals (leave-one-out for the time-of-week profile, odd vs even days for
        # the day-type one): against a profile fitted on the same few weeks, residuals look smaller
        # than the errors to come and the bands come out too narrow. The profile is fitted on all
        # the history on the way: the forecast rides on it.
        residual = self._profile.cross_fitted_residual(history)
        # Missing: assume the profile. Single precision halves the memory traffic of the regressions
        # (sensor values carry 4-5 significant digits); the normal equations are solved in double.
        self._residual = np.nan_to_num(residual, copy=False).astype(np.float32)
        return self

    def predict(self, horizon: int, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        history = fitted_history(self._history, self.name)
        profile = self._profile.profile_at(history.end, horizon)
        knots = horizon_knots(horizon)
        origins = self._origins(history.n_time, int(knots[-1]))
        ahead = np.zeros((history.n_series, len(knots)))
        errors = np.full((history.n_series, 0, len(knots)), np.nan)
        if len(origins) >= 4 * (self.lags + 1):
            ahead, errors = self._solve(origins, knots)
        mean = profile + interpolate_knots(ahead, knots, horizon)
        widths = error_quantiles(errors, tuple(levels)) if errors.shape[1] else {}
        if widths:
            lower, upper = bands_from_knots(mean, widths, knots)
        else:  # too short to learn the residual: the profile's own bands
            fallback_forecast = self._profile.predict(horizon, levels)
            lower, upper = fallback_forecast.lower, fallback_forecast.upper
        return Forecast(self.name, history.end, history.step_s, mean, lower, upper, without_forecast(mean))

    def _origins(self, n_time: int, last_knot: int) -> npt.NDArray[np.int64]:
        """Training origins (first forecast column) that have ``lags`` before and every knot after."""
        first, last = self.lags, n_time - 1 - last_knot
        if last < first:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.linspace(first, last, min(self.max_origins, last - first + 1)).astype(np.int64))

    def _solve(self, origins: npt.NDArray[np.int64], knots: npt.NDArray[np.int64]) -> tuple[Array, Array]:
        """Residual forecasts at the knots (n_series, K) and out-of-sample errors (n_series, n_test, K)."""
        r = self._residual
        n = r.shape[1]
        lag_index = origins[:, None] - 1 - np.arange(self.lags)[None, :]  # (J, L)
        target_index = origins[:, None] + knots[None, :]  # (J, K)
        now_index = n - 1 - np.arange(self.lags)
        split = (4 * len(origins)) // 5
        ahead = np.empty((r.shape[0], len(knots)))
        errors = np.empty((r.shape[0], len(origins) - split, len(knots)))
        for lo in range(0, r.shape[0], CHUNK_SERIES):  # chunks of series, each solved as one batch
            chunk = r[lo : lo + CHUNK_SERIES]
            x = np.concatenate([np.ones((len(chunk), len(origins), 1), np.float32), chunk[:, lag_index]], axis=2)
            y = chunk[:, target_index]  # (S, J, K)
            early = self._normal_equations(x[:, :split], y[:, :split])
            late = self._normal_equations(x[:, split:], y[:, split:])
            train = self._coefficients(*early, split)
            errors[lo : lo + CHUNK_SERIES] = y[:, split:] - np.matmul(x[:, split:], train.astype(np.float32))
            full = self._coefficients(early[0] + late[0], early[1] + late[1], len(origins))
            x_now = np.concatenate([np.ones((len(chunk), 1)), chunk[:, now_index]], axis=1)  # (S, p), double
            ahead[lo : lo + CHUNK_SERIES] = np.einsum("sp,spk->sk", x_now, full)
        return ahead, errors

    @staticmethod
    def _normal_equations(x: Array, y: Array) -> tuple[Array, Array]:
        """X'X (S, p, p) and X'Y (S, p, K) in double: sums over origins, so parts add up to the whole."""
        xt = x.transpose(0, 2, 1)
        return np.matmul(xt, x).astype(np.float64), np.matmul(xt, y).astype(np.float64)

    def _coefficients(self, gram: Array, xty: Array, n_rows: int) -> Array:
        """Ridge coefficients (S, p, K); the intercept is not shrunk, the lags by ridge x n x variance."""
        p = gram.shape[1]
        penalty = self.ridge * n_rows * np.eye(p)
        penalty[0, 0] = 0.0
        variance = np.maximum(np.diagonal(gram, axis1=1, axis2=2)[:, 1:].mean(axis=1) / n_rows, 1e-12)
        regularised = gram + variance[:, None, None] * penalty + 1e-9 * np.eye(p)
        coefficients: Array = np.linalg.solve(regularised, xty)
        return coefficients
