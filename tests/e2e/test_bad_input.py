"""Bad input through the real broker: each kind is quarantined with its reason, good data keeps flowing."""

from __future__ import annotations

import json
import time

from devstack.mosquitto import BROKER_MAX_PACKET_BYTES
from devstack.waiting import wait_until
from edge import protocol
from edge.receipts import Settlement
from simulators.fleet import DeviceCredential
from tests.harness import NO_RESEND, Stack


def _pack(device: str, records: list[dict[str, object]]) -> bytes:
    return json.dumps(records).encode()


def test_every_kind_of_bad_input_is_quarantined_and_good_data_still_flows(stack: Stack) -> None:
    good_device, other = stack.provision(2)
    stranger_password = stack.broker_only_account("ghost-001")
    stack.start_ingestor()
    now = time.time()
    link = stack.link(good_device, NO_RESEND)
    stranger = stack.link(DeviceCredential("ghost-001", stranger_password), NO_RESEND)
    dev = good_device.device_id
    bn = f"{dev}/"
    good = [{"bn": bn, "bt": now, "n": "water_level", "u": "m", "v": 0.5}]
    cases: list[tuple[bytes, str]] = [
        (b"\xff\xfe not utf-8", "not_utf8"),
        (b"{not json", "not_json"),
        (b'{"bn": "x"}', "not_senml"),
        (b"[]", "empty_pack"),
        (_pack(dev, [{"bn": bn, "bt": now, "n": "water_level", "u": "m", "v": "high"}]), "bad_value"),
        (_pack(dev, [{"bn": bn, "bt": now, "n": 7, "u": "m", "v": 1.0}]), "bad_name"),
        (f'[{{"bn": "{bn}", "bt": {now}, "n": "water_level", "u": "m", "v": NaN}}]'.encode(), "non_finite_value"),
        (f'[{{"bn": "{bn}", "bt": {now}, "n": "water_level", "u": "m", "v": Infinity}}]'.encode(), "non_finite_value"),
        (_pack(dev, [{"bn": bn, "bt": now, "n": "water_level", "u": "Cel", "v": 1.0}]), "unknown_unit"),
        (_pack(dev, [{"bn": bn, "bt": now, "n": "air_quality", "u": "m", "v": 1.0}]), "unknown_metric"),
        (_pack(dev, [{"bn": bn, "bt": now + 86400, "n": "water_level", "u": "m", "v": 1.0}]), "time_in_future"),
        (_pack(dev, [{"bn": bn, "bt": 946684800, "n": "water_level", "u": "m", "v": 1.0}]), "time_too_old"),
        (
            _pack(dev, [{"bn": f"{other.device_id}/", "bt": now, "n": "water_level", "u": "m", "v": 1.0}]),
            "device_mismatch",
        ),
        (b"[" + b'{"n":"rainfall","v":1},' * 20_000 + b"{}]", "payload_too_large"),
        (_pack(dev, [{"bn": bn, "n": "water_level", "u": "m", "v": 1.0, "t": -5}]), "relative_time"),
        (_pack(dev, [{"bn": bn, "bt": now, "n": "traffic_speed", "u": "m/s", "v": 1e308}]), "out_of_range"),
        (f'[{{"bn": "{bn}", "bt": {now}, "n": "rainfall", "u": "mm", "v": -Infinity}}]'.encode(), "non_finite_value"),
        (_pack(dev, [{"bn": bn, "bt": now, "n": "rainfall", "u": "mm", "v": -0.5}]), "out_of_range"),
        (f'[{{"bn": "{bn}", "bt": {now}, "n": "rainfall", "u": "mm", "v": {"9" * 5000}}}]'.encode(), "bad_value"),
        (b"[" * 100_000 + b"]" * 100_000, "not_json"),
        (_pack(dev, [{"bn": bn, "bt": now - 1, "n": "water_level", "u": "m", "v": 0.9}]), "conflicting_value"),
    ]
    first = [{"bn": bn, "bt": now - 1, "n": "water_level", "u": "m", "v": 0.7}]  # the conflict case's rival
    link.publish_pack(_pack(dev, first))
    assert link.wait_acknowledged(120)
    for payload, _ in cases:
        link.publish_pack(payload)
        link.publish_pack(_pack(dev, good))  # same record each time: stored once
    duplicate = [
        {"bn": bn, "bt": now + 1, "n": "rainfall", "u": "mm", "v": 2.0},
        {"n": "rainfall", "u": "mm", "v": 2.0},
    ]
    link.publish_pack(_pack(dev, duplicate))
    stranger.publish_pack(_pack("ghost-001", [{"bn": "ghost-001/", "bt": now, "n": "rainfall", "u": "mm", "v": 1.0}]))
    absurd = [{"bn": bn, "bt": now + 2, "n": "water_level", "u": "m", "v": 25.0}]  # stored, flagged FAIL
    link.publish_pack(_pack(dev, absurd))
    # Every pack is settled by a receipt, the bad ones too: none is sent again and again.
    assert link.wait_acknowledged(120) and stranger.wait_acknowledged(120)
    assert link.settled == {"stored": 1 + len(cases) + 1, "partial": 1, "quarantined": len(cases)}
    assert stranger.settled == {"quarantined": 1} and link.resent == 0

    expected: dict[str, int] = {}
    for _, reason in cases:
        expected[reason] = expected.get(reason, 0) + 1
    expected["duplicate_record"] = 1
    expected["unknown_device"] = 2  # its birth message and its readings
    wait_until(
        lambda: sum(stack.quarantine_reasons().values()) >= sum(expected.values()),
        timeout=60,
        what="every bad message to be quarantined",
    )
    assert stack.quarantine_reasons() == expected
    with stack.connect() as conn:
        rows = conn.execute(
            "SELECT s.name, r.value, r.qc FROM readings r JOIN sensors s USING (sensor_id) ORDER BY r.time"
        ).fetchall()
        oversize = conn.execute(
            "SELECT length(payload), payload_bytes FROM quarantine WHERE reason = 'payload_too_large'"
        ).fetchone()
        details: dict[str, str] = dict(conn.execute("SELECT reason, detail FROM quarantine").fetchall())
    assert rows == [("water_level", 0.7, 1), ("water_level", 0.5, 1), ("rainfall", 2.0, 1), ("water_level", 25.0, 4)]
    with stack.connect() as conn:
        finite = conn.execute("SELECT bool_and(value NOT IN ('Infinity', '-Infinity', 'NaN')) FROM readings")
        assert finite.fetchone() == (True,)
    assert oversize is not None and oversize[0] == 16 * 1024 and oversize[1] > 256 * 1024
    assert "Cel" in details["unknown_unit"] and "ghost-001" in details["unknown_device"]
    link.stop()
    stranger.stop()


