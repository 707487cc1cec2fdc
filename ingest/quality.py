"""QARTOD-style gross-range flags, vectorised over a batch of readings.

Implausible values are stored with a FAIL flag instead of being discarded: a sensor that
reports 9 m of water may be broken, or may be watching the flood of the decade, and only a
person (or a later QC pass) can tell. Flag codes follow the QARTOD manuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.protocol import Kind
from storage.qc import QcFlag


@dataclass(frozen=True)
class GrossRange:
    """Outside ``fail_*``: physically impossible for the sensor. Outside ``suspect_*``: unusual here."""

    fail_min: float
    fail_max: float
    suspect_min: float
    suspect_max: float


# Canonical units (see edge.protocol.METRIC_KINDS). Chosen for Ho Chi Minh City street and
# canal gauges, 1-minute-to-hourly rain totals and urban road segments.
GROSS_RANGES: dict[str, GrossRange] = {
    Kind.WATER_LEVEL: GrossRange(fail_min=-10.0, fail_max=20.0, suspect_min=-3.0, suspect_max=5.0),
    Kind.RAINFALL: GrossRange(fail_min=0.0, fail_max=500.0, suspect_min=0.0, suspect_max=150.0),
    Kind.TRAFFIC_COUNT: GrossRange(fail_min=0.0, fail_max=20_000.0, suspect_min=0.0, suspect_max=5_000.0),
    Kind.TRAFFIC_SPEED: GrossRange(fail_min=0.0, fail_max=250.0, suspect_min=0.0, suspect_max=130.0),
}


def gross_range_flags(values: npt.NDArray[np.float64], ranges: GrossRange) -> npt.NDArray[np.int16]:
    """QC flag per value, shape ``(n,)``: PASS, SUSPECT or FAIL."""
    flags = np.full(values.shape, QcFlag.PASS, dtype=np.int16)
    flags[(values < ranges.suspect_min) | (values > ranges.suspect_max)] = QcFlag.SUSPECT
    flags[(values < ranges.fail_min) | (values > ranges.fail_max)] = QcFlag.FAIL
    return flags


def flag_batch(
    kinds: npt.NDArray[np.int8], values: npt.NDArray[np.float64], kind_order: list[str]
) -> npt.NDArray[np.int16]:
    """Flags for a mixed batch: ``kinds[i]`` indexes ``kind_order``; kinds without a range are NOT_EVALUATED."""
    flags = np.full(values.shape, QcFlag.NOT_EVALUATED, dtype=np.int16)
    for code, kind in enumerate(kind_order):  # a handful of kinds, not a loop over sensors
        ranges = GROSS_RANGES.get(kind)
        mask = kinds == code
        if ranges is not None and mask.any():
            flags[mask] = gross_range_flags(values[mask], ranges)
    return flags
