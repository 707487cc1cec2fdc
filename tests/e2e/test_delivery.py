"""End to end through the real broker and database: every reading stored exactly once,
whatever fails in the middle (ingestor killed, broker restarted, database restarted)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

import pytest

from devstack.waiting import wait_until
from edge.link import ResendPolicy
from simulators import basic
from tests.harness import NO_RESEND, Stack, join_publisher, stream_in_background

DEVICES = 20
READINGS_PER_DEVICE = 500
TOTAL = DEVICES * READINGS_PER_DEVICE  # 10,000


def _assert_exact(stack: Stack) -> None:
    stack.wait_rows(TOTAL, timeout=90)
    with stack.connect() as conn:
        counted = conn.execute(
            """SELECT count(*), count(DISTINCT r.sensor_id), min(n) FROM readings r,
                      LATERAL (SELECT count(*) AS n FROM readings x JOIN sensors s USING (sensor_id)
                               WHERE s.device_id = (SELECT device_id FROM sensors WHERE sensor_id = r.sensor_id)) c"""
        ).fetchone()
    assert counted is not None
    rows, sensors, per_device = counted
    assert rows == TOTAL
    assert sensors == DEVICES * 4
    assert per_device == READINGS_PER_DEVICE


def test_fleet_readings_arrive_exactly_once(stack: Stack) -> None:
    devices = stack.provision(DEVICES)
    ingestor = stack.start_ingestor()
    fleet = stack.fleet(devices)
    thread, _ = stream_in_background(fleet, READINGS_PER_DEVICE, per_message=20, pause_s=0.0, start=time.time() - 86400)
    join_publisher(thread)
    assert fleet.wait_acknowledged(timeout=60)
    _assert_exact(stack)
    wait_until(
        lambda: ingestor.metric("urbanpulse_ingest_readings_stored_total") == TOTAL,
        timeout=60,
        what="metrics to report every stored reading",
    )
    assert ingestor.metric("urbanpulse_ingest_quarantined_total") == 0
    with stack.connect() as conn:  # sensors registered by their first reading, awaiting a survey
        assert conn.execute("SELECT DISTINCT placement FROM sensors").fetchall() == [("unplaced",)]
    fleet.stop()


def _interrupted_stream(stack: Stack, interrupt: Callable[[Stack], None]) -> None:
    """Stream 10,000 readings slowly, call ``interrupt`` once a part is stored, then expect exactly all.
    The second half of the stream waits for the interruption, so it happens mid-stream on any machine."""
    devices = stack.provision(DEVICES)
    stack.start_ingestor()
    fleet = stack.fleet(devices)
    resume = threading.Event()
    thread, _ = stream_in_background(
        fleet, READINGS_PER_DEVICE, per_message=20, pause_s=0.12, start=time.time() - 86400, resume=resume
    )
    wait_until(lambda: stack.rows() >= 1000, timeout=60, what="the first 1,000 rows")
    assert stack.rows() < TOTAL, "the interruption must happen mid-stream"
    interrupt(stack)
    resume.set()
    join_publisher(thread)
    assert fleet.wait_acknowledged(timeout=90)
    _assert_exact(stack)
    fleet.stop()


def test_ingestor_killed_mid_stream_loses_nothing(stack: Stack) -> None:
    def kill_and_restart(s: Stack) -> None:
        s.ingestors[0].kill9()
        s.start_ingestor(
            wait_subscribed=False
        )  # same client id: resumes the broker session and its unacknowledged messages

    _interrupted_stream(stack, kill_and_restart)


def test_broker_restart_mid_stream_loses_nothing(stack: Stack) -> None:
    _interrupted_stream(stack, lambda s: s.broker.restart())


def test_database_restart_mid_stream_loses_nothing(stack: Stack) -> None:
    _interrupted_stream(stack, lambda s: s.postgres.restart())
    assert "retry" in stack.ingestors[0].log_text()


def test_database_connections_terminated_mid_stream_loses_nothing(stack: Stack) -> None:
    dbname = stack.database_url.rsplit("dbname=", 1)[1].split()[0]

    def terminate(s: Stack) -> None:
        assert s.postgres.terminate_backends(dbname) >= 1

    _interrupted_stream(stack, terminate)


def test_two_ingestors_split_a_shared_subscription(stack: Stack) -> None:
    devices = stack.provision(DEVICES)
    first, second = stack.start_ingestor("ingest-a"), stack.start_ingestor("ingest-b")
    fleet = stack.fleet(devices, NO_RESEND)  # a resent pack would be a duplicate the subscription did not make
    thread, _ = stream_in_background(
        fleet, READINGS_PER_DEVICE, per_message=10, pause_s=0.01, start=time.time() - 86400
    )
    join_publisher(thread)
    assert fleet.wait_acknowledged(timeout=120)
    _assert_exact(stack)
    stored = [p.metric("urbanpulse_ingest_readings_stored_total") for p in (first, second)]
    duplicates = [p.metric("urbanpulse_ingest_readings_duplicate_total") for p in (first, second)]
    assert sum(stored) == TOTAL and duplicates == [0, 0]
    assert min(stored) > 0.2 * TOTAL, f"load not shared: {stored}"
    fleet.stop()


@pytest.mark.parametrize("per_message", [1, 100])
def test_single_and_large_packs(stack: Stack, per_message: int) -> None:
    devices = stack.provision(2)
    stack.start_ingestor()
    fleet = stack.fleet(devices)
    thread, _ = stream_in_background(fleet, 200, per_message=per_message, pause_s=0.0, start=time.time() - 3600)
    join_publisher(thread)
    assert fleet.wait_acknowledged(timeout=60)
    assert stack.wait_rows(400) == 400
    fleet.stop()


@pytest.mark.parametrize("leave", ["kill9", "sigterm"])
def test_an_ingestor_that_leaves_for_good_strands_nothing_beyond_the_bound(stack: Stack, leave: str) -> None:
    """The broker keeps assigning a departed member of the shared subscription its share until that
    member's session ends (MQTT v5 §4.8.2: what is queued in it is then dropped, not re-sent to the
    others). A short session expiry and the devices' resends bound the wait: session expiry + the
    longest resend interval, after the last publish (docs/operations.md)."""
    session_expiry_s, policy = 3, ResendPolicy(receipt_timeout_s=3.0, max_interval_s=4.0, unrouted_s=0.5)
    expiry = {"URBANPULSE_INGEST__SESSION_EXPIRY_S": str(session_expiry_s)}
    devices = stack.provision(DEVICES)
    stack.start_ingestor("ingest-a", extra_env=expiry)
    survivor = stack.start_ingestor("ingest-b", extra_env=expiry)
    fleet = stack.fleet(devices, policy)
    resume = threading.Event()  # the second half of the stream waits for the departure
    thread, _ = stream_in_background(fleet, READINGS_PER_DEVICE, per_message=10, pause_s=0.05,
                                     start=time.time() - 86400, resume=resume)  # fmt: skip
    wait_until(lambda: stack.rows() >= 1000, timeout=60, what="the first 1,000 rows")
    if leave == "kill9":
        stack.ingestors[0].kill9()
    else:
        assert stack.ingestors[0].stop() == 0  # SIGTERM: unsubscribe, settle what it holds, end its session
    assert stack.rows() < TOTAL, "the departure must happen mid-stream"
    resume.set()
    join_publisher(thread)
    bound_s = session_expiry_s + policy.max_interval_s
    slack_s = 60  # CI machines are busy: the bound is checked generously, the loss not at all
    assert fleet.wait_acknowledged(timeout=bound_s + slack_s)
    _assert_exact(stack)
    assert survivor.process.poll() is None
    if leave == "kill9":
        assert fleet.resent > 0  # what the dead member's session held came back by the devices' resends
        wait_until(lambda: "Expiring client ingest-a" in stack.broker.log_path.read_text(), timeout=bound_s + slack_s,
                   what="the dead member's session to expire")  # fmt: skip
    # Once its session has ended (at once on SIGTERM), the departed member gets no share at all:
    # new packs all reach the survivor, first time, and none needs sending again. A pack waits for
    # its receipt longer than the test waits, so a slow receipt on a busy machine is no resend and
    # a pack given to the departed member is never settled.
    for link in fleet.links:
        link.policy = dataclasses.replace(NO_RESEND, unrouted_s=policy.unrouted_s)
    resent = fleet.resent
    late = basic.generate(DEVICES, time.time() - 3600, 1.0, 5, seed=8)
    assert fleet.publish_block(late, readings_per_message=4) == DEVICES * 20
    assert fleet.wait_acknowledged(timeout=60) and fleet.resent == resent
    assert stack.rows() == TOTAL + DEVICES * 20
    fleet.stop()
