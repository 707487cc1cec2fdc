"""Street flooding as a drainage response to rain and tide, and canal stage; vectorised over sites.

Each flood-prone street is a small reservoir: runoff from its catchment flows in, the drains carry
water out to the river through outfalls. Drain flow follows the orifice law on the head between
the water on the street and the river: it falls as the tide rises, stops when the river reaches
the street, and runs backwards (the river floods the street through the drains) above that.
So a storm the drains can carry at low tide ponds at high tide, and a king tide alone can flood
the lowest streets - floods emerge from rain x tide, nothing is scripted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RUNOFF_COEFF = 0.8  # share of rain on sealed city ground that runs off
CATCHMENT_RATIO = 10.0  # catchment area per ponding area: water gathers at the low spot
FULL_HEAD_M = 0.5  # head between street and river at which drains reach their capacity
LOSS_M_H = 0.01  # infiltration and evaporation from ponded water
MM_H_TO_M_S = 1e-3 / 3600.0
CANAL_RISE_PER_MM = 0.004  # canal stage rise per mm of catchment rain (m)
CANAL_RECESSION_S = 3 * 3600.0


@dataclass(frozen=True)
class Streets:
    """Street parameters, each (n_streets,): crown above datum (m) and drain capacity (mm/h)."""

    ground_m: npt.NDArray[np.float64]
    drain_mm_h: npt.NDArray[np.float64]


def street_depth(
    streets: Streets,
    rain_mm_h: npt.NDArray[np.float64],
    river_m: npt.NDArray[np.float64],
    step_s: float,
    initial_m: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Water depth on each street (m), shape (n_streets, n_steps), from rain rate and river stage.

    A loop over time steps (the reservoir is sequential), vectorised over streets.
    """
    n, steps = rain_mm_h.shape
    depth = np.zeros((n, steps))
    d = np.zeros(n) if initial_m is None else initial_m.copy()
    capacity = streets.drain_mm_h * MM_H_TO_M_S * CATCHMENT_RATIO  # m/s of depth at full head
    inflow = rain_mm_h * (RUNOFF_COEFF * CATCHMENT_RATIO * MM_H_TO_M_S)
    for k in range(steps):
        head = streets.ground_m + d - river_m[:, k]
        drain = capacity * np.sign(head) * np.minimum(np.sqrt(np.abs(head) / FULL_HEAD_M), 1.0)
        d = np.maximum(d + step_s * (inflow[:, k] - drain) - LOSS_M_H / 3600 * step_s * (d > 0), 0.0)
        depth[:, k] = d
    return depth


def canal_stage(
    river_m: npt.NDArray[np.float64], rain_mm_h: npt.NDArray[np.float64], step_s: float
) -> npt.NDArray[np.float64]:
    """Canal stage (m above datum): the river tide plus a linear-reservoir rise from catchment rain."""
    n, steps = rain_mm_h.shape
    rise = np.zeros((n, steps))
    r = np.zeros(n)
    keep = np.exp(-step_s / CANAL_RECESSION_S)
    for k in range(steps):
        r = r * keep + CANAL_RISE_PER_MM * rain_mm_h[:, k] * step_s / 3600
        rise[:, k] = r
    return river_m + rise
