"""Models from other libraries behind the engine's interface, so backtests compare like with like.

statsforecast (AutoETS, MSTL), statsmodels (ETS) and Prophet (with Vietnam's holidays) each fit
one series at a time - that is their design, and the cost the benchmarks put next to the
engine's batched models. Each library is imported when its model is first used; without it the
model says which package to install (``pip install 'urbanpulse[compare]'``).

Series are prepared the same way for all of them: leading gaps dropped, inner gaps carried
forward. A constant series is forecast as that constant; a series too short for the model (or
one the library fails on) gets the last value and is flagged in ``Forecast.fallback``; a series
with no value at all gets NaN, flagged.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import numpy as np

from forecasting.baselines import DEFAULT_LEVELS, fitted_history, forward_fill
from forecasting.calendar import LOCAL_UTC_OFFSET_S
from forecasting.series import Array, Forecast, Series

INSTALL_HINT = "pip install 'urbanpulse[compare]'"

log = logging.getLogger(__name__)


class MissingLibrary(ImportError):
    """A comparison model's library is not installed."""


def require(module: str, model: str) -> ModuleType:
    """Import ``module`` for ``model``, or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingLibrary(f"the {model} comparison model needs the '{module}' package: {INSTALL_HINT}") from error


class _OneAtATime:
    """The shared shell: prepare each series, ask the library for mean and bands, fall back per series."""

    name = "per_series"

    def min_points(self, step_s: float) -> int:
        """The shortest series the model is asked to forecast; shorter ones get the fallback."""
        return 2

    def __init__(self) -> None:
        self._history: Series | None = None

    def fit(self, history: Series) -> _OneAtATime:
        self._history = history
        return self

    def predict(self, horizon: int, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        history = fitted_history(self._history, self.name)
        n = history.n_series
        mean = np.full((n, horizon), np.nan)
        lower = {lv: np.full((n, horizon), np.nan) for lv in levels}
        upper = {lv: np.full((n, horizon), np.nan) for lv in levels}
        fallback = np.zeros(n, dtype=np.bool_)
        filled = forward_fill(history.values)
        times = history.times()
        for i in range(n):  # these libraries fit one series at a time
            seen = np.isfinite(filled[i])
            if not seen.any():
                fallback[i] = True
                continue
            y = filled[i, int(np.argmax(seen)) :]
            result = None
            if np.ptp(y) == 0:  # a constant is its own forecast
                result = _flat(y[-1], horizon, levels)
            elif len(y) >= self.min_points(history.step_s):
                result = self._guarded(times[-len(y) :], y, history.step_s, horizon, levels)
            if result is None:
                fallback[i] = True
                result = _flat(y[-1], horizon, levels)
            mean[i] = result[0]
            for lv in levels:
                lower[lv][i], upper[lv][i] = result[1][lv]
        return Forecast(self.name, history.end, history.step_s, mean, lower, upper, fallback)

    def _guarded(
        self, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> tuple[Array, dict[float, tuple[Array, Array]]] | None:
        """The library's forecast, or None (the fallback) when it fails on this series or returns non-numbers."""
        try:
            result = self._forecast_one(times, y, step_s, horizon, levels)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError, RuntimeError) as error:
            log.warning("%s failed on a series of %d points (%s); it gets the last value", self.name, len(y), error)
            return None
        finite = np.isfinite(result[0]).all() and all(np.isfinite(b).all() for pair in result[1].values() for b in pair)
        return result if finite else None

    def _forecast_one(
        self, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> tuple[Array, dict[float, tuple[Array, Array]]]:
        """Mean and (lower, upper) per level for one gap-free series."""
        raise NotImplementedError


def _flat(value: float, horizon: int, levels: Sequence[float]) -> tuple[Array, dict[float, tuple[Array, Array]]]:
    """``value`` at every step, with zero-width bands (a constant series, or the last-value fallback)."""
    line = np.full(horizon, value)
    return line, {lv: (line, line) for lv in levels}


class StatsForecastModel(_OneAtATime):
    """statsforecast's ``AutoETS`` (one season) or ``MSTL`` (several, e.g. day and week) on one series at a time."""

    def __init__(self, kind: str = "AutoETS", season_length: int | Sequence[int] = 24) -> None:
        super().__init__()
        if kind not in ("AutoETS", "MSTL"):
            raise ValueError(f"statsforecast model {kind!r}: choose AutoETS or MSTL")
        self.kind = kind
        self.seasons = [season_length] if isinstance(season_length, int) else list(season_length)
        self.name = f"statsforecast_{kind.lower()}"

    def min_points(self, step_s: float) -> int:
        return 2 * max(self.seasons) + 1

    def _forecast_one(
        self, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> tuple[Array, dict[float, tuple[Array, Array]]]:
        models = require("statsforecast.models", self.name)
        if self.kind == "AutoETS":
            model = models.AutoETS(season_length=self.seasons[0])
        else:
            model = models.MSTL(season_length=self.seasons, trend_forecaster=models.AutoETS(model="ZZN"))
        percent = [round(100 * lv) for lv in levels]
        out = model.forecast(y=y, h=horizon, level=percent)
        return out["mean"], {lv: (out[f"lo-{p}"], out[f"hi-{p}"]) for lv, p in zip(levels, percent, strict=True)}


class StatsmodelsETS(_OneAtATime):
    """statsmodels' ``ETSModel``: additive error and season, no trend; analytic prediction intervals."""

    def __init__(self, season_length: int = 24) -> None:
        super().__init__()
        self.season_length = season_length
        self.name = "statsmodels_ets"

    def min_points(self, step_s: float) -> int:
        return 2 * self.season_length + 1

    def _forecast_one(
        self, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> tuple[Array, dict[float, tuple[Array, Array]]]:
        ets = require("statsmodels.tsa.exponential_smoothing.ets", self.name)
        pandas = require("pandas", self.name)  # statsmodels' prediction results need an indexed series
        model = ets.ETSModel(
            pandas.Series(y), error="add", trend=None, seasonal="add", seasonal_periods=self.season_length,
            initialization_method="heuristic",
        )  # fmt: skip
        fitted = model.fit(disp=False)
        prediction = fitted.get_prediction(start=len(y), end=len(y) + horizon - 1)
        bands = {}
        for lv in levels:
            frame = prediction.summary_frame(alpha=1 - lv)
            bands[lv] = (np.asarray(frame["pi_lower"]), np.asarray(frame["pi_upper"]))
        return np.asarray(prediction.predicted_mean), bands


class ProphetModel(_OneAtATime):
    """Prophet: weekly seasonality, a daily one each for working days and weekends, Vietnam's holidays (Tet too)."""

    def __init__(self, utc_offset_s: float = LOCAL_UTC_OFFSET_S, samples: int = 300) -> None:
        super().__init__()
        self.utc_offset_s, self.samples = utc_offset_s, samples
        self.name = "prophet"

    def min_points(self, step_s: float) -> int:
        return max(3, round(2 * 86_400 / step_s))  # two days: less, and its trend runs away

    def _forecast_one(
        self, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> tuple[Array, dict[float, tuple[Array, Array]]]:
        for chatty in ("prophet.plot", "cmdstanpy"):  # plotly hints and sampler progress, per series
            logging.getLogger(chatty).disabled = True
        prophet = require("prophet", self.name)
        pandas = require("pandas", self.name)
        local = timezone(timedelta(seconds=self.utc_offset_s))
        future_times = times[-1] + step_s * np.arange(1, horizon + 1)

        def stamps(seconds: Array) -> list[datetime]:
            return [datetime.fromtimestamp(float(s), local).replace(tzinfo=None) for s in seconds]

        # Daily shapes differ between working days and weekends (rush hours): conditional daily
        # seasonalities, Prophet's documented way; one additive daily curve fits neither.
        model: Any = prophet.Prophet(daily_seasonality=False, weekly_seasonality=True, yearly_seasonality=False,
                                     uncertainty_samples=self.samples)  # fmt: skip
        for condition in ("working_day", "weekend"):
            model.add_seasonality(name=f"daily_{condition}", period=1, fourier_order=10, condition_name=condition)
        model.add_country_holidays(country_name="VN")

        def frame(seconds: Array, values: Array | None = None) -> Any:
            when = stamps(seconds)
            weekend = np.array([moment.weekday() >= 5 for moment in when])
            columns: dict[str, Any] = {"ds": when, "working_day": ~weekend, "weekend": weekend}
            if values is not None:
                columns["y"] = values
            return pandas.DataFrame(columns)

        model.fit(frame(times, y))
        future = frame(future_times)
        mean = np.asarray(model.predict(future)["yhat"])
        draws = np.asarray(model.predictive_samples(future)["yhat"])  # (horizon, samples)
        bands = {
            lv: (np.quantile(draws, (1 - lv) / 2, axis=1), np.quantile(draws, (1 + lv) / 2, axis=1)) for lv in levels
        }
        return mean, bands
