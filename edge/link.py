"""A device's MQTT link: authenticated, QoS 1, with every publish tracked until delivered.

paho-mqtt and the standard library only, so it runs on the street hardware. The edge agent
(with its durable queue) and the simulators publish through this one class.

"Delivered" means a PUBACK whose reason is success. A PUBACK saying *No matching
subscribers* (MQTT v5 reason 0x10) means the broker dropped the message because no ingestor
was subscribed at that instant - for example just after a broker restart, because Mosquitto
2.0 does not persist shared subscriptions. Such a message is published again after a pause
instead of being counted as sent; this keeps delivery at-least-once end to end.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from edge import protocol
from edge.mqtt_client import AUTH_FAILURES, RECONNECT_MAX_S, RECONNECT_MIN_S, make_client

log = logging.getLogger(__name__)

NO_MATCHING_SUBSCRIBERS = 0x10
DISCONNECT_WITH_WILL = 0x04
AUTH_RETRY_MIN_S = 30
AUTH_RETRY_MAX_S = 300
Settled = Callable[[bool], None]  # called with True when delivered, False when the broker refused
RETRY_UNROUTED_S = 1.0


KEEPALIVE_S = 30


class NetworkLoop(Protocol):
    """Runs the network I/O of many links on one thread (``simulators.network.SharedLoop``)."""

    def connect(self, client: mqtt.Client, host: str, port: int, keepalive: int) -> None: ...

    def detach(self, client: mqtt.Client) -> None: ...


class DeviceLink:
    def __init__(
        self,
        endpoint: protocol.MqttEndpoint,
        device_id: str,
        client_id: str | None = None,
        version: str = "",
        network: NetworkLoop | None = None,
    ) -> None:
        self.device_id = device_id
        self.topic = protocol.readings_topic(device_id)
        self._lock = threading.Condition()
        self._outstanding = 0
        self.refused: ReasonCode | None = None
        self.denied = 0  # publishes the broker acknowledged with a failure (e.g. ACL)
        self.unrouted_retries = 0  # publishes repeated after "no matching subscribers"
        self._inflight: dict[int, tuple[str, bytes, Settled | None]] = {}
        self._early_acks: dict[int, ReasonCode] = {}  # PUBACKs that beat publish() returning
        self.connected = threading.Event()
        client = make_client(endpoint, client_id or f"dev-{device_id}")
        # The broker publishes this if the link dies without a clean goodbye (power cut, kill -9).
        self.status_topic = protocol.device_topic(device_id, protocol.STATUS_CHANNEL)
        client.will_set(self.status_topic, protocol.encode_status(protocol.STATE_OFFLINE), qos=1, retain=True)
        self._version = version
        self.config_topic = protocol.device_topic(device_id, protocol.CONFIG_CHANNEL)
        self.configs: queue.SimpleQueue[bytes] = queue.SimpleQueue()  # remote configs, applied by the agent
        client.on_message = self._on_message
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        self._endpoint = endpoint
        self._network = network  # None: paho's own network thread, as on a device

    def start(self) -> None:
        if self._network is not None:
            self._network.connect(self._client, self._endpoint.host, self._endpoint.port, KEEPALIVE_S)
            return
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=KEEPALIVE_S, clean_start=False)
        self._client.loop_start()

    def publish(self, readings: Sequence[protocol.Reading], on_settled: Settled | None = None) -> None:
        """Queue one SenML pack at QoS 1; paho resends it until the broker acknowledges."""
        self.publish_raw(self.topic, protocol.encode_pack(self.device_id, readings), on_settled)

    def publish_raw(self, topic: str, payload: bytes, on_settled: Settled | None = None) -> None:
        """Publish at QoS 1; ``on_settled(delivered)`` runs on paho's thread once the broker has answered."""
        with self._lock:
            self._outstanding += 1
        self._send(topic, payload, on_settled)

    def _send(self, topic: str, payload: bytes, on_settled: Settled | None) -> None:
        info = self._client.publish(topic, payload, qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            with self._lock:
                self._outstanding -= 1
                self._lock.notify_all()
            raise RuntimeError(f"publish on {topic} failed: {mqtt.error_string(info.rc)}")
        with self._lock:
            early = self._early_acks.pop(info.mid, None)
            if early is None:
                self._inflight[info.mid] = (topic, payload, on_settled)
        if early is not None:
            self._settle(topic, payload, on_settled, early)

    def _settle(self, topic: str, payload: bytes, on_settled: Settled | None, reason: ReasonCode) -> None:
        if reason.value == NO_MATCHING_SUBSCRIBERS:
            with self._lock:
                self.unrouted_retries += 1
            retry = threading.Timer(RETRY_UNROUTED_S, self._send, (topic, payload, on_settled))
            retry.daemon = True
            retry.start()
            return
        if reason.is_failure:
            log.error("broker rejected a publish of device %s on %s: %s", self.device_id, topic, reason)
        with self._lock:
            self._outstanding -= 1
            self.denied += int(reason.is_failure)
            self._lock.notify_all()
        if on_settled is not None:
            on_settled(not reason.is_failure)

    @property
    def outstanding(self) -> int:
        with self._lock:
            return self._outstanding

    def wait_acknowledged(self, timeout: float) -> bool:
        """True once every publish so far has its PUBACK."""
        with self._lock:
            return self._lock.wait_for(lambda: self._outstanding == 0 or self.refused is not None, timeout) and (
                self._outstanding == 0
            )

    def stop(self) -> None:
        """A clean goodbye: the device says it is going offline (no Last Will is sent then)."""
        if self.connected.is_set():
            goodbye = self._client.publish(self.status_topic, protocol.encode_status(protocol.STATE_OFFLINE), 1, True)
            try:
                goodbye.wait_for_publish(timeout=2)
            except RuntimeError:  # the link dropped meanwhile: the Last Will says the same
                pass
        if self._network is not None:
            self._network.detach(self._client)
        self._client.disconnect()
        if self._network is None:
            self._client.loop_stop()

    def drop(self) -> None:
        """Leave as a power cut would: the broker publishes the Last Will (MQTT v5 reason 0x04).

        ``start()`` brings the link back (messages published meanwhile are queued by paho).
        """
        if self._network is not None:
            self._network.detach(self._client)
        self._client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=DISCONNECT_WITH_WILL))
        if self._network is None:
            self._client.loop_stop()
            # paho's loop_start() makes a new wake-up socket pair without closing the old one (paho 2.1).
            self._client._reset_sockets(sockpair_only=True)
        self.connected.clear()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            with self._lock:
                first = self.refused is None
                self.refused = reason
                self._lock.notify_all()
            if reason.value in AUTH_FAILURES:
                # Wrong credentials will not fix themselves in a second: one clear error, then
                # a slow retry (an operator may rotate the password on the server meanwhile).
                client.reconnect_delay_set(min_delay=AUTH_RETRY_MIN_S, max_delay=AUTH_RETRY_MAX_S)
            (log.error if first else log.debug)("broker refused device %s: %s", self.device_id, reason)
            return
        client.subscribe(self.config_topic, qos=1)  # the retained config arrives at once
        # Birth message: retained, so whoever subscribes later learns the device is up.
        client.publish(self.status_topic, protocol.encode_status(protocol.STATE_ONLINE, self._version), 1, True)
        with self._lock:
            self.refused = None
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        self.connected.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.config_topic:
            self.configs.put(bytes(message.payload))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _reason: ReasonCode, _p: Any) -> None:
        self.connected.clear()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self._lock:
            entry = self._inflight.pop(mid, None)
            if entry is None:
                self._early_acks[mid] = reason
                return
        self._settle(entry[0], entry[1], entry[2], reason)
