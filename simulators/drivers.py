"""A simulated sensor for the edge agent: ``driver = "simulated"`` in an edge config.

Reads the virtual city (``simulators.city``) at the agent's own clock: the site's water depth,
rain or traffic as the city simulator has them at that moment, so a device running the real
agent code path sees the same tide, storms and rush hours as a simulated fleet.
"""

from __future__ import annotations

import numpy as np

from forecasting.calendar import LOCAL_UTC_OFFSET_S
from simulators import city
from simulators.sites import bundled_sites

DAY_S = 86_400.0
STEP_S = 60.0


class Simulated:
    def __init__(self, kind: str, site: str | None = None, seed: int = 0) -> None:
        sites = bundled_sites()
        candidates = [s for s in sites if (site is None or s.site_id == site) and kind in s.sensor_kinds]
        if not candidates:
            where = f"site {site!r}" if site else "any site"
            raise ValueError(
                f"simulated kind {kind!r} is not measured at {where}; sites are in simulators/data/sites.csv"
            )
        self.kind = kind
        self.site = candidates[0]
        self.seed = seed
        self._day: float | None = None
        self._values = np.zeros(0)

    def read(self, now: float) -> float:
        day = (now + LOCAL_UTC_OFFSET_S) // DAY_S * DAY_S - LOCAL_UTC_OFFSET_S
        if day != self._day:  # one simulated day of this site at a time
            sim = city.simulate(city.CityConfig((self.site,), day, DAY_S, STEP_S, self.seed))
            self._values = sim.truth[[s.kind for s in sim.sensors].index(self.kind)]
            self._day = day
        return float(self._values[min(int((now - day) // STEP_S), len(self._values) - 1)])
