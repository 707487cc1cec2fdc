"""Security by default on the broker the project starts: no anonymous clients, devices confined
to their own topics, wrong credentials refused clearly."""

from __future__ import annotations

import os
import signal
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devstack.waiting import wait_until
from edge import protocol
from edge.link import DeviceLink
from edge.receipts import Settlement, encode_receipt
from simulators.fleet import DeviceCredential
from tests.harness import Stack


def _connect_result(port: int, username: str | None, password: str | None) -> int:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    results: list[int] = []
    client.on_connect = lambda c, u, f, reason, p: results.append(reason.value)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return wait_until(lambda: results, timeout=60, what="CONNACK")[0]
    finally:
        client.loop_stop()
        client.disconnect()


def test_anonymous_and_wrong_passwords_are_refused(stack: Stack) -> None:
    (device,) = stack.provision(1)
    refused = {0x86, 0x87}  # bad user name or password / not authorized (Mosquitto 2.0 answers the latter)
    assert _connect_result(stack.broker.port, None, None) in refused
    assert _connect_result(stack.broker.port, device.device_id, "wrong") in refused
    assert _connect_result(stack.broker.port, device.device_id, device.password) == 0


def test_a_device_provisioned_while_the_broker_runs_is_known_when_provisioning_returns(stack: Stack) -> None:
    """The broker re-reads its accounts between two turns of its loop, not when the signal arrives: a
    provisioning that returned at the signal let the device's first CONNECT be judged by the old file on
    a busy machine (refused, and its next try half a minute away). Here the broker is held still
    (SIGSTOP) to be that busy machine; provisioning must wait for it."""
    pid = int(stack.broker.pid_path.read_text())
    made: list[DeviceCredential] = []
    os.kill(pid, signal.SIGSTOP)
    try:
        provisioning = threading.Thread(target=lambda: made.extend(stack.provision(1)), daemon=True)
        provisioning.start()
        provisioning.join(timeout=3.0)  # an observation window: a stopped broker cannot have reloaded
        assert provisioning.is_alive(), "provisioning returned before the broker had re-read its accounts"
    finally:
        os.kill(pid, signal.SIGCONT)
    provisioning.join(timeout=120)
    assert not provisioning.is_alive() and len(made) == 1
    assert _connect_result(stack.broker.port, made[0].device_id, made[0].password) == 0


def test_a_device_cannot_publish_as_another(stack: Stack) -> None:
    device_a, device_b = stack.provision(2)
    stack.start_ingestor()
    link = stack.link(device_a)
    now = time.time()
    forged = protocol.encode_pack(device_b.device_id, [protocol.Reading("water_level", now, 9.0, "m")])
    link.publish_raw(protocol.readings_topic(device_b.device_id), forged)
    link.publish([protocol.Reading("water_level", now, 0.4, "m")])
    assert link.wait_acknowledged(60)
    assert link.denied == 1  # the broker refused the forged publish (PUBACK "not authorized")
    stack.wait_rows(1)
    with stack.connect() as conn:
        owners = conn.execute("SELECT DISTINCT s.device_id FROM readings JOIN sensors s USING (sensor_id)").fetchall()
    assert owners == [(device_a.device_id,)]
    link.stop()


def test_ingestor_with_wrong_credentials_stops_with_a_clear_error(stack: Stack) -> None:
    process = stack.start_ingestor(mqtt_url=stack.ingest_url(password="not-the-password"), wait_subscribed=False)
    assert process.process.wait(timeout=120) == 2
    assert "refused our credentials" in process.log_text()


def test_a_device_with_wrong_credentials_retries_slowly(stack: Stack) -> None:
    (device,) = stack.provision(1)
    endpoint = protocol.MqttEndpoint("127.0.0.1", stack.broker.port, False, device.device_id, "wrong")
    link = DeviceLink(endpoint, device.device_id)
    link.start()
    try:
        wait_until(lambda: link.refused is not None, timeout=60, what="the refusal")

        def refusals() -> int:
            return stack.broker.log_path.read_text().count("not authorised")

        # The broker sends CONNACK before it logs the closed connection: wait for the line.
        wait_until(lambda: refusals() >= 1, timeout=60, what="the broker's log of the refusal")
        seen = refusals()
        threading.Event().wait(4.0)  # an observation window: a tight loop would retry every second
        assert refusals() - seen == 0
    finally:
        link.stop()


def test_receipts_reach_only_their_own_device_and_only_the_server_writes_them(stack: Stack) -> None:
    device_a, device_b = stack.provision(2)
    stack.start_ingestor()
    a, b = stack.link(device_a), stack.link(device_b)
    heard: list[str] = []
    granted: list[int] = []
    spy = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    spy.username_pw_set(device_a.device_id, device_a.password)  # device A listening in on B's receipts
    spy.on_message = lambda c, u, message: heard.append(message.topic)
    spy.on_subscribe = lambda c, u, mid, reasons, p: granted.extend(r.value for r in reasons)
    spy.connect("127.0.0.1", stack.broker.port)
    spy.loop_start()
    try:
        spy.subscribe([(protocol.receipts_topic(d.device_id), 1) for d in (device_b, device_a)])
        wait_until(lambda: granted, timeout=60, what="SUBACK")
        pack_id = b.publish([protocol.Reading("water_level", time.time(), 0.4, "m")])
        a.publish_raw(protocol.receipts_topic(device_b.device_id), encode_receipt({pack_id: Settlement.STORED}))
        assert a.wait_acknowledged(60) and a.denied == 1  # a forged receipt: refused by the broker
        assert b.wait_acknowledged(60) and b.settled == {Settlement.STORED: 1}  # the server's own receipt
        a.publish([protocol.Reading("water_level", time.time(), 0.5, "m")])  # a receipt the spy may read, after B's
        wait_until(lambda: protocol.receipts_topic(device_a.device_id) in heard, timeout=60, what="A's own receipt")
    finally:
        spy.loop_stop()
        spy.disconnect()
    # Mosquitto grants the subscription but the ACL keeps B's receipts from A: in order, only A's arrived.
    assert heard == [protocol.receipts_topic(device_a.device_id)]
    a.stop()
    b.stop()
