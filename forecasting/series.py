"""The data every model reads and writes: a batch of regular series, and a forecast of them.

A ``Series`` is ``(n_series, n_time)`` floats on one regular time axis with NaN for missing
values - what ``storage.series.read_buckets`` returns for many sensors at once. A
``Forecast`` holds the mean path and the prediction bands for each requested level, on the
axis that continues the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Series:
    start: float  # Unix s of column 0
    step_s: float
    values: Array  # (n_series, n_time), NaN = missing

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"series values must be (n_series, n_time), got shape {self.values.shape}")
        if self.step_s <= 0:
            raise ValueError("the time step must be positive")

    @property
    def n_series(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_time(self) -> int:
        return int(self.values.shape[1])

    @property
    def end(self) -> float:
        """Unix s one step past the last column: where a forecast starts."""
        return self.start + self.n_time * self.step_s

    def times(self) -> Array:
        return self.start + self.step_s * np.arange(self.n_time, dtype=np.float64)


@dataclass(frozen=True)
class Forecast:
    """``mean`` and each band are (n_series, horizon); ``lower[level]``/``upper[level]`` for level in (0, 1)."""

    model: str
    start: float  # Unix s of the first forecast step
    step_s: float
    mean: Array
    lower: dict[float, Array] = field(default_factory=dict)
    upper: dict[float, Array] = field(default_factory=dict)
    # (n_series,): series the model could not forecast its own way (a simpler rule, or nothing, was used)
    fallback: npt.NDArray[np.bool_] | None = None

    @property
    def horizon(self) -> int:
        return int(self.mean.shape[1])

    @property
    def levels(self) -> tuple[float, ...]:
        return tuple(sorted(self.lower))

    def times(self) -> Array:
        return self.start + self.step_s * np.arange(self.horizon, dtype=np.float64)
