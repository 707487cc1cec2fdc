"""Thousands of hostile payloads on every topic a device may use, through the real broker, beside
counted good packs: the ingestor never stops, every good reading is stored exactly once, and every
bad message or record is in the quarantine with a reason (``bench/bench_fuzz.py`` is the large run)."""

from __future__ import annotations

import time
from collections import Counter

from devstack.waiting import wait_until
from edge import protocol
from edge.receipts import Settlement
from ingest.health import decode_health
from ingest.validation import Rejection, decode_message
from runtime.settings import ValidationSettings
from simulators import basic
from simulators.hostile import hostile_messages
from tests.harness import Stack

GOOD_DEVICES, FUZZ_DEVICES = 4, 4
GOOD_READINGS_PER_DEVICE = 400
HOSTILE_PER_DEVICE = 750  # 3,000 in all


def test_hostile_payloads_on_every_topic_stop_nothing_and_lose_nothing(stack: Stack) -> None:
    good = stack.provision(GOOD_DEVICES, prefix="good")
    fuzz = stack.provision(FUZZ_DEVICES, prefix="fuzz")
    ingestor = stack.start_ingestor()
    now = time.time()
    block = basic.generate(GOOD_DEVICES, now - 7200, 1.0, GOOD_READINGS_PER_DEVICE // 4, seed=3)
    fleet = stack.fleet(good)
    links = [stack.link(device) for device in fuzz]
    limits = ValidationSettings()
    expected_rejections: Counter[str] = Counter()  # topic channel -> quarantine entries the decoders predict
    packs: list[tuple[bool, list[Settlement]]] = []  # (the decoder found nothing wrong, its settlement)
    hostile = {d.device_id: hostile_messages(d.device_id, HOSTILE_PER_DEVICE, now, seed=i) for i, d in enumerate(fuzz)}
    rounds = HOSTILE_PER_DEVICE // 50
    for round_ in range(rounds):  # hostile and good traffic interleaved
        fleet.publish_block(_slice(block, round_, rounds), readings_per_message=8)
        for link, device in zip(links, fuzz, strict=True):
            for message in hostile[device.device_id][round_ * 50 : (round_ + 1) * 50]:
                topic = protocol.device_topic(device.device_id, message.channel)
                if message.channel == protocol.READINGS_CHANNEL:
                    result = decode_message(topic, message.payload, now, limits)
                    expected_rejections[message.channel] += len(result.rejections)
                    outcome: list[Settlement] = []
                    link.publish_pack(message.payload, outcome.append)
                    packs.append((not result.rejections, outcome))
                else:
                    verdict = decode_health(device.device_id, message.channel, message.payload, now)
                    expected_rejections[message.channel] += isinstance(verdict, Rejection)
                    link.publish_raw(topic, message.payload)

    assert fleet.wait_acknowledged(timeout=180)
    assert all(link.wait_acknowledged(timeout=180) for link in links)
    # A pack is settled by its receipt, after its commit; a status, heartbeat or config answer only by the
    # broker's PUBACK, before the ingestor has seen it: wait until the last of them are quarantined.
    health = (protocol.STATUS_CHANNEL, protocol.HEARTBEAT_CHANNEL, protocol.CONFIG_ACK_CHANNEL)
    wait_until(lambda: all(_quarantined(stack, c) >= expected_rejections[c] for c in health), timeout=60,
               what="every rejected control message to be quarantined")  # fmt: skip
    assert ingestor.process.poll() is None, "the ingestor must survive everything"
    assert "Traceback" not in ingestor.log_text()
    assert "one by one" not in ingestor.log_text()  # bad control messages never reach the database

    # Every good reading exactly once, with its value.
    with stack.connect() as conn:
        stored = conn.execute(
            """SELECT s.device_id, s.name, extract(epoch FROM r.time)::float8, r.value FROM readings r
               JOIN sensors s USING (sensor_id) WHERE s.device_id LIKE 'good-%'"""
        ).fetchall()
        quarantined = conn.execute(
            "SELECT split_part(topic, '/', 5) || coalesce('/' || nullif(split_part(topic, '/', 6), ''), ''), reason, "
            "count(*) FROM quarantine WHERE device_id LIKE 'fuzz-%' GROUP BY 1, 2"
        ).fetchall()
        extreme = conn.execute(
            "SELECT count(*) FROM readings r JOIN sensors s USING (sensor_id) WHERE r.value IN "
            "('Infinity', '-Infinity', 'NaN') OR (s.kind <> 'water_level' AND r.value < 0)"
        ).fetchone()
    sent = {(f"good-{i:03d}", kind, round(float(block.times[k]), 3), float(block.values[kind][i, k]))
            for i in range(GOOD_DEVICES) for k in range(len(block.times)) for kind in basic.SENSOR_KINDS}  # fmt: skip
    assert len(stored) == len(sent) == GOOD_DEVICES * GOOD_READINGS_PER_DEVICE
    assert {(d, n, round(t, 3), v) for d, n, t, v in stored} == sent
    assert extreme == (0,)

    # Every hostile pack settled by a receipt; every rejection the decoders predict is a quarantine entry.
    outcomes = Counter(outcome[0] for _, outcome in packs if outcome)
    assert sum(outcomes.values()) == len(packs)
    assert all(outcome[0] is not Settlement.STORED for clean, outcome in packs if not clean)
    by_channel: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for channel, reason, count in quarantined:
        by_channel[channel] += count
        reasons[reason] += count
    conflicts = reasons["conflicting_value"]  # a flipped digit can make two packs claim one (sensor, time)
    assert by_channel[protocol.READINGS_CHANNEL] == expected_rejections[protocol.READINGS_CHANNEL] + conflicts
    for channel in (protocol.STATUS_CHANNEL, protocol.HEARTBEAT_CHANNEL, protocol.CONFIG_ACK_CHANNEL):
        assert by_channel[channel] == expected_rejections[channel], channel
    assert sum(outcome[0] is not Settlement.STORED for clean, outcome in packs if clean) <= conflicts
    assert "decode_error" not in reasons and "storage_rejected" not in reasons, reasons
    assert len(reasons) >= 10, reasons  # the mutations reach many different checks
    wait_until(lambda: ingestor.metric("urbanpulse_ingest_receipts_total") > 0, timeout=60, what="receipts counted")
    fleet.stop()
    for link in links:
        link.stop()


def _slice(block: basic.Block, part: int, parts: int) -> basic.Block:
    """Part ``part`` of ``parts`` of a block's time steps."""
    steps = len(block.times)
    return block.steps(part * steps // parts, (part + 1) * steps // parts)


def _quarantined(stack: Stack, channel: str) -> int:
    """Quarantine entries of the fuzzing devices on one topic channel."""
    with stack.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM quarantine WHERE device_id LIKE 'fuzz-%%' AND topic LIKE %s", (f"%/{channel}",)
        ).fetchone()
    return int(row[0]) if row else 0
