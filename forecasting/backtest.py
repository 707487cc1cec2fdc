"""Rolling-origin backtests: every model forecasts from the same origins, scored on data it never saw.

At each origin the model is fitted on everything before it and asked for ``horizon`` steps; the
forecasts are scored against what followed. All series of the batch are scored together, so a
backtest of 10,000 sensors is a handful of fits per model, not 10,000.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from forecasting import metrics
from forecasting.model import Model
from forecasting.series import Array, Series
from forecasting.water import WaterLevelModel


@dataclass(frozen=True)
class ModelScore:
    """Scores per horizon step (length ``horizon``), averaged over origins and series."""

    model: str
    mae: Array
    rmse: Array
    mape: Array
    coverage: dict[float, Array]
    fit_seconds: float
    abs_error: Array | None = None  # (origins, series, horizon): for paired comparisons between models


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
        score = {s.model: s for s in self.scores}
        error_a, error_b = score[a].abs_error, score[b].abs_error
        if error_a is None or error_b is None:
            raise ValueError("paired comparison needs the backtest's absolute errors")
        per_series = np.nanmean(error_a[:, :, step - 1] - error_b[:, :, step - 1], axis=0)  # (series,)
        per_series = per_series[np.isfinite(per_series)]
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(per_series), (draws, len(per_series)))
        means = per_series[picks].mean(axis=1)
        tail = (1 - level) / 2
        difference = float(per_series.mean())
        base = float(np.nanmean(error_b[:, :, step - 1]))
        return PairedDifference(difference, float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)),
                                difference / base)  # fmt: skip


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
    first = min_history if min_history is not None else series.n_time // 2
    last = series.n_time - horizon
    if last < first:
        raise ValueError(f"a {horizon}-step backtest needs more than {first + horizon} columns of history")
    origins = tuple(int(o) for o in np.unique(np.linspace(first, last, n_origins).astype(np.int64)))
    scores = []
    for make in models:
        actuals: list[Array] = []
        predicted: list[Array] = []
        bands: dict[float, tuple[list[Array], list[Array]]] = {lv: ([], []) for lv in levels}
        seconds, name = 0.0, ""
        for origin in origins:
            history = Series(series.start, series.step_s, series.values[:, :origin])
            began = tick()
            model = make()
            forecast = model.fit(history).predict(horizon, levels)
            seconds += tick() - began
            name = forecast.model
            actuals.append(series.values[:, origin : origin + horizon])
            predicted.append(forecast.mean)
            for lv in levels:
                if lv in forecast.lower:
                    bands[lv][0].append(forecast.lower[lv])
                    bands[lv][1].append(forecast.upper[lv])
        actual, mean = np.stack(actuals), np.stack(predicted)  # (origins, series, horizon)
        cover = {
            lv: metrics.coverage(actual, np.stack(lo), np.stack(hi), axis=(0, 1))
            for lv, (lo, hi) in bands.items()
            if lo
        }
        scores.append(
            ModelScore(
                name,
                metrics.mae(actual, mean, axis=(0, 1)),
                metrics.rmse(actual, mean, axis=(0, 1)),
                metrics.masked_mape(actual, mean, axis=(0, 1)),
                cover,
                seconds,
                np.abs(actual - mean),
            )
        )
    return Backtest(series.step_s, origins, tuple(scores))


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
    model.fit(Series(series.start, series.step_s, series.values[:, : origins[0]]))
    issued = np.empty((series.n_series, len(origins)))
    for j, origin in enumerate(origins):
        model.update(Series(series.start, series.step_s, series.values[:, :origin]))
        model.predict(horizon)
        issued[:, j] = model.exceedance(thresholds)[:, -1]
    return issued
