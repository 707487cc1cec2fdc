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
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from functools import partial
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from forecasting.calendar import LOCAL_UTC_OFFSET_S
from forecasting.model import DEFAULT_LEVELS, check_batch, fitted
from forecasting.series import Array, Forecast, Series, forward_fill, horizon_steps

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
    """The shared shell: prepare each series, fit the library once per series, forecast from any
    origin with the fitted parameters, and fall back per series.

    ``fit`` learns each series' parameters (``_fit_one``); ``update`` keeps the newest history (at
    most as long as the fitted one); ``predict`` runs the library's forecast from that window with
    the fitted parameters (``_forecast_one``): the library's own filter, never a refit.
    """

    name = "per_series"

    def min_points(self, step_s: float) -> int:
        """The shortest series the model is asked to forecast; shorter ones get the fallback."""
        return 2

    def __init__(self) -> None:
        self._fitted: list[Any] | None = None
        self._span = 0
        self._window: Series | None = None

    def fit(self, history: Series) -> _OneAtATime:
        fits: list[Any] = []
        for y, times in _prepared(history):  # these libraries fit one series at a time
            fits.append(self._guarded(partial(self._fit_one, times, y, history.step_s), len(y), "fit")
                        if y is not None and np.ptp(y) > 0 and len(y) >= self.min_points(history.step_s)
                        else None)  # fmt: skip
        self._fitted, self._span = fits, history.n_time
        return self.update(history)

    def update(self, history: Series) -> _OneAtATime:
        check_batch(len(fitted(self._fitted, self.name)), history, self.name)
        self._window = history.last(self._span)
        return self

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        fits, window = fitted(self._fitted, self.name), fitted(self._window, self.name)
        n_steps = horizon_steps(horizon, window.step_s)
        n = window.n_series
        mean = np.full((n, n_steps), np.nan)
        lower = {lv: np.full((n, n_steps), np.nan) for lv in levels}
        upper = {lv: np.full((n, n_steps), np.nan) for lv in levels}
        fallback = np.zeros(n, dtype=np.bool_)
        for i, (y, times) in enumerate(_prepared(window)):
            if y is None:
                fallback[i] = True
                continue
            result = None
            if np.ptp(y) == 0:  # a constant is its own forecast
                result = _flat(y[-1], n_steps, levels)
            elif fits[i] is not None and len(y) >= self.min_points(window.step_s):
                work = partial(self._forecast_checked, fits[i], times, y, window.step_s, n_steps, levels)
                result = self._guarded(work, len(y), "forecast")
            if result is None:
                fallback[i] = True
                result = _flat(y[-1], n_steps, levels)
            mean[i] = result[0]
            for lv in levels:
                lower[lv][i], upper[lv][i] = result[1][lv]
        return Forecast(self.name, window.end, window.step_s, mean, lower, upper, fallback)

    def _guarded(self, work: Callable[[], _T], points: int, what: str) -> _T | None:
        """``work()``, or None (the fallback) when the library fails on this series or returns non-numbers."""
        try:
            return work()
        except (ValueError, ArithmeticError, np.linalg.LinAlgError, RuntimeError) as error:
            log.warning("%s failed to %s a series of %d points (%s); it gets the last value", self.name, what,
                        points, error)  # fmt: skip
            return None

    def _forecast_checked(
        self, fit: Any, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> Result:
        result = self._forecast_one(fit, times, y, step_s, horizon, levels)
        finite = np.isfinite(result[0]).all() and all(np.isfinite(b).all() for p in result[1].values() for b in p)
        if not finite:
            raise ValueError("the library returned non-numbers")
        return result

    def _fit_one(self, times: Array, y: Array, step_s: float) -> Any:
        """The library's fitted model (or parameters) for one gap-free series."""
        raise NotImplementedError

    def _forecast_one(
        self, fit: Any, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> tuple[Array, dict[float, tuple[Array, Array]]]:
        """Mean and (lower, upper) per level from the newest values ``y`` with the fitted ``fit``."""
        raise NotImplementedError


_T = TypeVar("_T")
Result = tuple[Array, dict[float, tuple[Array, Array]]]


def _prepared(history: Series) -> list[tuple[Array | None, Array]]:
    """Each series with leading gaps dropped and inner gaps carried forward (None: no value at all)."""
    filled = forward_fill(history.values)
    times = history.times()
    out: list[tuple[Array | None, Array]] = []
    for row in filled:
        seen = np.isfinite(row)
        first = int(np.argmax(seen))
        out.append((row[first:], times[first:]) if seen.any() else (None, times))
    return out


def _flat(value: float, horizon: int, levels: Sequence[float]) -> Result:
    """``value`` at every step, with zero-width bands (a constant series, or the last-value fallback)."""
    line = np.full(horizon, value)
    return line, {lv: (line, line) for lv in levels}


class StatsForecastModel(_OneAtATime):
    """statsforecast's ``AutoETS`` (one season) or ``MSTL`` (several, e.g. day and week) on one series
    at a time; a new origin is forecast with the library's ``forward`` (fitted parameters, new data)."""

    def __init__(self, kind: str = "AutoETS", season_length: int | Sequence[int] = 24) -> None:
        super().__init__()
        if kind not in ("AutoETS", "MSTL"):
            raise ValueError(f"statsforecast model {kind!r}: choose AutoETS or MSTL")
        self.kind = kind
        self.seasons = [season_length] if isinstance(season_length, int) else list(season_length)
        self.name = f"statsforecast_{kind.lower()}"

    def min_points(self, step_s: float) -> int:
        return 2 * max(self.seasons) + 1

    def _fit_one(self, times: Array, y: Array, step_s: float) -> Any:
        models = require("statsforecast.models", self.name)
        if self.kind == "AutoETS":
            model = models.AutoETS(season_length=self.seasons[0])
        else:
            model = models.MSTL(season_length=self.seasons, trend_forecaster=models.AutoETS(model="ZZN"))
        return model.fit(y=y)

    def _forecast_one(
        self, fit: Any, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> Result:
        percent = [round(100 * lv) for lv in levels]
        out = fit.forward(y=y, h=horizon, level=percent)
        return out["mean"], {lv: (out[f"lo-{p}"], out[f"hi-{p}"]) for lv, p in zip(levels, percent, strict=True)}


class StatsmodelsETS(_OneAtATime):
    """statsmodels' ``ETSModel``: additive error and season, no trend; analytic prediction intervals.
    A new origin: the fitted smoothing parameters run over the new data (``smooth``)."""

    def __init__(self, season_length: int = 24) -> None:
        super().__init__()
        self.season_length = season_length
        self.name = "statsmodels_ets"

    def min_points(self, step_s: float) -> int:
        return 2 * self.season_length + 1

    def _model(self, y: Array) -> Any:
        ets = require("statsmodels.tsa.exponential_smoothing.ets", self.name)
        pandas = require("pandas", self.name)  # statsmodels' prediction results need an indexed series
        return ets.ETSModel(
            pandas.Series(y), error="add", trend=None, seasonal="add", seasonal_periods=self.season_length,
            initialization_method="heuristic",
        )  # fmt: skip

    def _fit_one(self, times: Array, y: Array, step_s: float) -> Any:
        return self._model(y).fit(disp=False).params

    def _forecast_one(
        self, fit: Any, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> Result:
        smoothed = self._model(y).smooth(fit)
        prediction = smoothed.get_prediction(start=len(y), end=len(y) + horizon - 1)
        bands = {}
        for lv in levels:
            frame = prediction.summary_frame(alpha=1 - lv)
            bands[lv] = (np.asarray(frame["pi_lower"]), np.asarray(frame["pi_upper"]))
        return np.asarray(prediction.predicted_mean), bands


class ProphetModel(_OneAtATime):
    """Prophet: weekly seasonality, a daily one each for working days and weekends, Vietnam's holidays
    (Tet too). Prophet's forecast is a function of time alone: a new origin reads no new data."""

    def __init__(self, utc_offset_s: float = LOCAL_UTC_OFFSET_S, samples: int = 300) -> None:
        super().__init__()
        self.utc_offset_s, self.samples = utc_offset_s, samples
        self.name = "prophet"

    def min_points(self, step_s: float) -> int:
        return max(3, round(2 * 86_400 / step_s))  # two days: less, and its trend runs away

    def _frame(self, seconds: Array, values: Array | None = None) -> Any:
        pandas = require("pandas", self.name)
        local = timezone(timedelta(seconds=self.utc_offset_s))
        when = [datetime.fromtimestamp(float(s), local).replace(tzinfo=None) for s in seconds]
        weekend = np.array([moment.weekday() >= 5 for moment in when])
        columns: dict[str, Any] = {"ds": when, "working_day": ~weekend, "weekend": weekend}
        if values is not None:
            columns["y"] = values
        return pandas.DataFrame(columns)

    def _fit_one(self, times: Array, y: Array, step_s: float) -> Any:
        for chatty in ("prophet.plot", "cmdstanpy"):  # plotly hints and sampler progress, per series
            logging.getLogger(chatty).disabled = True
        prophet = require("prophet", self.name)
        # Daily shapes differ between working days and weekends (rush hours): conditional daily
        # seasonalities, Prophet's documented way; one additive daily curve fits neither.
        model: Any = prophet.Prophet(daily_seasonality=False, weekly_seasonality=True, yearly_seasonality=False,
                                     uncertainty_samples=self.samples)  # fmt: skip
        for condition in ("working_day", "weekend"):
            model.add_seasonality(name=f"daily_{condition}", period=1, fourier_order=10, condition_name=condition)
        model.add_country_holidays(country_name="VN")
        return model.fit(self._frame(times, y))

    def _forecast_one(
        self, fit: Any, times: Array, y: Array, step_s: float, horizon: int, levels: Sequence[float]
    ) -> Result:
        future = self._frame(times[-1] + step_s * np.arange(1, horizon + 1))
        mean = np.asarray(fit.predict(future)["yhat"])
        saved = np.random.get_state()  # Prophet samples from NumPy's global generator: same origin, same bands
        np.random.seed(int(times[-1]) % 2**32)
        try:
            draws = np.asarray(fit.predictive_samples(future)["yhat"])  # (horizon, samples)
        finally:
            np.random.set_state(saved)
        bands = {
            lv: (np.quantile(draws, (1 - lv) / 2, axis=1), np.quantile(draws, (1 + lv) / 2, axis=1)) for lv in levels
        }
        return mean, bands
