"""Traffic counts and mean speeds per road segment; vectorised over segments.

Demand follows the weekday double peak (morning and evening rush, local time), a flatter weekend,
Vietnamese public holidays from the ``holidays`` package (Tet emptying the city, the days before
it busier), and rain (fewer trips, lower capacity and free speed). Random incidents cut capacity.
Flooding couples in: water on the road slows the segment and closes it when deep. Counts are the
throughput (demand capped by capacity); speed comes from an urban BPR volume-delay curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from forecasting.calendar import LOCAL_UTC_OFFSET_S, day_types

BPR_ALPHA, BPR_BETA = 0.5, 4.0  # urban arterial volume-delay curve
CLOSED_DEPTH_M = 0.35  # motorbikes cannot pass deeper water
TET_DEMAND = 0.35  # share of normal traffic during Tet
HOLIDAY_DEMAND = 0.65
PRE_TET_DEMAND = 1.15  # the rush to buy and travel home before Tet
INCIDENTS_PER_DAY = 0.06  # per segment
CRAWL_KMH = 3.0


@dataclass(frozen=True)
class Segments:
    """Per segment, each (n_segments,): capacity (vehicles/h), free-flow speed (km/h), peak demand/capacity."""

    capacity_veh_h: npt.NDArray[np.float64]
    free_speed_kmh: npt.NDArray[np.float64]
    peak_ratio: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Incident:
    segment: int
    start: float
    end: float
    capacity_factor: float


def _gauss(hour: npt.NDArray[np.float64], centre: float, width: float) -> npt.NDArray[np.float64]:
    return np.exp(-0.5 * ((hour - centre) / width) ** 2)


def demand_profile(times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Demand as a share of the weekday evening peak at each time (local calendar and clock)."""
    hour = ((times + LOCAL_UTC_OFFSET_S) % 86_400) / 3600.0
    kind = day_types(times, LOCAL_UTC_OFFSET_S)
    night = 0.08 + 0.25 * _gauss(hour, 13.0, 4.5)
    weekday = night + 0.85 * _gauss(hour, 7.4, 0.9) + 0.92 * _gauss(hour, 17.6, 1.1) + 0.2 * _gauss(hour, 12, 1.5)
    weekend = night + 0.35 * _gauss(hour, 10.0, 2.0) + 0.5 * _gauss(hour, 18.5, 2.0)
    profile = np.where(kind == "weekend", weekend, weekday)
    profile = np.where(kind == "holiday", weekend * HOLIDAY_DEMAND / 0.8, profile)
    profile = np.where(kind == "tet", weekend * TET_DEMAND, profile)
    return np.where(kind == "pre_tet", weekday * PRE_TET_DEMAND, profile)


def draw_incidents(n_segments: int, start: float, end: float, rng: np.random.Generator) -> list[Incident]:
    n = rng.poisson(INCIDENTS_PER_DAY * n_segments * (end - start) / 86_400)
    begin = rng.uniform(start, end, n)
    return [
        Incident(int(s), float(b), float(b + rng.lognormal(np.log(40 * 60), 0.5)), float(rng.uniform(0.3, 0.7)))
        for s, b in zip(rng.integers(0, n_segments, n), begin, strict=True)
    ]


def simulate(
    segments: Segments,
    times: npt.NDArray[np.float64],
    step_s: float,
    rain_mm_h: npt.NDArray[np.float64],
    flood_depth_m: npt.NDArray[np.float64],
    incidents: list[Incident],
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Vehicle counts per step and mean speed (km/h), each (n_segments, n_steps)."""
    n = len(segments.capacity_veh_h)
    wet = np.minimum(rain_mm_h / 20.0, 1.0)
    day_noise = rng.lognormal(0, 0.06, size=(n, 1))
    demand = (
        segments.capacity_veh_h[:, None]
        * segments.peak_ratio[:, None]
        * demand_profile(times)[None, :]
        * day_noise
        * (1 - 0.12 * wet)
        * rng.lognormal(0, 0.05, size=(n, len(times)))
    )
    capacity = segments.capacity_veh_h[:, None] * (1 - 0.15 * wet) * np.ones((1, len(times)))
    for incident in incidents:
        during = (times >= incident.start) & (times < incident.end)
        capacity[incident.segment, during] *= incident.capacity_factor
    passable = np.clip(1 - flood_depth_m / CLOSED_DEPTH_M, 0.0, 1.0)
    capacity *= np.maximum(passable, 0.02)
    free = segments.free_speed_kmh[:, None] * (1 - 0.2 * wet) * np.maximum(passable, 0.1)
    ratio = demand / np.maximum(capacity, 1e-9)
    speed = np.maximum(free / (1 + BPR_ALPHA * ratio**BPR_BETA), CRAWL_KMH)
    flow = np.minimum(demand, capacity) * step_s / 3600.0
    counts = rng.poisson(flow).astype(np.float64)
    return counts, speed
