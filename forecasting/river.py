"""The river each street drains into: its level in the past and for the hours ahead.

A street's drains empty into a canal or the river; when that water stands high they carry less,
and above the street they run backwards. The nearest river or canal gauge stands in for the
outfall: its readings for the past (gaps filled with its astronomical tide), and for the future
its astronomical tide (``forecasting.tide``) plus today's departure from it (wind set-up, river
discharge), fading over ``SURGE_MEMORY_S``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from forecasting import tide
from forecasting.series import Array, Series, forward_fill

SURGE_MEMORY_S = 6 * 3600.0  # the departure from the astronomical tide fades with this e-folding time
# Under a month of record cannot separate N2 from M2; a king tide is a perigean spring tide, so N2
# (about a fifth of M2, the equilibrium ratio) is inferred rather than left out, and Q1 from O1 likewise.
INFERENCE = (*tide.EQUILIBRIUM_INFERENCE, tide.Inference("N2", "M2", 0.194), tide.Inference("Q1", "O1", 0.194))
NO_RIVER_M = -1e3  # the level used where a street has no gauge: its drains are never blocked


class RiverAtStreets:
    """Levels (m, the gauges' datum) at each street's nearest river gauge: ``observed()`` over the
    history, ``ahead(horizon)`` after it. ``fit`` analyses the gauges' tides; ``update`` moves the origin."""

    def __init__(self, streets_km: Array, gauges_km: Array) -> None:
        self.gauge: npt.NDArray[np.int64] = np.full(len(streets_km), -1, dtype=np.int64)
        placed = np.flatnonzero(np.isfinite(gauges_km).all(axis=1))
        if len(placed):
            d2 = ((streets_km[:, None, :] - gauges_km[None, placed, :]) ** 2).sum(axis=2)
            self.gauge = np.where(np.isfinite(d2).any(axis=1), placed[np.argmin(np.nan_to_num(d2, nan=np.inf), axis=1)],
                                  -1).astype(np.int64)  # fmt: skip
        self._constants: tide.TidalConstants | None = None
        self._levels: Series | None = None

    def fit(self, levels: Series) -> RiverAtStreets:
        """Harmonic analysis of the gauges' ``levels`` (n_gauges, n_time), then ``update``."""
        if levels.n_series:
            self._constants = tide.analyse(levels, inference=INFERENCE, rayleigh=0.8)
        return self.update(levels)

    def update(self, levels: Series) -> RiverAtStreets:
        self._levels = levels
        return self

    def observed(self, last: int | None = None) -> Array:
        """(n_streets, n_time) the gauge's readings on the history's axis (or its ``last`` steps), gaps
        filled from its tide."""
        levels = self._history()
        keep = slice(None) if last is None else slice(max(levels.n_time - last, 0), None)
        values = levels.values[:, keep]
        astronomical = self._astronomical(levels.times()[keep])
        filled = np.where(np.isfinite(values), values, astronomical)
        return self._at_streets(forward_fill(filled))

    def ahead(self, horizon: int) -> Array:
        """(n_streets, horizon) levels for the steps after the history: tide plus the fading departure."""
        levels = self._history()
        times = levels.end + levels.step_s * np.arange(horizon, dtype=np.float64)
        recent = levels.values[:, -12:]
        astronomical_then = self._astronomical(levels.times()[-12:])
        off = recent - astronomical_then
        known = np.isfinite(off)
        departure = np.where(known, off, 0.0).sum(axis=1) / np.maximum(known.sum(axis=1), 1)
        fade = np.exp(-(times - levels.end + levels.step_s) / SURGE_MEMORY_S)
        return self._at_streets(self._astronomical(times) + departure[:, None] * fade[None, :])

    def _history(self) -> Series:
        if self._levels is None:
            raise RuntimeError("call fit(levels) first")
        return self._levels

    def _astronomical(self, times: Array) -> Array:
        levels = self._history()
        if self._constants is None:
            return np.zeros((levels.n_series, len(times)))
        return self._constants.predict(times)

    def _at_streets(self, per_gauge: Array) -> Array:
        if not per_gauge.shape[0]:
            return np.full((len(self.gauge), per_gauge.shape[1]), NO_RIVER_M)
        rows: Array = np.where(self.gauge[:, None] >= 0, per_gauge[np.maximum(self.gauge, 0)], NO_RIVER_M)
        return rows
