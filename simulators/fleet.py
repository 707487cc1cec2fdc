"""A fleet of simulated devices, each with its own credentials and MQTT link.

Publishes through ``edge.link.DeviceLink``, the same code path as a real device, so the
broker's authentication and ACLs apply to every simulated reading, and every pack is kept (in
memory) and published again until the server's receipt settles it: the simulated city loses
nothing to a broker crash or a departed ingestor either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from edge import protocol
from edge.link import DeviceLink, ResendPolicy
from simulators import basic
from simulators.emission import Action, Outgoing
from simulators.network import SharedLoop


@dataclass(frozen=True)
class DeviceCredential:
    device_id: str
    password: str


class Fleet:
    def __init__(
        self,
        host: str,
        port: int,
        devices: Sequence[DeviceCredential],
        tls: bool = False,
        policy: ResendPolicy | None = None,
    ) -> None:
        self.network = SharedLoop()  # one network thread for every link, not one thread each
        self.links = [
            DeviceLink(
                protocol.MqttEndpoint(host, port, tls, d.device_id, d.password),
                d.device_id,
                network=self.network,
                policy=policy,
            )
            for d in devices
        ]
        self.by_device = {link.device_id: link for link in self.links}
        self.published_readings = 0
        self.published_messages = 0

    def send(self, messages: Sequence[Outgoing]) -> int:
        """Put emitted messages on the wire in order; returns the valid readings published."""
        readings = 0
        for message in messages:
            link = self.by_device[message.device]
            if message.action == Action.PUBLISH:
                link.publish_pack(message.payload)
                readings += message.readings
                self.published_messages += 1
            elif message.action == Action.DISCONNECT:
                link.drop()
            else:
                link.start()
        self.published_readings += readings
        return readings

    def start(self, timeout: float = 20.0) -> None:
        for link in self.links:
            link.start()
        for link in self.links:
            if not link.connected.wait(timeout):
                raise TimeoutError(
                    f"device {link.device_id} did not connect within {timeout} s (refused: {link.refused})"
                )

    def publish_block(
        self,
        block: basic.Block,
        readings_per_message: int,
        stop: threading.Event | None = None,
        pause_s: float = 0.0,
    ) -> int:
        """Publish every reading of ``block`` (devices in step order), packed N per message.

        ``pause_s`` between rounds spreads the stream out in time (``stop.wait``, so a stop
        request ends it early). Returns the number of readings published.
        """
        per_device = [
            [r for step in range(len(block.times)) for r in basic.readings_for(block, i, step)]
            for i in range(len(self.links))
        ]
        total = 0
        offset = 0
        longest = max((len(r) for r in per_device), default=0)
        while offset < longest:
            for link, readings in zip(self.links, per_device, strict=True):
                chunk = readings[offset : offset + readings_per_message]
                if chunk:
                    link.publish(chunk)
                    total += len(chunk)
                    self.published_readings += len(chunk)
                    self.published_messages += 1
            offset += readings_per_message
            if pause_s and stop is not None and stop.wait(pause_s):
                break
        return total

    def wait_acknowledged(self, timeout: float) -> bool:
        """True once every link's packs are settled by the server (``timeout`` seconds overall)."""
        deadline = time.monotonic() + timeout
        return all(link.wait_acknowledged(max(0.0, deadline - time.monotonic())) for link in self.links)

    @property
    def resent(self) -> int:
        """Packs published again for want of a receipt, over all links."""
        return sum(link.resent for link in self.links)

    def stop(self) -> None:
        for link in self.links:
            link.stop()
        self.network.close()
