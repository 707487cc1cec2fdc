"""Moving stored readings to the server: oldest first, a bounded number in flight, a bounded drain rate.

Readings leave the store only when their pack is settled: the server's receipt says it committed
them (or quarantined them for good), or the broker refused them for good. A PUBACK is not enough,
since a broker can lose what it acknowledged. Settlements arrive on paho's thread and are applied
on the agent's thread at the next ``pump()``, so the SQLite store is only ever touched from one
thread. After a restart, readings whose receipt never came are simply packed and sent again.
"""

from __future__ import annotations

import functools
import logging
import queue
import time
from collections.abc import Callable
from typing import assert_never

from edge.link import DeviceLink
from edge.receipts import Settlement
from edge.store import ReadingStore

log = logging.getLogger(__name__)

# Packs published and not yet settled. paho refuses more than 65,535 unacknowledged QoS 1
# messages; stay far below.
DEFAULT_MAX_IN_FLIGHT = 64


class Forwarder:
    def __init__(
        self,
        store: ReadingStore,
        link: DeviceLink,
        *,
        readings_per_message: int = 100,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_readings_per_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= max_in_flight <= 65_535:
            raise ValueError("max_in_flight must be between 1 and 65,535")
        self._store = store
        self._link = link
        self._per_message = readings_per_message
        self._max_in_flight = max_in_flight
        self._rate = max_readings_per_s
        self._clock = clock
        self._allowance = float(readings_per_message)
        self._last_refill = clock()
        self._in_flight: dict[int, list[int]] = {}  # message token -> reading ids
        self._next_token = 0
        self._settled: queue.SimpleQueue[tuple[int, Settlement]] = queue.SimpleQueue()
        self.refused_readings = 0  # the broker refused them for good (e.g. ACL): counted, logged, dropped
        self.quarantined_packs = 0  # the server quarantined all or part of them (it keeps them, with the reason)

    @property
    def in_flight_messages(self) -> int:
        return len(self._in_flight)

    def pump(self) -> int:
        """Apply acknowledgements, then publish what the limits allow; returns messages published."""
        self._apply_settlements()
        if not self._link.connected.is_set():
            return 0  # keep readings on disk, not in paho's memory, while offline
        self._refill()
        published = 0
        busy = [i for ids in self._in_flight.values() for i in ids]
        while len(self._in_flight) < self._max_in_flight and self._allowance >= 1:
            batch = self._store.oldest(min(self._per_message, int(self._allowance)), skip=busy)
            if not batch:
                break
            token = self._next_token
            self._next_token += 1
            ids = [q.id for q in batch]
            self._in_flight[token] = ids
            busy += ids
            self._allowance -= len(batch)
            self._link.publish([q.reading for q in batch], functools.partial(self._on_settled, token))
            published += 1
        return published

    def _on_settled(self, token: int, outcome: Settlement) -> None:
        self._settled.put((token, outcome))  # paho's thread: hand over, apply in pump()

    def _refill(self) -> None:
        now = self._clock()
        if self._rate is None:
            self._allowance = float(self._per_message * self._max_in_flight)
        else:
            burst = float(max(self._per_message, self._rate))
            self._allowance = min(burst, self._allowance + (now - self._last_refill) * self._rate)
        self._last_refill = now

    def _apply_settlements(self) -> None:
        settled: list[int] = []
        while True:
            try:
                token, outcome = self._settled.get_nowait()
            except queue.Empty:
                break
            ids = self._in_flight.pop(token, [])
            match outcome:
                case Settlement.REFUSED:
                    self.refused_readings += len(ids)
                    log.error("the broker refused %d readings for good; dropping them (counted)", len(ids))
                case Settlement.PARTIAL | Settlement.QUARANTINED:
                    self.quarantined_packs += 1
                case Settlement.STORED:
                    pass
                case unreachable:
                    assert_never(unreachable)
            settled += ids
        self._store.remove(settled)
