"""Rain as an input to water levels: which gauges feed a sensor, and what their rain looks like.

Each water sensor reads its ``k`` nearest rain gauges (``RainLink``). Two kinds of features come
out of them, all at a forecast origin and all from data before it:

* the *catchment* rain of the last hours - the gauges' inverse-distance weighted mean, over the
  gauges that reported (a gauge that sent nothing is left out, not counted as dry) - in blocks of
  the last 3 hours and as hinges of its latest rate (drains take so much, then the street ponds);
* each gauge's own rain over a multi-day *memory* (``memory_s``, a week by default) in blocks that
  widen with age (``forecasting.lags``): the regression learns how long rain on that gauge's
  part of the catchment keeps raising the water (soil, upstream storage, a river's flood wave).

"Missing" stays distinct from "dry": every block carries the share of its readings that were
missing, so a month without a rain record is not read as a drought.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.lags import HOUR_S, Cumulative, block_edges
from forecasting.series import Array, Ints, Series

SHORT_EDGES_S = (0.0, 900.0, 1800.0, HOUR_S, 2 * HOUR_S, 3 * HOUR_S)  # the last 3 hours of catchment rain
HINGES_MM_H = (10.0, 25.0, 50.0)  # rain-rate knees of the piecewise-linear rain response
MEMORY_S = 7 * 86_400.0  # how far back each gauge's rain is read


@dataclass(frozen=True)
class RainLink:
    """Which rain series feed each water series, and with what weights (each row sums to 1)."""

    gauges: Ints  # (n_water, k) rows of the rain batch
    weights: Array  # (n_water, k)


def nearest_gauges(water_xy: Array, rain_xy: Array, k: int = 2, min_km: float = 0.3) -> RainLink:
    """The ``k`` nearest rain gauges of every water sensor, inverse-distance-squared weighted (km grids)."""
    distance = np.hypot(*(water_xy[:, None, :] - rain_xy[None, :, :]).transpose(2, 0, 1))
    k = min(k, rain_xy.shape[0])
    gauges = np.argsort(distance, axis=1)[:, :k]
    weights = 1.0 / np.maximum(np.take_along_axis(distance, gauges, axis=1), min_km) ** 2
    return RainLink(gauges.astype(np.int64), weights / weights.sum(axis=1, keepdims=True))


def every_gauge(n_water: int, n_rain: int) -> RainLink:
    """Every water series reads every gauge, equally weighted (a basin without coordinates)."""
    return RainLink(np.tile(np.arange(n_rain), (n_water, 1)), np.full((n_water, n_rain), 1.0 / n_rain))


def catchment_rain(rain: Array, link: RainLink) -> tuple[Array, Array]:
    """(n_water, n_time) weighted rain over the gauges that reported, and the weight share missing (0..1).

    Where every linked gauge is missing the rain is 0 and the missing share 1.
    """
    block = rain[link.gauges]  # (n, k, T)
    present = np.isfinite(block)
    weight = np.where(present, link.weights[:, :, None], 0.0)
    total = weight.sum(axis=1)
    rainfall = np.einsum("wkt,wkt->wt", np.where(present, block, 0.0), weight) / np.maximum(total, 1e-12)
    return np.where(total > 0, rainfall, 0.0), 1.0 - np.minimum(total, 1.0)


@dataclass(frozen=True)
class RainHistory:
    """A water batch's rain on its history's columns: catchment (n, T), its missing share (n, T),
    and each linked gauge's own rain (n, k, T; NaN where missing)."""

    catchment: Array
    missing: Array
    gauges: Array

    @classmethod
    def none(cls, n: int, n_time: int) -> RainHistory:
        return cls(np.zeros((n, n_time)), np.zeros((n, n_time)), np.zeros((n, 0, n_time)))

    @classmethod
    def during(cls, rain: Series, link: RainLink, water: Series) -> RainHistory:
        """The rain on ``water``'s columns (rain outside the rain batch counts as missing)."""
        if not np.isclose(rain.step_s, water.step_s):
            raise ValueError(f"rain step {rain.step_s} s differs from the water step {water.step_s} s")
        offset = int(round((water.start - rain.start) / water.step_s))
        columns = offset + np.arange(water.n_time)
        inside = (columns >= 0) & (columns < rain.n_time)
        block = np.full((rain.n_series, water.n_time), np.nan)
        block[:, inside] = rain.values[:, columns[inside]]
        catchment, missing = catchment_rain(block, link)
        return cls(catchment, missing, block[link.gauges])

    def rows(self, rows: Ints | slice) -> RainHistory:
        return RainHistory(self.catchment[rows], self.missing[rows], self.gauges[rows])


@dataclass(frozen=True)
class RainFeatures:
    """The rain features' layout on a grid: short block edges and memory edges, in steps."""

    step_s: float
    short: Ints
    memory: Ints
    n_gauges: int

    @classmethod
    def on(cls, step_s: float, n_gauges: int, memory_s: float = MEMORY_S) -> RainFeatures:
        short = block_edges(SHORT_EDGES_S[-1], step_s, SHORT_EDGES_S)
        memory = block_edges(memory_s, step_s)
        memory = np.concatenate([[0], memory[memory >= short[-1]]]) if memory_s > SHORT_EDGES_S[-1] else memory[:1]
        return cls(step_s, short, memory, n_gauges)

    @property
    def width(self) -> int:
        """Columns ``at`` returns."""
        n_memory = max(len(self.memory) - 2, 0)
        return len(self.short) - 1 + len(HINGES_MM_H) + 1 + self.n_gauges * (n_memory + 1)

    def recent(self, rain: RainHistory, origins: Ints) -> Array:
        """Catchment rain (mm) in the last ``short[-1]`` steps before each origin: (n, J)."""
        sums, _ = Cumulative(rain.catchment).blocks(origins, self.short[[0, -1]])
        return sums[..., 0]

    def at(self, rain: RainHistory, origins: Ints) -> tuple[Array, Array]:
        """Features (n, J, width) and the last hour's catchment rain (n, J).

        Columns: catchment rain per short block (mm), hinges of the newest block's rate (mm/h),
        the catchment's missing share over the short window, then per gauge its mean rain per
        step in each memory block beyond the short window and its missing share over the memory.
        """
        short, _ = Cumulative(rain.catchment).blocks(origins, self.short)
        rate = short[..., 0] * 3600.0 / (self.short[1] * self.step_s)  # mm/h over the first block
        hinges = np.maximum(rate[..., None] - np.array(HINGES_MM_H), 0.0)
        missing = Cumulative(rain.missing).means(origins, self.short[[0, -1]], empty=1.0)
        parts = [short, hinges, missing]
        memory = self.memory[1:]  # edges from the short window's end back through the memory
        if self.n_gauges and len(memory) > 1:
            window = np.array([memory[0], memory[-1]])
            for g in range(self.n_gauges):  # a handful of gauges per sensor; every sensor at once
                gauge = Cumulative(rain.gauges[:, g])
                parts.append(gauge.means(origins, memory))
                _, seen = gauge.blocks(origins, window)
                parts.append(1.0 - seen / float(window[1] - window[0]))
        elif self.n_gauges:
            parts += [np.zeros((*short.shape[:2], 1))] * self.n_gauges
        hour = int(np.searchsorted(self.short, round(HOUR_S / self.step_s)))
        return np.concatenate(parts, axis=2), short[..., : max(hour, 1)].sum(axis=2)
