"""Positions inside one city as kilometres east and north of an origin.

An equirectangular projection: inside a city (tens of km) it is within a fraction of a percent of
the true distances, plenty for "the nearest rain gauge" or a storm's drift. The one conversion the
forecasts, the nowcast and the simulated city share, so they never place a gauge differently.
"""

from __future__ import annotations

import numpy as np

from forecasting.series import Array

KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON_AT_EQUATOR = 111.32


def local_km(lat: Array, lon: Array, origin: tuple[float, float] | None = None) -> Array:
    """(n, 2) km east/north of ``origin`` (lat, lon; default: the points' mean); NaN where unplaced."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    if origin is None:
        if not np.isfinite(lat).any():
            return np.full((len(lat), 2), np.nan)
        origin = (float(np.nanmean(lat)), float(np.nanmean(lon)))
    lat0, lon0 = origin
    km_per_deg_lon = KM_PER_DEG_LON_AT_EQUATOR * np.cos(np.radians(lat0))
    return np.column_stack([(lon - lon0) * km_per_deg_lon, (lat - lat0) * KM_PER_DEG_LAT])
