"""A simulated sensor for the edge agent: ``driver = "simulated"`` in an edge config.

Values come from the built-in simulator (``simulators.basic``) at the agent's own clock, so a
device running the real agent code path produces plausible water levels, rain and traffic.
"""

from __future__ import annotations

import numpy as np

from simulators import basic


class Simulated:
    def __init__(self, kind: str, seed: int = 0) -> None:
        if kind not in basic.SENSOR_KINDS:
            raise ValueError(f"simulated kind must be one of {', '.join(basic.SENSOR_KINDS)}, got {kind!r}")
        self.kind = kind
        self.seed = seed

    def read(self, now: float) -> float:
        # One step of a one-device block at `now`; the seed mixes in the time so values vary.
        block = basic.generate(1, now, 1.0, 1, seed=(self.seed * 1_000_003 + int(now)) % (2**32))
        return float(np.round(block.values[self.kind][0, 0], 4))
