"""The broker acknowledges readings and crashes before saving them: the edge agent, which keeps
every pack until the server's receipt, sends them again, and each reading is stored exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

from devstack.waiting import wait_until
from edge import protocol
from edge.agent import Agent, SensorSchedule
from edge.forwarder import Forwarder
from edge.link import DeviceLink, ResendPolicy
from edge.store import ReadingStore
from tests.harness import Stack

READINGS = 600
FAST = ResendPolicy(receipt_timeout_s=1.0, max_interval_s=2.0, unrouted_s=0.5)


class LimitedRamp:
    """0.25, 0.5, ... up to ``limit`` readings, then nothing (values exact in binary). Past ``hold_at``
    it reads nothing until ``resume`` is set: the test's interruptions then land mid-run on any machine."""

    def __init__(self, limit: int, hold_at: int) -> None:
        self.limit, self.hold_at, self.count = limit, hold_at, 0
        self.resume = threading.Event()

    def read(self, now: float) -> float | None:
        if self.count >= self.limit or (self.count >= self.hold_at and not self.resume.is_set()):
            return None
        self.count += 1
        return self.count / 4


def test_readings_acknowledged_by_a_broker_that_then_crashes_unsaved_are_stored_exactly_once(
    stack: Stack, tmp_path: Path
) -> None:
    stack.broker.autosave_interval_s = 3600  # no snapshot before the crash: what the broker holds dies with it
    stack.broker.restart()
    (device,) = stack.provision(1)
    keep_session = {"URBANPULSE_INGEST__SESSION_EXPIRY_S": "600"}  # the broker queues for the dead ingestor
    stack.start_ingestor(extra_env=keep_session)
    endpoint = protocol.MqttEndpoint("127.0.0.1", stack.broker.port, False, device.device_id, device.password)
    link = DeviceLink(endpoint, device.device_id, policy=FAST)
    store = ReadingStore(tmp_path / "queue.db")
    forwarder = Forwarder(store, link, readings_per_message=10, max_in_flight=16)
    driver = LimitedRamp(READINGS, hold_at=READINGS // 3)
    agent = Agent([SensorSchedule("water_level", 0.01, driver)], store, forwarder, link=link)
    link.start()
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop, 0.01), daemon=True)
    runner.start()
    try:
        wait_until(lambda: stack.rows() >= 100, timeout=60, what="the first readings to be stored")
        stack.ingestors[0].kill9()  # its session lives on: the broker goes on taking packs for it
        driver.resume.set()  # the rest of the readings go to a broker that holds them for nobody
        wait_until(lambda: link.awaiting_receipt >= 5, timeout=60, what="packs the broker holds for nobody")
        held, stored = link.awaiting_receipt, stack.rows()
        stack.broker.kill9()
        assert held >= 5 and stored < READINGS, "the crash must land between the broker's PUBACK and a save"
        stack.broker.start()  # from the old snapshot: no session, no queued message
        stack.start_ingestor(extra_env=keep_session)
        wait_until(lambda: driver.count == READINGS and store.stats().depth == 0, timeout=120,
                   what="the agent's queue to empty, every pack settled by a receipt")  # fmt: skip
    finally:
        stop.set()
        runner.join(timeout=10)
        link.stop()
        store.close()
    assert stack.rows() == READINGS
    assert link.resent > 0  # the lost packs came back because the agent sent them again
    assert stack.quarantine_reasons() == {}
    with stack.connect() as conn:
        values = [v for (v,) in conn.execute("SELECT value FROM readings ORDER BY time")]
    assert values == [i / 4 for i in range(1, READINGS + 1)]  # every reading once, none reordered
