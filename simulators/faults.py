"""Sensor and delivery faults, each switchable and parameterised, recorded exactly as injected.

Value faults change what a sensor measures (``apply_value_faults``, pure NumPy): dropout (no
reading), stuck (the value at the fault's start, held), spike (one sample off by ``magnitude``),
drift (``magnitude`` units per hour, growing), noise burst (Gaussian noise of sigma ``magnitude``).
Delivery faults change what a device sends, and are applied by ``simulators.emission``: clock skew
(timestamps off by ``magnitude`` s), duplicate burst (the last ``magnitude`` messages sent again on
reconnect), out-of-order delivery (messages of the window held and released shuffled), malformed
payloads (every message of the window garbled), offline (the device disconnects for the window;
its readings are buffered and delivered on return, as the edge agent does).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from edge.protocol import Kind


class FaultKind(StrEnum):
    DROPOUT = "dropout"
    STUCK = "stuck"
    SPIKE = "spike"
    DRIFT = "drift"
    NOISE_BURST = "noise_burst"
    CLOCK_SKEW = "clock_skew"
    DUPLICATE_BURST = "duplicate_burst"
    OUT_OF_ORDER = "out_of_order"
    MALFORMED = "malformed"
    OFFLINE = "offline"


VALUE_FAULTS = frozenset({FaultKind.DROPOUT, FaultKind.STUCK, FaultKind.SPIKE, FaultKind.DRIFT, FaultKind.NOISE_BURST})
DEVICE_FAULTS = frozenset(FaultKind) - VALUE_FAULTS


@dataclass(frozen=True)
class Fault:
    """One injected fault. ``target`` is a sensor (``device/kind``) for value faults, else a device id."""

    kind: FaultKind
    target: str
    start: float  # Unix s
    end: float  # Unix s (exclusive); a spike lasts one step
    magnitude: float = 0.0


@dataclass(frozen=True)
class FaultParams:
    count: int  # how many sensors (value faults) or devices (delivery faults) get one
    duration_s: float
    magnitude: float = 0.0  # in units of the target kind where it applies


# Spike, drift (per hour) and noise magnitudes are multiples of the target's typical scale (``SCALE``).
DEFAULT_PARAMS: dict[FaultKind, FaultParams] = {
    FaultKind.DROPOUT: FaultParams(2, 3600),
    FaultKind.STUCK: FaultParams(2, 2 * 3600),
    FaultKind.SPIKE: FaultParams(2, 0, 6.0),
    FaultKind.DRIFT: FaultParams(2, 4 * 3600, 0.5),
    FaultKind.NOISE_BURST: FaultParams(2, 1800, 0.5),
    FaultKind.CLOCK_SKEW: FaultParams(1, 2 * 3600, -437.0),  # off the sampling grid, as real skew is
    FaultKind.DUPLICATE_BURST: FaultParams(1, 0, 5),
    FaultKind.OUT_OF_ORDER: FaultParams(1, 1800),
    FaultKind.MALFORMED: FaultParams(1, 900),
    FaultKind.OFFLINE: FaultParams(1, 3600),
}
SCALE: dict[str, float] = {
    Kind.WATER_LEVEL: 0.5,
    Kind.RAINFALL: 5.0,
    Kind.TRAFFIC_COUNT: 50.0,
    Kind.TRAFFIC_SPEED: 10.0,
}
SCALED = frozenset({FaultKind.SPIKE, FaultKind.DRIFT, FaultKind.NOISE_BURST})
# Value faults go to continuous signals: a rain gauge stuck at zero in dry weather is no fault to find.
VALUE_FAULT_KINDS = (Kind.WATER_LEVEL, Kind.TRAFFIC_COUNT, Kind.TRAFFIC_SPEED)


def fault_counts(items: list[str]) -> dict[FaultKind, FaultParams]:
    """The default fault plan with counts changed by ``KIND=COUNT`` items (0 switches a kind off)."""
    params = dict(DEFAULT_PARAMS)
    for item in items:
        name, _, count = item.partition("=")
        try:
            kind = FaultKind(name.strip())
            number = int(count)
        except ValueError:
            kinds = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"bad fault {item!r}: expected KIND=COUNT with KIND one of {kinds}") from None
        if number < 0:
            raise ValueError(f"bad fault {item!r}: the count cannot be negative")
        params[kind] = dataclasses.replace(params[kind], count=number)
    return params


def plan_faults(
    sensors: list[str],
    devices: list[str],
    start: float,
    end: float,
    params: dict[FaultKind, FaultParams],
    rng: np.random.Generator,
) -> list[Fault]:
    """Faults on distinct sensors and devices, starting (on a whole second) in the window's middle half."""
    faults: list[Fault] = []
    sensor_pool = list(rng.permutation([s for s in sensors if s.rsplit("/", 1)[1] in VALUE_FAULT_KINDS]))
    device_pool = list(rng.permutation(devices))
    for kind, p in params.items():
        pool = sensor_pool if kind in VALUE_FAULTS else device_pool
        if p.count > len(pool):
            raise ValueError(f"{p.count} {kind} faults asked for but only {len(pool)} targets are left")
        for _ in range(p.count):
            target = str(pool.pop())
            begin = float(np.round(rng.uniform(start + (end - start) / 4, start + (end - start) / 2)))
            magnitude = p.magnitude * (SCALE[target.rsplit("/", 1)[1]] if kind in SCALED else 1.0)
            faults.append(Fault(kind, target, begin, begin + p.duration_s, magnitude))
    return sorted(faults, key=lambda f: (f.start, f.target))


def apply_value_faults(
    values: npt.NDArray[np.float64],
    times: npt.NDArray[np.float64],
    faults: list[Fault],
    row_of: dict[str, int],
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    """What faulty sensors report: a copy of ``values`` (n_sensors, n_steps) with each value fault applied."""
    observed = values.copy()
    for fault in faults:
        if fault.kind not in VALUE_FAULTS or fault.target not in row_of:
            continue
        row = row_of[fault.target]
        window = (times >= fault.start) & (times < max(fault.end, fault.start + 1e-9))
        if fault.kind == FaultKind.SPIKE:
            window = np.zeros_like(window)
            first = np.searchsorted(times, fault.start)
            if first < len(times):
                window[first] = True
        if not window.any():
            continue
        if fault.kind == FaultKind.DROPOUT:
            observed[row, window] = np.nan
        elif fault.kind == FaultKind.STUCK:
            observed[row, window] = values[row, np.argmax(window)]
        elif fault.kind == FaultKind.SPIKE:
            observed[row, window] += fault.magnitude
        elif fault.kind == FaultKind.DRIFT:
            observed[row, window] += fault.magnitude * (times[window] - fault.start) / 3600.0
        elif fault.kind == FaultKind.NOISE_BURST:
            observed[row, window] += rng.normal(0, fault.magnitude, int(window.sum()))
    return observed
