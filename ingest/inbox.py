"""The MQTT side of the ingestor: a persistent, shared, manually acknowledged subscription.

paho's network thread only appends messages to a queue; the pipeline thread acknowledges
them after its database commit and then publishes the devices' receipts. The broker never has
more than ``receive_maximum`` unacknowledged messages out to us (MQTT v5 flow control), which
bounds our memory. A message received before a reconnect is never acknowledged after it: packet
ids belong to one connection, and the broker redelivers such messages anyway (idempotent writes
absorb them).

The session outlives a connection by ``session_expiry_s`` (a restart under the same client id
resumes it). A clean stop unsubscribes first, so the broker assigns this member no new
messages, and ends the session on the way out (Session Expiry Interval 0 in DISCONNECT,
MQTT v5 §3.14.2.2.2), so nothing waits for a member that is not coming back.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge import protocol
from edge.mqtt_client import AUTH_FAILURES, make_client
from ingest.batch import Inbound
from ingest.errors import BrokerAuthError

log = logging.getLogger(__name__)


class Delivery(NamedTuple):
    message: Inbound
    mid: int
    qos: int
    connection: int  # which connection it arrived on


class MqttInbox:
    def __init__(
        self,
        endpoint: protocol.MqttEndpoint,
        *,
        client_id: str,
        topic_filters: Sequence[str],
        receive_maximum: int,
        session_expiry_s: int,
    ) -> None:
        self.endpoint = endpoint
        self.topic_filters = list(topic_filters)
        self.client_id = client_id
        self.deliveries: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # connected and the broker acknowledged our subscription
        self.fatal: BrokerAuthError | None = None
        self._stopping = False
        self._connection = 0
        self._connect_properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        self._connect_properties.SessionExpiryInterval = session_expiry_s
        self._connect_properties.ReceiveMaximum = receive_maximum
        client = make_client(endpoint, client_id, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.client = client

    def start(self) -> None:
        self.client.connect_async(
            self.endpoint.host,
            self.endpoint.port,
            keepalive=30,
            clean_start=False,
            properties=self._connect_properties,
        )
        self.client.loop_start()

    def leave(self) -> None:
        """Unsubscribe: the broker stops assigning messages to us; those already sent still arrive."""
        self._stopping = True
        if self.connected.is_set():
            self.client.unsubscribe(self.topic_filters)

    def stop(self) -> None:
        """Disconnect and end the session: messages still queued in it are dropped by the broker,
        and their devices publish them again for want of a receipt."""
        self._stopping = True
        end = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
        end.SessionExpiryInterval = 0
        self.client.disconnect(properties=end)
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes) -> bool:
        """Best effort, QoS 0 (a receipt that goes astray only makes its device publish once more)."""
        if not self.connected.is_set():
            return False
        return self.client.publish(topic, payload, qos=0).rc == mqtt.MQTT_ERR_SUCCESS

    @property
    def connection(self) -> int:
        return self._connection

    def ack(self, delivery: Delivery) -> bool:
        """Acknowledge if still on the connection it arrived on; False when left for redelivery."""
        if delivery.qos == 0:
            return True
        if delivery.connection != self._connection or not self.connected.is_set():
            return False
        self.client.ack(delivery.mid, delivery.qos)
        return True

    # paho callbacks: run on the network thread and must never raise into it.
    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        if reason.is_failure:
            if reason.value in AUTH_FAILURES:
                self.fatal = BrokerAuthError(
                    f"the broker at {self.endpoint.redacted()} refused our credentials: {reason}"
                )
                log.error("%s; not retrying", self.fatal)
                client.disconnect()
            else:
                log.warning("broker refused the connection: %s; retrying", reason)
            return
        self._connection += 1
        self.connected.set()
        # Re-subscribe on every connect: harmless on a resumed session, vital on a lost one
        # (and after a broker restart: Mosquitto 2.0 does not persist shared subscriptions).
        if not self._stopping:
            client.subscribe([(f, 1) for f in self.topic_filters])
        log.info(
            "connected to %s as %s, subscribed to %s", self.endpoint.redacted(), self.client_id, self.topic_filters
        )

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: list[ReasonCode], _props: Any
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("the broker refused our subscription to %s: %s", self.topic_filters, reasons)
            return
        self.subscribed.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if self.fatal is None and not self._stopping:
            log.warning("disconnected from the broker (%s); paho reconnects", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        correlation = getattr(message.properties, "CorrelationData", None)
        inbound = Inbound(message.topic, bytes(message.payload), time.time(), correlation)
        self.deliveries.put(Delivery(inbound, message.mid, message.qos, self._connection))
