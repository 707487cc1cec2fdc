"""A cheap plug-in driver for the edge footprint benchmark (loaded as ``edge_drivers:Sine``)."""

from __future__ import annotations

import math


class Sine:
    def __init__(self, period_s: float = 600.0) -> None:
        self.period_s = period_s

    def read(self, now: float) -> float:
        return round(1.0 + 0.5 * math.sin(2 * math.pi * now / self.period_s), 4)