def test_a_conflicting_value_leaves_the_sensors_latest_value_as_stored(stack: Stack) -> None:
    """The map reads ``sensor_latest``: a quarantined rival must not replace the value the readings table kept."""
    (device,) = stack.provision(1)
    stack.start_ingestor()
    link = stack.link(device)
    bn, when = f"{device.device_id}/", round(time.time())
    link.publish_pack(_pack(device.device_id, [{"bn": bn, "bt": when, "n": "water_level", "u": "m", "v": 0.7}]))
    assert link.wait_acknowledged(120)
    link.publish_pack(_pack(device.device_id, [{"bn": bn, "bt": when, "n": "water_level", "u": "m", "v": 0.9}]))
    assert link.wait_acknowledged(120) and link.settled == {"stored": 1, "quarantined": 1}
    assert stack.quarantine_reasons() == {"conflicting_value": 1}
    with stack.connect() as conn:
        latest = conn.execute("SELECT value FROM sensor_latest JOIN sensors USING (sensor_id)").fetchall()
    assert latest == [(0.7,)]
    link.stop()


def test_a_pack_beyond_the_broker_packet_limit_is_refused_by_the_device_which_stays_connected(stack: Stack) -> None:
    """Mosquitto announces its Maximum Packet Size (4 MiB) in CONNACK and disconnects a client that sends
    more; paho would send the same packet again on every reconnect. So the link refuses it, counted."""
    (device,) = stack.provision(1)
    stack.start_ingestor()
    link = stack.link(device)
    outcome: list[Settlement] = []
    link.publish_pack(b"[" + b" " * (BROKER_MAX_PACKET_BYTES + 1) + b"]", outcome.append)
    assert outcome == [Settlement.REFUSED]
    link.publish([protocol.Reading("rainfall", time.time(), 1.0, "mm")])
    assert link.wait_acknowledged(120) and link.connected.is_set()
    assert link.settled == {Settlement.REFUSED: 1, Settlement.STORED: 1}
    link.stop()
