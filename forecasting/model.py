"""The one interface every forecasting model implements, baselines and comparison models alike.

One lifecycle (STYLE rule 14): ``fit(history)`` learns the parameters; ``update(history)``
moves the forecast origin to ``history.end`` without learning anything; ``predict(horizon)``
depends only on what ``fit`` learned and on the data ``update`` (or ``fit``) last saw - never on
call order, never on what an earlier ``predict`` computed. A service fits hourly or daily and
updates every few minutes; a backtest fits once and forecasts from many origins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import numpy as np

from forecasting.series import Array, Floats, Forecast, Series

DEFAULT_LEVELS = (0.8, 0.95)
DEFAULT_HORIZON_S = 86_400.0  # the longest forecast a fit prepares for, unless a model is told otherwise

T = TypeVar("T")


class Model(Protocol):
    """``fit`` a batch of histories, ``update`` to newer data, ``predict`` up to the fitted horizon.

    Contract (``tests/forecasting/test_contract.py`` runs it over every model): shapes follow the
    batch; the forecast axis continues the latest history's; bands nest around the mean; a
    degenerate series (all missing, constant, too short) is flagged in ``Forecast.fallback`` and
    never changes the forecasts of the other series; ``update`` reads at most as much of the
    newest history as ``fit`` saw, so an update with a longer window changes nothing.
    """

    name: str

    def fit(self, history: Series) -> Model: ...

    def update(self, history: Series) -> Model: ...

    def predict(self, horizon: int | timedelta, levels: Sequence[float] = ...) -> Forecast: ...


class Profile(Model, Protocol):
    """A model that is a deterministic rhythm, readable at any time span (for models built on it)."""

    def profile_at(self, start: float, n_steps: int) -> Array: ...

    def unseen_at(self, start: float, n_steps: int) -> Array:
        """1.0 where the rhythm at those times was never seen in the history (filled by a simpler rule)."""
        ...

    def cross_fitted_residual(self, history: Series, dtype: type[np.floating[Any]] = np.float64) -> Floats:
        """Out-of-sample residuals in ``dtype``: each column against the profile fitted without it
        (or without its part of the history); fits the profile on the whole history on the way."""
        ...


def fitted(state: T | None, name: str) -> T:
    """What ``fit`` learned; using a model before fitting it is a programming error."""
    if state is None:
        raise RuntimeError(f"{name}: call fit(history) first")
    return state


def check_batch(expected: int, history: Series, name: str) -> None:
    """An update must bring the series the model was fitted on, in the same order."""
    if history.n_series != expected:
        raise ValueError(f"{name}: fitted on {expected} series, updated with {history.n_series}")
