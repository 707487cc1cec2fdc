"""Rolling-origin backtests: every model forecasts from the same origins, scored on data it never saw.

Two protocols. ``rolling_origin`` refits at every origin on everything before it. ``fit_once``
is the standard operational one: each model is fitted once on the history before the evaluation
window, then moved from origin to origin with ``update`` (no refit) and asked for ``horizon``
steps each time - what a forecast service does between its refits. All series of the batch are
scored together, so a backtest of 10,000 sensors is a handful of fits per model, not 10,000.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from forecasting import metrics
from forecasting.model import Model
from forecasting.series import Array, Forecast, Series
from forecasting.water import WaterLevelModel


@dataclass(frozen=True)
class ModelScore:
    """Scores per horizon step (length ``horizon``), averaged over origins and series."""

    model: str
    mae: Array
    rmse: Array
    mape: Array
    coverage: dict[float, Array]
    fit_seconds: float  # rolling_origin: fit + predict at every origin; fit_once: the one fit
    abs_error: Array | None = None  # (origins, series, horizon): for paired comparisons between models
    forecast_seconds: float = 0.0  # fit_once: all the update + predict calls


@dataclass(frozen=True)
class PairedDifference:
    """MAE of model a minus model b at one horizon step on the same forecasts, with a bootstrap interval."""

    difference: float
    low: float
    high: float
    relative: float  # difference / MAE of b


@dataclass(frozen=True)
class Backtest:
    step_s: float
    origins: tuple[int, ...]  # column indices of the history where forecasts started
    scores: tuple[ModelScore, ...]

    def table(self, steps: Sequence[int], levels: Sequence[float] = (0.8, 0.95)) -> str:
        """A text table: MAE per model at the given horizon steps (1-based), then coverage and time."""
        head = [f"MAE@{_duration(k * self.step_s)}" for k in steps] + [f"cov{int(lv * 100)}" for lv in levels]
        lines = [f"{'model':<22}" + "".join(f"{h:>11}" for h in head) + f"{'fit+predict':>13}"]
        for s in self.scores:
            cells = [f"{s.mae[k - 1]:>11.3f}" for k in steps]
            cells += [f"{np.nanmean(s.coverage[lv]):>11.1%}" if lv in s.coverage else f"{'-':>11}" for lv in levels]
            lines.append(f"{s.model:<22}" + "".join(cells) + f"{s.fit_seconds:>12.2f}s")
        return "\n".join(lines)

    def paired(
        self, a: str, b: str, step: int, level: float = 0.95, draws: int = 2000, seed: int = 0
    ) -> PairedDifference:
        """MAE(a) - MAE(b) at ``step`` (1-based) and its ``level`` bootstrap interval, resampling whole
        series (a series' errors at successive origins are not independent): "a matches b" is a
        claim this interval can support or refute, a difference in the third digit cannot."""
        return self._paired(a, b, step, 0, 1, level, draws, seed)

    def paired_blocks(
        self, a: str, b: str, step: int, block: int, level: float = 0.95, draws: int = 2000, seed: int = 0
    ) -> PairedDifference:
        """Like ``paired``, resampling blocks of ``block`` consecutive origins instead of series (a
        moving-block bootstrap): for one gauge forecast from many origins, errors of neighbouring
        origins are correlated and the series are too few to resample."""
        return self._paired(a, b, step, 1, block, level, draws, seed)

    def _paired(
        self, a: str, b: str, step: int, over: int, block: int, level: float, draws: int, seed: int
    ) -> PairedDifference:
        """The paired difference averaged ``over`` axis 0 (origins) or 1 (series) of the errors,
        bootstrapped over the other axis in runs of ``block``."""
        score = {s.model: s for s in self.scores}
        error_a, error_b = score[a].abs_error, score[b].abs_error
        if error_a is None or error_b is None:
            raise ValueError("paired comparison needs the backtest's absolute errors")
        units = np.nanmean(error_a[:, :, step - 1] - error_b[:, :, step - 1], axis=over)
        units = units[np.isfinite(units)]
        n = len(units)
        block = max(1, min(block, n))
        rng = np.random.default_rng(seed)
        starts = rng.integers(0, n - block + 1, (draws, -(-n // block)))
        picks = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(draws, -1)[:, :n]
        means = units[picks].mean(axis=1)
        tail = (1 - level) / 2
        difference = float(units.mean())
        base = float(np.nanmean(error_b[:, :, step - 1]))
        low, high = float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
        return PairedDifference(difference, low, high, difference / base)


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}min"


def rolling_origin(
    series: Series,
    models: Sequence[Callable[[], Model]],
    horizon: int,
    n_origins: int = 5,
    min_history: int | None = None,
    levels: Sequence[float] = (0.8, 0.95),
    clock: Callable[[], float] | None = None,
) -> Backtest:
    """Backtest each model (a factory, fresh per origin) at ``n_origins`` origins spread over the end."""
    tick = clock or time.perf_counter
    origins = spread_origins(series, horizon, n_origins, min_history)
    scores = []
    for make in models:
        forecasts, seconds = [], 0.0
        for origin in origins:
            began = tick()
            forecasts.append(make().fit(_before(series, origin)).predict(horizon, levels))
            seconds += tick() - began
        scores.append(_score(series, origins, forecasts, levels, seconds))
    return Backtest(series.step_s, origins, tuple(scores))


def fit_once(
    series: Series,
    models: Sequence[Callable[[], Model]],
    horizon: int,
    origins: Sequence[int],
    fit_end: int,
    levels: Sequence[float] = (0.8, 0.95),
    clock: Callable[[], float] | None = None,
) -> Backtest:
    """Fit each model once on the columns before ``fit_end``, then ``update`` it to each origin
    (a column index, ``>= fit_end``) and forecast ``horizon`` steps: fit once, forecast many."""
    tick = clock or time.perf_counter
    if not origins or min(origins) < fit_end or max(origins) + horizon > series.n_time:
        raise ValueError("origins must lie after the fit and leave a whole horizon of data after them")
    scores = []
    for make in models:
        began = tick()
        model = make().fit(_before(series, fit_end))
        fitted_in = tick() - began
        forecasts, began = [], tick()
        for origin in origins:
            forecasts.append(model.update(_before(series, origin)).predict(horizon, levels))
        scores.append(_score(series, tuple(origins), forecasts, levels, fitted_in, tick() - began))
    return Backtest(series.step_s, tuple(int(o) for o in origins), tuple(scores))


def spread_origins(series: Series, horizon: int, n_origins: int, min_history: int | None = None) -> tuple[int, ...]:
    """``n_origins`` columns spread from ``min_history`` (default: half the data) to the last whole horizon."""
    first = min_history if min_history is not None else series.n_time // 2
    last = series.n_time - horizon
    if last < first:
        raise ValueError(f"a {horizon}-step backtest needs more than {first + horizon} columns of history")
    return tuple(int(o) for o in np.unique(np.linspace(first, last, n_origins).astype(np.int64)))


def _before(series: Series, column: int) -> Series:
    return Series(series.start, series.step_s, series.values[:, :column])


def _score(
    series: Series,
    origins: tuple[int, ...],
    forecasts: list[Forecast],
    levels: Sequence[float],
    seconds: float,
    forecast_seconds: float = 0.0,
) -> ModelScore:
    horizon = forecasts[0].horizon
    actual = np.stack([series.values[:, o : o + horizon] for o in origins])  # (origins, series, horizon)
    mean = np.stack([f.mean for f in forecasts])
    cover = {
        lv: metrics.coverage(actual, np.stack([f.lower[lv] for f in forecasts]),
                             np.stack([f.upper[lv] for f in forecasts]), axis=(0, 1))
        for lv in levels
        if all(lv in f.lower for f in forecasts)
    }  # fmt: skip
    return ModelScore(
        forecasts[0].model,
        metrics.mae(actual, mean, axis=(0, 1)),
        metrics.rmse(actual, mean, axis=(0, 1)),
        metrics.masked_mape(actual, mean, axis=(0, 1)),
        cover,
        seconds,
        np.abs(actual - mean),
        forecast_seconds,
    )


def warning_probabilities(
    model: WaterLevelModel, series: Series, origins: Sequence[int], horizon: int, thresholds: Array
) -> Array:
    """``P(level > threshold within horizon)`` issued at each origin (n_series, n_origins), as a service would.

    The model is fitted once on the history before the first origin, then updated with the data
    up to each origin (the coefficients are not refitted inside the window; that is what the
    forecast service does between its refits).
    """
    if not origins:
        return np.zeros((series.n_series, 0))
    model.fit(_before(series, origins[0]))
    issued = np.empty((series.n_series, len(origins)))
    for j, origin in enumerate(origins):
        forecast = model.update(_before(series, origin)).predict(horizon)
        issued[:, j] = forecast.exceedance(thresholds)[:, -1]
    return issued
