"""Monsoon rain as moving convective storm cells: intensity at every site, every step.

Ho Chi Minh City has a wet season from May to November (roughly 250-330 mm a month) and a nearly
dry season from December to April. Rain comes mostly from afternoon convective storms: a cell of
a few kilometres grows fast, rains hard (tens of mm/h, sometimes 80-100 mm/h) for one to two hours
and drifts with the wind. Nearby gauges see the same cell, so their records are correlated, and
distant ones are not. Cells are drawn per day (deterministic under the seed) and rendered onto
the sites as a Gaussian footprint times a fast-rise, slow-decay hyetograph.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from forecasting.calendar import LOCAL_UTC_OFFSET_S

# Mean storm cells per day over the city, by month (Jan..Dec): about 280 mm/month in the wet season.
CELLS_PER_DAY = (0.05, 0.03, 0.1, 0.4, 1.6, 2.4, 2.3, 2.4, 2.7, 2.6, 1.5, 0.35)
CITY_EXTENT_KM = 24.0  # cells are born within this half-width of the city origin


@dataclass(frozen=True)
class StormCell:
    peak_time: float  # Unix s of the strongest rain at the cell centre
    duration_s: float
    peak_mm_h: float
    x_km: float  # centre at peak time, km east of the city origin
    y_km: float
    radius_km: float
    vx_km_h: float
    vy_km_h: float


def draw_cells(start: float, end: float, rng: np.random.Generator) -> list[StormCell]:
    """Storm cells whose rain falls in [start, end): afternoon-heavy, lognormal sizes and intensities."""
    cells: list[StormCell] = []
    first_day = int((start + LOCAL_UTC_OFFSET_S) // 86_400)
    last_day = int((end + LOCAL_UTC_OFFSET_S) // 86_400)
    for day in range(first_day, last_day + 1):
        midnight = day * 86_400 - LOCAL_UTC_OFFSET_S
        month = datetime.fromtimestamp(midnight + LOCAL_UTC_OFFSET_S + 43_200, UTC).month
        n = rng.poisson(CELLS_PER_DAY[month - 1] * rng.gamma(2.0, 0.5))  # convective days cluster cells
        afternoon = rng.random(n) < 0.8
        hour = np.where(afternoon, rng.normal(15.5, 1.6, n), rng.uniform(0, 24, n))
        for i in range(n):
            peak = midnight + float(np.clip(hour[i], 0, 23.99)) * 3600
            cells.append(
                StormCell(
                    peak_time=peak,
                    duration_s=float(np.clip(rng.lognormal(np.log(80 * 60), 0.45), 1800, 6 * 3600)),
                    peak_mm_h=float(np.clip(rng.lognormal(np.log(35), 0.6), 2, 160)),
                    x_km=float(rng.uniform(-CITY_EXTENT_KM, CITY_EXTENT_KM)),
                    y_km=float(rng.uniform(-CITY_EXTENT_KM, CITY_EXTENT_KM)),
                    radius_km=float(np.clip(rng.lognormal(np.log(5.5), 0.35), 2, 15)),
                    vx_km_h=float(rng.normal(-12, 6)),  # afternoon cells drift west to south-west
                    vy_km_h=float(rng.normal(-4, 6)),
                )
            )
    return [c for c in cells if c.peak_time + c.duration_s > start and c.peak_time - c.duration_s < end]


def intensity(
    cells: list[StormCell], times: npt.NDArray[np.float64], xy_km: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Rain rate (mm/h) at each site (rows, from (n_sites, 2) km positions) and time (columns)."""
    rate = np.zeros((len(xy_km), len(times)))
    for cell in cells:  # a few cells a day; each is vectorised over sites x its own time span
        lo, hi = np.searchsorted(times, [cell.peak_time - cell.duration_s, cell.peak_time + cell.duration_s])
        if lo >= hi:
            continue
        t = times[lo:hi]
        dt_h = (t - cell.peak_time) / 3600.0
        # Fast rise (a third of the duration), slower decay: the classic convective hyetograph.
        rise, fall = cell.duration_s / 3 / 3600, 2 * cell.duration_s / 3 / 3600
        shape = np.where(dt_h < 0, np.exp(-0.5 * (dt_h / (rise / 2)) ** 2), np.exp(-dt_h / (fall / 2.5)))
        cx = cell.x_km + cell.vx_km_h * dt_h
        cy = cell.y_km + cell.vy_km_h * dt_h
        d2 = (xy_km[:, :1] - cx[None, :]) ** 2 + (xy_km[:, 1:] - cy[None, :]) ** 2
        rate[:, lo:hi] += cell.peak_mm_h * shape[None, :] * np.exp(-d2 / (2 * cell.radius_km**2))
    rate[rate < 0.05] = 0.0  # below what a gauge can resolve
    return rate
