"""Street flooding as a drainage response to rain and tide, and canal stage; vectorised over sites.

Each flood-prone street is a small reservoir: runoff from its catchment flows in, the drains carry
water out to the river through outfalls. With the default law (``DrainLaw.ORIFICE``) drain flow
follows the orifice law on the head between the water on the street and the river: it falls as
the tide rises, stops when the river reaches the street, and runs backwards (the river floods the
street through the drains) above that. So a storm the drains can carry at low tide ponds at high
tide, and a king tide alone can flood the lowest streets - floods emerge from rain x tide,
nothing is scripted.

``Drainage`` describes the city's drains: the law and its constants, and how far the registered
street metadata (crown height, drain capacity) are from the truth. The other law,
``DrainLaw.GATED_WEIR``, is a different city: flap-gated outfalls (no backflow: a king tide alone
floods nothing), a weir law (flow ~ head^1.5) and a pipe network that stores some water before
any shows on the road. The forecasting engine's drainage model is checked on both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import assert_never

import numpy as np
import numpy.typing as npt

RUNOFF_COEFF = 0.8  # share of rain on sealed city ground that runs off (sites.DESIGN_RUNOFF says the same)
CATCHMENT_RATIO = 10.0  # catchment area per ponding area: water gathers at the low spot
FULL_HEAD_M = 0.5  # head between street and river at which drains reach their capacity
LOSS_M_H = 0.01  # infiltration and evaporation from ponded water
MM_H_TO_M_S = 1e-3 / 3600.0
CANAL_RISE_PER_MM = 0.004  # canal stage rise per mm of catchment rain (m)
CANAL_RECESSION_S = 3 * 3600.0


class DrainLaw(enum.StrEnum):
    ORIFICE = "orifice"  # flow ~ sqrt(head), backflow when the river stands above the street
    GATED_WEIR = "gated-weir"  # flow ~ head^1.5, flap gates shut against a higher river


@dataclass(frozen=True)
class Drainage:
    """How a city's street drains work, and how wrong its registered street metadata are.

    ``capacity_error`` / ``crown_error_m``: the true drain capacity is the registered one times
    a lognormal factor of this log-spread, the true crown the registered one plus a normal error
    of this spread (fixed per street by its order in the city, deterministic).
    """

    law: DrainLaw = DrainLaw.ORIFICE
    runoff: float = RUNOFF_COEFF
    catchment_ratio: float = CATCHMENT_RATIO
    full_head_m: float = FULL_HEAD_M
    storage_m: float = 0.0  # water the pipe network holds before any shows on the road
    loss_m_h: float = LOSS_M_H
    capacity_error: float = 0.0
    crown_error_m: float = 0.0


GATED_CITY = Drainage(DrainLaw.GATED_WEIR, runoff=0.9, catchment_ratio=6.0, full_head_m=0.8, storage_m=0.03,
                      loss_m_h=0.02, capacity_error=0.25, crown_error_m=0.05)  # fmt: skip


@dataclass(frozen=True)
class Streets:
    """Street parameters, each (n_streets,): crown above datum (m) and drain capacity (mm/h)."""

    ground_m: npt.NDArray[np.float64]
    drain_mm_h: npt.NDArray[np.float64]

    def actual(self, drainage: Drainage) -> Streets:
        """The streets as they really are, given how far ``drainage`` says the registered values stray."""
        if not drainage.capacity_error and not drainage.crown_error_m:
            return self
        rng = np.random.default_rng(17)  # row k is the k-th street's error in any city that has it
        error = rng.normal(0.0, 1.0, (len(self.ground_m), 2))
        return Streets(self.ground_m + drainage.crown_error_m * error[:, 0],
                       self.drain_mm_h * np.exp(drainage.capacity_error * error[:, 1]))  # fmt: skip


def street_depth(
    streets: Streets,
    rain_mm_h: npt.NDArray[np.float64],
    river_m: npt.NDArray[np.float64],
    step_s: float,
    initial_m: npt.NDArray[np.float64] | None = None,
    drainage: Drainage = Drainage(),
) -> npt.NDArray[np.float64]:
    """Water depth on each street (m), shape (n_streets, n_steps), from rain rate and river stage.

    A loop over time steps (the reservoir is sequential), vectorised over streets. The state is
    the water held (pipes, then the road); the depth on the road is what exceeds the pipes' store.
    """
    n, steps = rain_mm_h.shape
    depth = np.zeros((n, steps))
    held = np.zeros(n) if initial_m is None else initial_m.copy()
    capacity = streets.drain_mm_h * MM_H_TO_M_S * drainage.catchment_ratio  # m/s of depth at full head
    inflow = rain_mm_h * (drainage.runoff * drainage.catchment_ratio * MM_H_TO_M_S)
    loss = drainage.loss_m_h / 3600 * step_s
    for k in range(steps):
        on_road = np.maximum(held - drainage.storage_m, 0.0)
        head = streets.ground_m + on_road - river_m[:, k]
        match drainage.law:
            case DrainLaw.ORIFICE:
                share = np.sign(head) * np.minimum(np.sqrt(np.abs(head) / drainage.full_head_m), 1.0)
            case DrainLaw.GATED_WEIR:
                share = np.minimum(np.maximum(head, 0.0) / drainage.full_head_m, 1.0) ** 1.5
            case _ as unreachable:
                assert_never(unreachable)
        drain = capacity * share * ((held > 0) | (share < 0))
        held = np.maximum(held + step_s * (inflow[:, k] - drain) - loss * (on_road > 0), 0.0)
        depth[:, k] = np.maximum(held - drainage.storage_m, 0.0)
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
