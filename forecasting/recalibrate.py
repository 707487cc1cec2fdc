"""Bands recalibrated by the model's own recent errors since its fit (adaptive conformal).

Split-conformal bands (``forecasting.bands``) are honest when tomorrow's errors look like the
training period's. A season the training did not contain (a storm surge, a flood season, a
higher mean sea level) breaks that: on real gauges fitted once, the 80 % bands covered 68-73 %.
``Recalibrated`` wraps any model: at every ``update`` it looks at the forecasts the model issued
from origins after its fit, over the last ``window_s`` (one every ``every_s``), scores each by
``|actual - mean| / band half-width`` per level and step, and multiplies today's half-widths by
the conformal quantile of those scores. Too few scores (under ``bands.MIN_ERRORS``, pooled over
the batch first): the band is left as the model drew it.

The past forecasts are a function of the fitted model and the history before their origin, so
they are kept by origin time and computed once; a history that changes before an origin already
scored (late data rewriting the past) is not re-read. Exceedance paths are not rescaled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np

from forecasting.bands import error_quantiles
from forecasting.model import DEFAULT_HORIZON_S, DEFAULT_LEVELS, Model, fitted
from forecasting.series import Array, Forecast, Series, horizon_steps

WINDOW_S = 14 * 86_400.0  # how far back the recent errors are read
EVERY_S = 3 * 3600.0  # one past forecast scored per this much time


@dataclass(frozen=True)
class _Past:
    """A forecast issued from one origin after the fit: its mean and half-widths per level."""

    mean: Array  # (n, H)
    half: dict[float, Array]  # level -> (n, H)


@dataclass(frozen=True)
class _State:
    fitted_end: float
    step_s: float
    horizon: int  # steps every past forecast covers


class Recalibrated:
    """``model`` with bands widened or narrowed to what its errors since the fit call for."""

    def __init__(
        self,
        model: Model,
        window_s: float = WINDOW_S,
        every_s: float = EVERY_S,
        horizon_s: float = DEFAULT_HORIZON_S,
        levels: Sequence[float] = DEFAULT_LEVELS,
        name: str | None = None,
    ) -> None:
        self.model, self.window_s, self.every_s, self.horizon_s = model, window_s, every_s, horizon_s
        self.levels = tuple(levels)
        self.name = name or f"{model.name}_recalibrated"
        self._state: _State | None = None
        self._past: dict[float, _Past] = {}
        self._scale: dict[float, Array] = {}  # level -> (n, H) multiplier of the half-widths now

    def fit(self, history: Series) -> Recalibrated:
        self.model.fit(history)
        self._state = _State(history.end, history.step_s, horizon_steps(timedelta(seconds=self.horizon_s),
                                                                         history.step_s))  # fmt: skip
        self._past = {}
        return self.update(history)

    def update(self, history: Series) -> Recalibrated:
        """Score the forecasts issued from origins in the last ``window_s`` (after the fit) against
        what ``history`` says happened, then move the model's origin to ``history.end``."""
        state = fitted(self._state, self.name)
        first = max(state.fitted_end, history.end - self.window_s - state.horizon * state.step_s)
        origins = [t for t in _grid(first, history.end, self.every_s) if t > history.start]
        self._past = {t: self._past[t] if t in self._past else self._issue(history, t) for t in origins}
        self._scale = self._multipliers(history, origins, state)
        self.model.update(history)
        return self

    def _issue(self, history: Series, origin: float) -> _Past:
        keep = round((origin - history.start) / history.step_s)
        before = Series(history.start, history.step_s, history.values[:, :keep])
        state = fitted(self._state, self.name)
        f = self.model.update(before).predict(state.horizon, self.levels)
        return _Past(f.mean, {lv: (f.upper[lv] - f.lower[lv]) / 2 for lv in self.levels})

    def _multipliers(self, history: Series, origins: list[float], state: _State) -> dict[float, Array]:
        n, h = history.n_series, state.horizon
        if not origins:
            return {lv: np.ones((n, h)) for lv in self.levels}
        actual = np.full((n, len(origins), h), np.nan)
        for j, origin in enumerate(origins):
            at = round((origin - history.start) / history.step_s)
            seen = history.values[:, at : at + h]  # only what has happened by now
            actual[:, j, : seen.shape[1]] = seen
        mean = np.stack([self._past[t].mean for t in origins], axis=1)
        scales = {}
        for level in self.levels:
            half = np.stack([self._past[t].half[level] for t in origins], axis=1)
            score = np.abs(actual - mean) / np.where(half > 0, half, np.nan)
            q = error_quantiles(score, (level,))[level]  # (n, H); pooled over the batch when few
            scales[level] = np.where(np.isfinite(q), q, 1.0)
        return scales

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
        if not set(levels) <= set(self.levels):
            raise ValueError(f"{self.name}: recalibrated for levels {self.levels}, asked for {tuple(levels)}")
        f = self.model.predict(horizon, levels)
        lower, upper = {}, {}
        inner = np.zeros_like(f.mean)
        for level in sorted(levels):  # a wider level's band never inside a narrower one's
            half = np.fmax((f.upper[level] - f.lower[level]) / 2 * self._scale[level][:, : f.horizon], inner)
            lower[level], upper[level], inner = f.mean - half, f.mean + half, half
        return replace(f, model=self.name, lower=lower, upper=upper)


def _grid(first: float, end: float, every_s: float) -> list[float]:
    """Origins on a fixed grid of ``every_s`` (Unix time), from ``first`` up to before ``end``."""
    start = math.ceil(first / every_s) * every_s
    return [start + k * every_s for k in range(max(0, math.ceil((end - start) / every_s)))]
