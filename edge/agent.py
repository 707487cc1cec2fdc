"""The edge agent's core loop: sample each sensor on its own interval, store, forward.

Sampling never waits for the network: a reading is committed to the durable store first
and the forwarder sends it when the link allows, so an outage only grows the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from edge import health, protocol
from edge.forwarder import Forwarder
from edge.heartbeat import HeartbeatSender
from edge.protocol import METRIC_KINDS, Reading, kind_of
from edge.store import ReadingStore

log = logging.getLogger(__name__)


class Driver(Protocol):
    """A sensor driver: one value in the kind's unit, or None when nothing valid was read."""

    def read(self, now: float) -> float | None: ...


@dataclass(frozen=True)
class SensorSchedule:
    name: str  # SenML local name, kind[.channel]
    interval_s: float
    driver: Driver

    @property
    def unit(self) -> str:
        return METRIC_KINDS[kind_of(self.name) or ""].unit


class Agent:
    def __init__(
        self,
        sensors: Sequence[SensorSchedule],
        store: ReadingStore,
        forwarder: Forwarder,
        clock: Callable[[], float] = time.time,
        heartbeat: HeartbeatSender | None = None,
        clock_synchronised: Callable[[], bool | None] = health.kernel_clock_synchronised,
    ) -> None:
        for sensor in sensors:
            if kind_of(sensor.name) not in METRIC_KINDS:
                raise ValueError(f"sensor {sensor.name!r} is not kind[.channel] of a known kind")
        self._sensors = list(sensors)
        self._store = store
        self._forwarder = forwarder
        self._clock = clock
        self._due = [clock()] * len(sensors)
        self._heartbeat = heartbeat
        self._clock_synchronised = clock_synchronised
        self.driver_errors = 0
        self.readings_taken = 0
        self.readings_held = 0  # due while the clock was implausible: not taken, counted

    def step(self) -> float:
        """Sample what is due, store it, forward; returns seconds until the next sample is due."""
        now = self._clock()
        clock = health.clock_state(now, self._clock_synchronised())
        readings: list[Reading] = []
        for index, sensor in enumerate(self._sensors):
            if now < self._due[index]:
                continue
            self._due[index] = max(self._due[index] + sensor.interval_s, now)
            if clock == protocol.CLOCK_IMPLAUSIBLE:  # never send a reading stamped 1970
                self.readings_held += 1
                continue
            try:
                value = sensor.driver.read(now)
            except Exception:  # noqa: BLE001 - a failing driver must not stop the others
                self.driver_errors += 1
                log.exception("driver of %s failed", sensor.name)
                continue
            if value is not None:
                readings.append(Reading(sensor.name, now, value, sensor.unit))
        self._store.append(readings)  # one transaction per round spares the SD card
        self.readings_taken += len(readings)
        self._forwarder.pump()
        if self._heartbeat is not None:
            self._heartbeat.maybe_send(now, self.readings_held, clock)
        return max(0.0, min(self._due) - self._clock())

    def run(self, stop: threading.Event, poll_s: float = 0.2) -> None:
        while not stop.is_set():
            stop.wait(min(self.step(), poll_s))
