"""The edge agent's core loop: sample each sensor on its own interval, store, forward.

Sampling never waits for the network: a reading is committed to the durable store first
and the forwarder sends it when the link allows, so an outage only grows the queue.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from edge import health, protocol
from edge.forwarder import Forwarder
from edge.heartbeat import HeartbeatSender
from edge.link import DeviceLink
from edge.protocol import METRIC_KINDS, Reading, kind_of
from edge.sd_notify import Notifier
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
        link: DeviceLink | None = None,
    ) -> None:
        for sensor in sensors:
            if kind_of(sensor.name) not in METRIC_KINDS:
                raise ValueError(f"sensor {sensor.name!r} is not kind[.channel] of a known kind")
        self._sensors = list(sensors)
        self._store = store
        self._forwarder = forwarder
        self._clock = clock
        self._due = [clock()] * len(sensors)
        self._intervals = [s.interval_s for s in sensors]
        self._enabled = [True] * len(sensors)
        self._link = link
        self.config_version: int | None = None
        self._heartbeat = heartbeat
        self._clock_synchronised = clock_synchronised
        self.driver_errors = 0
        self.readings_taken = 0
        self.readings_held = 0  # due while the clock was implausible: not taken, counted

    def step(self) -> float:
        """Sample what is due, store it, forward; returns seconds until the next sample is due."""
        self._apply_remote_configs()
        now = self._clock()
        clock = health.clock_state(now, self._clock_synchronised())
        readings: list[Reading] = []
        for index, sensor in enumerate(self._sensors):
            if now < self._due[index]:
                continue
            self._due[index] = max(self._due[index] + self._intervals[index], now)
            if not self._enabled[index]:
                continue
            if clock == protocol.CLOCK_IMPLAUSIBLE:  # never send a reading stamped 1970
                self.readings_held += 1
                continue
            try:
                value = sensor.driver.read(now)
            except Exception:  # noqa: BLE001 - a failing driver must not stop the others
                self.driver_errors += 1
                log.exception("driver of %s failed", sensor.name)
                continue
            if value is None:
                continue
            if not math.isfinite(value):  # JSON cannot carry it, and it would block the queue forever
                self.driver_errors += 1
                log.error("driver of %s returned %r; reading discarded (counted as a driver error)", sensor.name, value)
                continue
            readings.append(Reading(sensor.name, now, value, sensor.unit))
        self._store.append(readings)  # one transaction per round spares the SD card
        self.readings_taken += len(readings)
        self._forwarder.pump()
        if self._heartbeat is not None:
            self._heartbeat.maybe_send(now, self.readings_held, clock)
        return max(0.0, min(self._due) - self._clock())

    def _apply_remote_configs(self) -> None:
        if self._link is None:
            return
        while True:
            try:
                payload = self._link.configs.get_nowait()
            except queue.Empty:
                return
            version, applied, reason = self.apply_config(payload)
            self._link.publish_raw(
                protocol.device_topic(self._link.device_id, protocol.CONFIG_ACK_CHANNEL),
                protocol.encode_config_ack(version, applied, reason),
            )

    def apply_config(self, payload: bytes) -> tuple[int | None, bool, str]:
        """Validate a remote config and apply it whole, or keep the current one: (version, applied, reason)."""
        try:
            config = protocol.RemoteConfig.decode(payload)
        except protocol.ProtocolError as error:
            log.warning("remote config refused: %s", error)
            return None, False, str(error)
        names = [s.name for s in self._sensors]
        unknown = sorted(set(config.sensors) - set(names))
        if unknown:
            reason = f"unknown sensor(s) on this device: {', '.join(unknown)}"
            log.warning("remote config %d refused: %s", config.version, reason)
            return config.version, False, reason
        for name, setting in config.sensors.items():
            index = names.index(name)
            self._enabled[index] = setting.enabled
            if setting.interval_s is not None:
                self._intervals[index] = setting.interval_s
                self._due[index] = min(self._due[index], self._clock() + setting.interval_s)
        self.config_version = config.version
        log.info("remote config %d applied", config.version)
        return config.version, True, ""

    def run(self, stop: threading.Event, poll_s: float = 0.2, notifier: Notifier | None = None) -> None:
        """Loop until ``stop``; tells systemd when ready and pings its watchdog from the loop."""
        if notifier is not None:
            notifier.ready()
        while not stop.is_set():
            if notifier is not None:
                notifier.watchdog()
            stop.wait(min(self.step(), poll_s))
