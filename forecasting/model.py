"""The one interface every forecasting model implements, baselines and comparison models alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from forecasting.series import Array, Forecast, Series


class Model(Protocol):
    """``fit`` on a batch of histories, then ``predict`` any horizon with bands at ``levels``.

    Contract (``tests/forecasting/test_contract.py`` runs it over every model): shapes follow the
    batch; the forecast axis continues the history's; bands nest around the mean; a degenerate
    series (all missing, constant, too short) is flagged in ``Forecast.fallback`` and never
    changes the forecasts of the other series.
    """

    name: str

    def fit(self, history: Series) -> Model: ...

    def predict(self, horizon: int, levels: Sequence[float] = ...) -> Forecast: ...


class Profile(Model, Protocol):
    """A model that is a deterministic rhythm, readable at any time span (for models built on it)."""

    def profile_at(self, start: float, n_steps: int) -> Array: ...

    def cross_fitted_residual(self, history: Series) -> Array:
        """Out-of-sample residuals: each column against the profile fitted without it (or without
        its part of the history); leaves the profile fitted on the whole history."""
        ...
