"""The data every model reads and writes: a batch of regular series, and a forecast of them.

A ``Series`` is ``(n_series, n_time)`` floats on one regular time axis with NaN for missing
values - what ``storage.series.read_buckets`` returns for many sensors at once. A
``Forecast`` holds the mean path and the prediction bands for each requested level, on the
axis that continues the history; a ``PathForecast`` also carries the plausible futures it was
drawn from, so threshold probabilities come with the forecast that produced them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]  # the one float-array alias of the project (alerts use it too)
Floats = npt.NDArray[np.floating[Any]]  # single or double precision (batched regressions read float32)
Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


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

    def rows(self, rows: Ints | slice) -> Series:
        """The same time axis for some of the series."""
        return Series(self.start, self.step_s, self.values[rows])

    def last(self, n_steps: int) -> Series:
        """The newest ``n_steps`` columns (all of them when shorter): what an ``update`` needs."""
        keep = min(max(n_steps, 0), self.n_time)
        return Series(self.end - keep * self.step_s, self.step_s, self.values[:, self.n_time - keep :])


def steps(seconds: float, step_s: float) -> int:
    """Whole steps in ``seconds`` (at least one): how a time-unit setting reads on a given grid."""
    return max(1, round(seconds / step_s))


def horizon_steps(horizon: int | timedelta, step_s: float) -> int:
    """A horizon given in steps or as a duration (rounded up to whole steps)."""
    if isinstance(horizon, timedelta):
        return max(1, math.ceil(horizon.total_seconds() / step_s - 1e-9))
    if horizon < 1:
        raise ValueError(f"a forecast needs at least one step, got {horizon}")
    return int(horizon)


def row_means(values: Array) -> Array:
    """Mean of each row's finite values (NaN for a row without any), without NumPy's empty-slice warning."""
    finite = np.isfinite(values)
    count = finite.sum(axis=-1)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan), dtype=np.float64)


def row_variances(values: Array) -> Array:
    """Variance of each row's finite values along the last axis (NaN without any)."""
    centred = values - row_means(values)[..., None]
    return row_means(centred**2)


def forward_fill(values: Array) -> Array:
    """Each NaN replaced by the last finite value before it in its row (leading NaN stay NaN)."""
    n = values.shape[1]
    seen = np.where(np.isfinite(values), np.arange(n), 0)
    np.maximum.accumulate(seen, axis=1, out=seen)
    filled = np.take_along_axis(values, seen, axis=1)
    return np.where(np.isfinite(values).cumsum(axis=1) > 0, filled, np.nan)


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
    fallback: Mask | None = None

    @property
    def horizon(self) -> int:
        return int(self.mean.shape[1])

    @property
    def levels(self) -> tuple[float, ...]:
        return tuple(sorted(self.lower))

    def times(self) -> Array:
        return self.start + self.step_s * np.arange(self.horizon, dtype=np.float64)


@dataclass(frozen=True)
class PathForecast(Forecast):
    """A forecast with the plausible futures it was read from: ``paths`` (n_series, n_paths, n_knots)
    at the 0-based steps ``knots`` (NaN pads series with fewer paths)."""

    knots: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    paths: Array = field(default_factory=lambda: np.zeros((0, 0, 0)))

    def exceedance(self, thresholds: Array) -> Array:
        """``P(value > thresholds[i] at or before step h)``: (n_series, horizon), the share of paths
        that have crossed by then (NaN where a series has no path)."""
        paths = self.paths
        valid = np.asarray(np.isfinite(paths).all(axis=2))
        crossed = np.maximum.accumulate(paths > np.asarray(thresholds, dtype=np.float64)[:, None, None], axis=2)
        counts = valid.sum(axis=1)
        share = np.where(valid[:, :, None], crossed, False).sum(axis=1) / np.maximum(counts, 1)[:, None]
        share = np.where(counts[:, None] > 0, share, np.nan)
        last = np.searchsorted(self.knots, np.arange(self.horizon), side="right") - 1  # the last knot at or before
        probability: Array = np.where(last[None, :] >= 0, share[:, np.maximum(last, 0)], 0.0)
        return probability
