"""A plain load generator for throughput tests and benchmarks: plausible values, cheap to make.

Every device gets the same four sensors; water follows a semidiurnal tide plus noise, rain
falls in bursts, traffic follows a daily rhythm. For realistic behaviour (places, storms,
floods, holidays, faults, ground truth) use the city simulator (``simulators.city``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge import protocol
from edge.protocol import Kind

M2_PERIOD_S = 12.4206 * 3600  # principal lunar semidiurnal tide
DAY_S = 86_400.0
SENSOR_KINDS = (Kind.WATER_LEVEL, Kind.RAINFALL, Kind.TRAFFIC_COUNT, Kind.TRAFFIC_SPEED)


@dataclass(frozen=True)
class Block:
    """Readings of ``n_devices`` devices at ``times`` (shape ``(n_steps,)``, Unix seconds)."""

    times: npt.NDArray[np.float64]
    values: dict[str, npt.NDArray[np.float64]]  # kind -> (n_devices, n_steps), canonical units

    def steps(self, lo: int, hi: int) -> Block:
        """Time steps ``lo`` to ``hi`` (exclusive) of every device: a stream published in parts."""
        return Block(self.times[lo:hi], {kind: values[:, lo:hi] for kind, values in self.values.items()})


def generate(n_devices: int, start: float, step_s: float, n_steps: int, seed: int = 0) -> Block:
    rng = np.random.default_rng(seed)
    times = start + step_s * np.arange(n_steps, dtype=np.float64)
    phase = rng.uniform(0, 2 * np.pi, size=(n_devices, 1))
    tide = 1.1 * np.sin(2 * np.pi * times / M2_PERIOD_S + phase)
    water = 0.4 + tide + rng.normal(0, 0.02, size=(n_devices, n_steps))
    raining = rng.random((n_devices, n_steps)) < 0.05
    rain = np.where(raining, rng.gamma(1.5, 2.0, size=(n_devices, n_steps)), 0.0)
    hour = (times % DAY_S) / 3600 + 7  # Ho Chi Minh City is UTC+7
    rush = np.exp(-((hour % 24 - 7.5) ** 2) / 2) + np.exp(-((hour % 24 - 17.5) ** 2) / 2)
    count = rng.poisson(20 + 60 * rush, size=(n_devices, n_steps)).astype(np.float64)
    speed = np.clip(45 - 25 * rush + rng.normal(0, 3, size=(n_devices, n_steps)), 3, None)
    values: dict[str, npt.NDArray[np.float64]] = {
        Kind.WATER_LEVEL: water,
        Kind.RAINFALL: rain,
        Kind.TRAFFIC_COUNT: count,
        Kind.TRAFFIC_SPEED: speed,
    }
    return Block(times, values)


def readings_for(block: Block, device_index: int, step: int) -> list[protocol.Reading]:
    """The four readings one device takes at one step."""
    when = float(block.times[step])
    return [
        protocol.Reading(kind, when, float(block.values[kind][device_index, step]), protocol.METRIC_KINDS[kind].unit)
        for kind in SENSOR_KINDS
    ]
