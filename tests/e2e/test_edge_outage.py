"""The edge agent through a broker outage: it keeps sampling into its durable queue and, once
the broker is back, every reading arrives exactly once."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

from devstack.waiting import wait_until
from edge.agent import Agent, SensorSchedule
from edge.forwarder import Forwarder
from edge.store import ReadingStore
from tests.harness import Stack


class Ramp:
    """A deterministic driver: 0.25, 0.5, 0.75, ... (exact in binary, and possible for every kind)."""

    def __init__(self) -> None:
        self._values = itertools.count(1)

    def read(self, now: float) -> float | None:
        return next(self._values) / 4


class FastClock:
    """Simulated time: each call advances 1 s while ``running``, so hours of sampling take a moment."""

    def __init__(self, start: float) -> None:
        self._now = start
        self.running = True

    def __call__(self) -> float:
        self._now += 1.0 if self.running else 0.0
        return self._now


def test_agent_keeps_sampling_through_a_broker_outage_and_loses_nothing(stack: Stack, tmp_path: Path) -> None:
    (device,) = stack.provision(1)
    ingestor = stack.start_ingestor(extra_env={"URBANPULSE_INGEST__ROLLUPS_EVERY_S": "0.5"})
    link = stack.link(device)
    store = ReadingStore(tmp_path / "queue.db")
    forwarder = Forwarder(store, link, readings_per_message=50, max_in_flight=8)
    clock = FastClock(time.time() - 6 * 3600)
    agent = Agent(
        [SensorSchedule("water_level", 2.0, Ramp()), SensorSchedule("rainfall", 4.0, Ramp())], store, forwarder, clock
    )
    for _ in range(200):
        agent.step()
    stack.broker.stop()  # the street cabinet loses its link
    wait_until(lambda: not link.connected.is_set(), timeout=60, what="the link to drop")
    for _ in range(2000):
        agent.step()
    assert store.stats().depth > 1000, "readings must pile up on disk during the outage"
    stack.broker.start()
    clock.running = False  # stop sampling: only the backlog moves from here on
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop, 0.01), daemon=True)
    runner.start()
    try:
        # paho's next try may be up to 30 s after the broker is back, then 2,200 readings go through
        wait_until(lambda: store.stats().depth == 0 and forwarder.in_flight_messages == 0, timeout=240,
                   what="the backlog to drain")  # fmt: skip
    finally:
        stop.set()
        runner.join(timeout=10)
    stack.wait_rows(agent.readings_taken)  # acknowledged by the broker does not yet mean committed
    assert stack.quarantine_reasons() == {}
    with stack.connect() as conn:
        rows = conn.execute(
            "SELECT s.name, count(*), count(DISTINCT r.time), min(r.value), max(r.value) "
            "FROM readings r JOIN sensors s USING (sensor_id) GROUP BY s.name ORDER BY s.name"
        ).fetchall()
    assert [r[0] for r in rows] == ["rainfall", "water_level"]
    for name, count, distinct, low, high in rows:  # each sensor's ramp arrived whole, once
        assert count == distinct and low == 0.25 and high == count / 4, (name, count, low, high)
    assert sum(r[1] for r in rows) == agent.readings_taken
    with stack.connect() as conn:  # in time order each sensor's values climb step by step: nothing reordered
        for name in ("rainfall", "water_level"):
            values = [v for (v,) in conn.execute(
                "SELECT r.value FROM readings r JOIN sensors s USING (sensor_id) WHERE s.name = %s ORDER BY r.time",
                (name,))]  # fmt: skip
            assert values == [i / 4 for i in range(1, len(values) + 1)]
    assert store.stats().evicted_total == 0 and forwarder.refused_readings == 0
    # The backlog is hours old, below the rollups' watermark: the ingestor's refresh job
    # materialises it, and the hourly rollup table then counts every reading that passed QC.
    wait_until(lambda: _materialised_and_counted(stack), timeout=60,
               what="the ingestor's rollup refresh to materialise the backlog")  # fmt: skip
    # the gauge is set after the refresh has committed: the table can show it a moment before
    wait_until(lambda: ingestor.metric("urbanpulse_rollups_materialized_to_seconds") > time.time() - 3 * 3600,
               timeout=60, what="the ingestor's gauge of the materialised span")  # fmt: skip
    link.stop()
    store.close()


def _materialised_and_counted(stack: Stack) -> bool:
    with stack.connect() as conn:
        row = conn.execute(
            "SELECT (SELECT sum(samples) FROM rollup_1h), (SELECT count(*) FROM readings WHERE qc <> 4)"
        ).fetchone()
    return row is not None and row[0] == row[1] > 0
