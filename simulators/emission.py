"""What each virtual device sends, step by step: SenML packs, with the delivery faults applied.

Pure logic (no network): ``Emitter.step`` turns one time step of readings into the messages
devices publish, in order - one pack per device per step, encoded by the wire contract
(``edge.protocol``) - and applies clock skew, duplicate bursts, out-of-order release, malformed
payloads and offline spells. The fleet (``simulators.fleet``) puts the result on the wire.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict, deque
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from edge import protocol
from simulators.faults import DEVICE_FAULTS, Fault, FaultKind
from simulators.sites import SensorRef


class Action(StrEnum):
    PUBLISH = "publish"
    DISCONNECT = "disconnect"  # the device drops off the network (its Last Will says offline)
    RECONNECT = "reconnect"


@dataclass(frozen=True)
class Outgoing:
    action: Action
    device: str
    payload: bytes = b""
    readings: int = 0  # valid readings in the payload (0 for a malformed one)


def _in(fault: Fault, when: float) -> bool:
    return fault.start <= when < fault.end


def delivery_arrays(
    sensors: list[SensorRef], times: npt.NDArray[np.float64], observed: npt.NDArray[np.float64], faults: list[Fault]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(delivered, time_offset_s): readings that reach the broker intact, and the skew on each reported time."""
    delivered = observed.copy()
    offset = np.zeros_like(observed)
    rows: dict[str, list[int]] = defaultdict(list)
    for s in sensors:
        rows[s.device_id].append(s.index)
    for fault in faults:
        window = (times >= fault.start) & (times < fault.end)
        if fault.kind == FaultKind.MALFORMED:
            delivered[np.ix_(np.array(rows[fault.target], dtype=np.int64), window)] = np.nan
        elif fault.kind == FaultKind.CLOCK_SKEW:
            offset[np.ix_(np.array(rows[fault.target], dtype=np.int64), window)] = fault.magnitude
    return delivered, offset


class Emitter:
    """Stateful across steps and chunks: held messages wait for their fault window to end."""

    def __init__(self, sensors: list[SensorRef], faults: list[Fault], seed: int = 0) -> None:
        self._by_device: dict[str, list[SensorRef]] = defaultdict(list)
        for s in sensors:
            self._by_device[s.device_id].append(s)
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        for f in faults:
            if f.kind in DEVICE_FAULTS:
                self._faults[f.target].append(f)
        self._held: dict[tuple[str, Fault], list[Outgoing]] = {}
        self._recent: dict[str, deque[Outgoing]] = {d: deque(maxlen=32) for d in self._faults}
        self._rng = np.random.default_rng([seed, 5])

    def step(self, when: float, values: npt.NDArray[np.float64]) -> list[Outgoing]:
        """Messages sent at simulated time ``when``; ``values`` (n_sensors,) with NaN for no reading."""
        out: list[Outgoing] = []
        for device, refs in self._by_device.items():
            readings = [
                protocol.Reading(r.name, when, float(values[r.index]), r.unit)
                for r in refs
                if values[r.index] == values[r.index]
            ]
            faults = self._faults.get(device)
            if not faults:
                if readings:
                    out.append(Outgoing(Action.PUBLISH, device, protocol.encode_pack(device, readings), len(readings)))
                continue
            out += self._faulty(device, faults, when, readings)
        return out

    def _faulty(
        self, device: str, faults: list[Fault], when: float, readings: list[protocol.Reading]
    ) -> list[Outgoing]:
        out: list[Outgoing] = self._release(device, faults, when)
        for f in faults:
            if f.kind == FaultKind.CLOCK_SKEW and _in(f, when):
                readings = [dataclasses.replace(r, time=r.time + f.magnitude) for r in readings]
        message = None
        if readings:
            payload = protocol.encode_pack(device, readings)
            if any(f.kind == FaultKind.MALFORMED and _in(f, when) for f in faults):
                message = Outgoing(Action.PUBLISH, device, payload[: len(payload) // 2], 0)  # a truncated pack
            else:
                message = Outgoing(Action.PUBLISH, device, payload, len(readings))
        holding = [f for f in faults if f.kind in (FaultKind.OFFLINE, FaultKind.OUT_OF_ORDER) and _in(f, when)]
        for f in faults:
            if f.kind == FaultKind.OFFLINE and _in(f, when) and (device, f) not in self._held:
                out.append(Outgoing(Action.DISCONNECT, device))
        for f in holding:
            self._held.setdefault((device, f), [])
        if message is not None:
            if holding:
                self._held[(device, holding[0])].append(message)
            else:
                out.append(message)
                self._recent[device].append(message)
        for f in faults:
            if f.kind == FaultKind.DUPLICATE_BURST and f.start <= when and (device, f) not in self._held:
                self._held[(device, f)] = []  # marks the burst as done
                out += list(self._recent[device])[-int(f.magnitude) :]
        return out

    def _release(self, device: str, faults: list[Fault], when: float) -> list[Outgoing]:
        out: list[Outgoing] = []
        for f in faults:
            held = self._held.get((device, f))
            if held is None or when < f.end or f.kind == FaultKind.DUPLICATE_BURST:
                continue
            if f.kind == FaultKind.OFFLINE:
                out.append(Outgoing(Action.RECONNECT, device))
            order = self._rng.permutation(len(held)) if f.kind == FaultKind.OUT_OF_ORDER else range(len(held))
            out += [held[i] for i in order]
            self._recent[device].extend(held)
            self._held[(device, f)] = []
            self._faults[device] = [g for g in self._faults[device] if g is not f]
        return out

    def flush(self) -> list[Outgoing]:
        """Everything still held, as if every fault window had ended (the end of a run)."""
        return [m for device, faults in list(self._faults.items()) for m in self._release(device, faults, float("inf"))]
