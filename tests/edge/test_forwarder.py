"""Forwarding limits and settlement handling, with a fake link (pure logic)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from edge.forwarder import Forwarder
from edge.protocol import Reading
from edge.receipts import Settlement
from edge.store import ReadingStore


class FakeLink:
    def __init__(self) -> None:
        self.connected = threading.Event()
        self.connected.set()
        self.sent: list[tuple[list[Reading], Callable[[Settlement], None]]] = []

    def publish(self, readings: Sequence[Reading], on_settled: Callable[[Settlement], None]) -> None:
        self.sent.append((list(readings), on_settled))


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _store(tmp_path: Path, count: int) -> ReadingStore:
    store = ReadingStore(tmp_path / "q.db")
    store.append([Reading("rainfall", float(i), 1.0, "mm") for i in range(count)])
    return store


def test_in_flight_cap_time_order_and_removal_on_delivery(tmp_path: Path) -> None:
    store, link = _store(tmp_path, 35), FakeLink()
    forwarder = Forwarder(store, link, readings_per_message=10, max_in_flight=2)  # type: ignore[arg-type]
    assert forwarder.pump() == 2 and forwarder.pump() == 0  # capped at two messages in flight
    assert [r.time for r in link.sent[0][0]] == [float(i) for i in range(10)]
    link.sent[1][1](Settlement.STORED)  # the second pack is settled first
    assert forwarder.pump() == 1
    assert [r.time for r in link.sent[2][0]] == [float(i) for i in range(20, 30)]
    assert store.stats().depth == 25


def test_offline_link_publishes_nothing(tmp_path: Path) -> None:
    store, link = _store(tmp_path, 5), FakeLink()
    link.connected.clear()
    assert Forwarder(store, link).pump() == 0 and store.stats().depth == 5  # type: ignore[arg-type]


def test_drain_rate_is_bounded(tmp_path: Path) -> None:
    store, link, clock = _store(tmp_path, 1000), FakeLink(), Clock()
    forwarder = Forwarder(store, link, readings_per_message=50, max_in_flight=100, max_readings_per_s=100,  # type: ignore[arg-type]
                          clock=clock)  # fmt: skip
    forwarder.pump()
    clock.now = 2.0
    forwarder.pump()
    sent = sum(len(readings) for readings, _ in link.sent)
    assert sent == 50 + 100  # the first message, then two seconds' worth (capped at one second of burst)


def test_refused_readings_are_counted_and_dropped(tmp_path: Path) -> None:
    store, link = _store(tmp_path, 10), FakeLink()
    forwarder = Forwarder(store, link, readings_per_message=10)  # type: ignore[arg-type]
    forwarder.pump()
    link.sent[0][1](Settlement.REFUSED)
    forwarder.pump()
    assert forwarder.refused_readings == 10 and store.stats().depth == 0


def test_readings_stay_until_the_server_settles_their_pack_whatever_it_says(tmp_path: Path) -> None:
    store, link = _store(tmp_path, 30), FakeLink()
    forwarder = Forwarder(store, link, readings_per_message=10, max_in_flight=3)  # type: ignore[arg-type]
    forwarder.pump()
    assert store.stats().depth == 30 and forwarder.in_flight_messages == 3  # sent is not settled
    link.sent[0][1](Settlement.PARTIAL)
    link.sent[1][1](Settlement.QUARANTINED)  # the server keeps them in its quarantine: never sent again
    forwarder.pump()
    assert store.stats().depth == 10 and forwarder.quarantined_packs == 2 and forwarder.refused_readings == 0
    assert len(link.sent) == 3  # nothing left to send but the pack still awaiting its receipt
