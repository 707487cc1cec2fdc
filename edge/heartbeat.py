"""The periodic heartbeat: queue depth, age of the oldest queued reading, evictions, disk, CPU
temperature, uptime, version and clock state, published on the device's heartbeat topic.

Sent only while connected: a heartbeat describes *now*, so a backlog of stale ones would only
mislead the operations centre (the queue itself is what must survive an outage).
"""

from __future__ import annotations

from collections.abc import Callable

from edge import health, protocol
from edge.forwarder import Forwarder
from edge.link import DeviceLink
from edge.store import ReadingStore


class HeartbeatSender:
    def __init__(
        self,
        link: DeviceLink,
        store: ReadingStore,
        forwarder: Forwarder,
        interval_s: float = 60.0,
        uptime: Callable[[], float] = health.uptime_s,
    ) -> None:
        self._link = link
        self._store = store
        self._forwarder = forwarder
        self._interval_s = interval_s
        self._uptime = uptime
        self._topic = protocol.device_topic(link.device_id, protocol.HEARTBEAT_CHANNEL)
        self._next = 0.0
        self.sent = 0

    def build(self, now: float, held_total: int, clock: str) -> protocol.Heartbeat:
        stats = self._store.stats()
        return protocol.Heartbeat(
            time=now,
            queue_depth=stats.depth,
            oldest_queued_age_s=None if stats.oldest_time is None else round(now - stats.oldest_time, 3),
            evicted_total=stats.evicted_total,
            refused_total=self._forwarder.refused_readings,
            held_total=held_total,
            disk_free_bytes=health.disk_free_bytes(self._store.path.parent),
            cpu_temperature_c=health.cpu_temperature_c(),
            uptime_s=self._uptime(),
            version=health.VERSION,
            clock=clock,
        )

    def maybe_send(self, now: float, held_total: int, clock: str) -> bool:
        if now < self._next or not self._link.connected.is_set():
            return False
        self._next = now + self._interval_s
        self._link.publish_raw(self._topic, self.build(now, held_total, clock).encode())
        self.sent += 1
        return True
