"""A device's MQTT link: authenticated, QoS 1, every readings pack kept until the server settles it.

paho-mqtt and the standard library only, so it runs on the street hardware. The edge agent (with
its durable queue) and the simulators publish through this one class, so both are loss-free end
to end, whatever the broker forgets.

A readings pack is *settled* when the server's receipt names it (``edge.receipts``: stored,
partly or wholly quarantined) or when the broker refuses it for good (a PUBACK failure such as
*not authorised*). Until then the link publishes it again, same payload, same pack id, and
idempotent writes on the server absorb the copies:

* ``receipt_timeout_s`` after a successful PUBACK that no receipt followed (the broker lost the
  message in a crash, or queued it for an ingestor that has gone), doubling with every attempt
  up to ``max_interval_s``;
* ``unrouted_s`` after a PUBACK saying *No matching subscribers* (MQTT v5 reason 0x10: no ingestor
  was subscribed at that instant, e.g. just after a broker restart - Mosquitto 2.0 does not
  persist shared subscriptions), doubling likewise.

A copy still waiting for its PUBACK is left to paho, which re-sends it after a reconnect, so a pack
never has two copies queued. Nothing is handed to paho while disconnected: it waits here and goes
out once the broker's CONNACK has said how large a packet it takes. Other messages (status,
heartbeat, configuration answers) are done at their PUBACK (after 0x10: again after a pause).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge import protocol
from edge.mqtt_client import AUTH_FAILURES, RECONNECT_MAX_S, RECONNECT_MIN_S, make_client
from edge.receipts import SERVER_SETTLEMENTS, Settlement, decode_receipt, new_pack_id

log = logging.getLogger(__name__)

NO_MATCHING_SUBSCRIBERS = 0x10
DISCONNECT_WITH_WILL = 0x04
AUTH_RETRY_MIN_S = 30
AUTH_RETRY_MAX_S = 300
KEEPALIVE_S = 30
TICK_S = 0.5  # how often overdue packs are looked for
# Fixed header, topic length, packet id and the two properties take far less than this.
PUBLISH_OVERHEAD_BYTES = 1024
Settled = Callable[[Settlement], None]


@dataclass(frozen=True)
class ResendPolicy:
    """When a pack is published again; see the module docstring. Seconds."""

    receipt_timeout_s: float = 30.0
    max_interval_s: float = 120.0
    unrouted_s: float = 1.0

    def after(self, base_s: float, attempt: int) -> float:
        return float(min(self.max_interval_s, base_s * 2 ** min(attempt, 30)))


@dataclass
class _Outgoing:
    key: bytes  # a readings pack's id (its Correlation Data); a private key for other messages
    topic: str
    payload: bytes
    retain: bool
    confirmed: bool  # a readings pack, done at its receipt; otherwise done at its PUBACK
    on_settled: Settled | None
    sent: bool = False
    broker_holds: bool = False  # the broker acknowledged a copy (a pack then waits for its receipt)
    attempts: int = 0  # copies published after the first
    due: float = math.inf  # monotonic time to publish (again); inf while a copy awaits its PUBACK


class NetworkLoop(Protocol):
    """Runs the network I/O of many links on one thread (``simulators.network.SharedLoop``)."""

    def connect(self, client: mqtt.Client, host: str, port: int, keepalive: int) -> None: ...

    def detach(self, client: mqtt.Client) -> None: ...

    def add_ticker(self, tick: Callable[[], object]) -> None: ...

    def remove_ticker(self, tick: Callable[[], object]) -> None: ...


class DeviceLink:
    def __init__(
        self,
        endpoint: protocol.MqttEndpoint,
        device_id: str,
        client_id: str | None = None,
        version: str = "",
        network: NetworkLoop | None = None,
        policy: ResendPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device_id = device_id
        self.topic = protocol.readings_topic(device_id)
        self.receipts_topic = protocol.receipts_topic(device_id)
        self.status_topic = protocol.device_topic(device_id, protocol.STATUS_CHANNEL)
        self.config_topic = protocol.device_topic(device_id, protocol.CONFIG_CHANNEL)
        self.policy = policy or ResendPolicy()
        self._clock = clock
        self._lock = threading.Condition()
        self._outgoing: dict[bytes, _Outgoing] = {}
        self._by_mid: dict[int, bytes] = {}
        self._early_acks: dict[int, ReasonCode] = {}  # PUBACKs that beat publish() returning
        self._max_packet: int | None = None  # the broker's Maximum Packet Size (CONNACK), when it says
        self.refused: ReasonCode | None = None  # the broker refused our connection
        self.denied = 0  # publishes the broker acknowledged with a failure (e.g. ACL)
        self.unrouted_retries = 0  # publishes repeated after "no matching subscribers"
        self.resent = 0  # packs published again for want of a receipt
        self.settled: Counter[Settlement] = Counter()  # packs by outcome
        self.connected = threading.Event()
        self.configs: queue.SimpleQueue[bytes] = queue.SimpleQueue()  # remote configs, applied by the agent
        self._version = version
        client = make_client(endpoint, client_id or f"dev-{device_id}")
        # The broker publishes this if the link dies without a clean goodbye (power cut, kill -9).
        client.will_set(self.status_topic, protocol.encode_status(protocol.STATE_OFFLINE), qos=1, retain=True)
        client.on_message = self._on_message
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        self._endpoint = endpoint
        self._network = network  # None: paho's own network thread and a resend timer, as on a device
        self._closed = threading.Event()
        self._timer: threading.Thread | None = None

    def start(self) -> None:
        if self._network is not None:
            self._network.add_ticker(self.resend_due)
            self._network.connect(self._client, self._endpoint.host, self._endpoint.port, KEEPALIVE_S)
            return
        self._client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=KEEPALIVE_S, clean_start=False)
        self._client.loop_start()
        if self._timer is None:
            self._timer = threading.Thread(target=self._tick_until_closed, name=f"resend-{self.device_id}", daemon=True)
            self._timer.start()

    # ---- publishing ------------------------------------------------------------------------
    def publish(self, readings: Sequence[protocol.Reading], on_settled: Settled | None = None) -> bytes:
        """Publish readings as one SenML pack, kept until settled; ``on_settled(outcome)`` runs once, on
        a network thread. Returns the pack id."""
        return self.publish_pack(protocol.encode_pack(self.device_id, readings), on_settled)

    def publish_pack(self, payload: bytes, on_settled: Settled | None = None) -> bytes:
        """Publish an encoded pack on this device's readings topic, kept until settled; returns its id."""
        return self._enqueue(_Outgoing(new_pack_id(), self.topic, payload, False, True, on_settled))

    def publish_raw(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish at QoS 1, done at its PUBACK (status, heartbeat, configuration answers)."""
        self._enqueue(_Outgoing(new_pack_id(), topic, payload, retain, False, None))

    def _enqueue(self, item: _Outgoing) -> bytes:
        with self._lock:
            self._outgoing[item.key] = item
            if not self.connected.is_set():
                item.due = -math.inf  # goes out at the first tick after the CONNACK
                return item.key
        self._transmit(item)
        return item.key

    def _transmit(self, item: _Outgoing) -> None:
        limit = self._max_packet
        if limit is not None and len(item.payload) + len(item.topic) + PUBLISH_OVERHEAD_BYTES > limit:
            # The broker would disconnect us for it, and paho would send it again on every reconnect.
            log.error("device %s: a %d-byte message exceeds the broker's packet limit of %d bytes; not sent",
                      self.device_id, len(item.payload), limit)  # fmt: skip
            self._finish(item.key, Settlement.REFUSED)
            return
        properties = None
        if item.confirmed:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.CorrelationData = item.key
            properties.ResponseTopic = self.receipts_topic
        info = self._client.publish(item.topic, item.payload, qos=1, retain=item.retain, properties=properties)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.error("device %s: publish on %s failed: %s", self.device_id, item.topic, mqtt.error_string(info.rc))
            self._finish(item.key, Settlement.REFUSED)
            return
        with self._lock:
            item.sent = True
            early = self._early_acks.pop(info.mid, None)
            if early is None:
                self._by_mid[info.mid] = item.key
        if early is not None:
            self._acknowledged(item.key, early)

    def resend_due(self) -> int:
        """Publish what is due: held while offline, or without receipt / routing past its time. Returns the count."""
        if not self.connected.is_set():
            return 0
        now = self._clock()
        with self._lock:
            due = [item for item in self._outgoing.values() if item.due <= now]
            for item in due:
                item.due = math.inf
                if item.sent:
                    item.attempts += 1
                    self.resent += int(item.confirmed)
        for item in due:
            self._transmit(item)
        return len(due)

    def _tick_until_closed(self) -> None:
        while not self._closed.wait(TICK_S):
            try:
                self.resend_due()
            except Exception:  # noqa: BLE001 - the timer must outlive any one failure
                log.exception("device %s: resending failed; trying again next tick", self.device_id)

    # ---- settling --------------------------------------------------------------------------
    def _acknowledged(self, key: bytes, reason: ReasonCode) -> None:
        with self._lock:
            item = self._outgoing.get(key)
            if item is None:
                return  # settled meanwhile: a receipt can overtake its own PUBACK
            # A retained message is kept by the broker for later subscribers even when nobody
            # listens now, so "no matching subscribers" delivers it all the same.
            if reason.value == NO_MATCHING_SUBSCRIBERS and not item.retain:
                self.unrouted_retries += 1
                item.due = self._clock() + self.policy.after(self.policy.unrouted_s, item.attempts)
                return
            if not reason.is_failure and item.confirmed:
                item.broker_holds = True
                item.due = self._clock() + self.policy.after(self.policy.receipt_timeout_s, item.attempts)
                return
            self.denied += int(reason.is_failure)
        if reason.is_failure:
            log.error("broker rejected a publish of device %s on %s: %s", self.device_id, item.topic, reason)
        self._finish(key, Settlement.REFUSED if reason.is_failure else Settlement.STORED)

    def _finish(self, key: bytes, outcome: Settlement) -> None:
        with self._lock:
            item = self._outgoing.pop(key, None)
            if item is None:
                return
            if item.confirmed:
                self.settled[outcome] += 1
            self._lock.notify_all()
        if item.on_settled is not None:
            item.on_settled(outcome)

    @property
    def awaiting_receipt(self) -> int:
        """Packs the broker has acknowledged and the server has not yet settled."""
        with self._lock:
            return sum(item.broker_holds for item in self._outgoing.values())

    @property
    def outstanding(self) -> int:
        """Messages not yet done: packs without their receipt, others without their PUBACK."""
        with self._lock:
            return len(self._outgoing)

    def wait_acknowledged(self, timeout: float) -> bool:
        """True once every pack so far is settled by the server and every other message has its PUBACK."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._outgoing or self.refused is not None, timeout) and (
                not self._outgoing
            )

    # ---- lifecycle ---------------------------------------------------------------------------
    def stop(self) -> None:
        """A clean goodbye: the device says it is going offline (no Last Will is sent then)."""
        self._closed.set()
        if self.connected.is_set():
            goodbye = self._client.publish(self.status_topic, protocol.encode_status(protocol.STATE_OFFLINE), 1, True)
            try:
                goodbye.wait_for_publish(timeout=2)
            except RuntimeError:  # the link dropped meanwhile: the Last Will says the same
                pass
        if self._network is not None:
            self._network.remove_ticker(self.resend_due)
            self._network.detach(self._client)
        self._client.disconnect()
        if self._network is None:
            self._client.loop_stop()
            if self._timer is not None:
                self._timer.join(timeout=5)

    def drop(self) -> None:
        """Leave as a power cut would: the broker publishes the Last Will (MQTT v5 reason 0x04).

        ``start()`` brings the link back; what is published meanwhile waits here.
        """
        self.connected.clear()
        if self._network is not None:
            self._network.detach(self._client)
        self._client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=DISCONNECT_WITH_WILL))
        if self._network is None:
            self._client.loop_stop()
            # paho's loop_start() makes a new wake-up socket pair without closing the old one (paho 2.1).
            self._client._reset_sockets(sockpair_only=True)

    # ---- paho callbacks: on the network thread, never raising into it ------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, properties: Any) -> None:
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
        self._max_packet = getattr(properties, "MaximumPacketSize", None)
        # The retained config arrives at once; receipts only while connected (our session ends
        # with the connection, and a pack whose receipt went astray is simply published again).
        client.subscribe([(self.config_topic, 1), (self.receipts_topic, 1)])
        with self._lock:
            self.refused = None
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        self.connected.set()
        # Birth message: retained, so whoever subscribes later learns the device is up.
        self.publish_raw(self.status_topic, protocol.encode_status(protocol.STATE_ONLINE, self._version), retain=True)
        self.resend_due()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.config_topic:
            self.configs.put(bytes(message.payload))
        elif message.topic == self.receipts_topic:
            try:
                settled = decode_receipt(bytes(message.payload))
            except protocol.ProtocolError as error:
                log.warning("device %s: unreadable receipt ignored: %s", self.device_id, error)
                return
            for key, outcome in settled.items():
                with self._lock:
                    item = self._outgoing.get(key)
                if item is not None and item.confirmed and outcome in SERVER_SETTLEMENTS:
                    if outcome is not Settlement.STORED:
                        log.warning("device %s: a pack was %s by the server (see its quarantine)", self.device_id,
                                    outcome)  # fmt: skip
                    self._finish(key, outcome)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _reason: ReasonCode, _p: Any) -> None:
        self.connected.clear()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self._lock:
            key = self._by_mid.pop(mid, None)
            if key is None:
                self._early_acks[mid] = reason
                return
        self._acknowledged(key, reason)
