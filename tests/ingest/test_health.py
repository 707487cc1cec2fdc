"""Decoding device status, heartbeat and config-ack messages (pure)."""

from __future__ import annotations

import json

import pytest

from edge import protocol
from ingest.health import ConfigAckEvent, HeartbeatEvent, StatusEvent, decode_health
from ingest.validation import Reason, Rejection

BEAT = protocol.Heartbeat(1.8e9, 5, 12.5, 0, 0, 0, 10_000, 48.2, 360.0, "0.1.0", protocol.CLOCK_SYNCED)


def test_well_formed_messages_become_events() -> None:
    status = decode_health("dev-01", "status", protocol.encode_status("online", "0.1.0"), 7.0)
    assert status == StatusEvent("dev-01", "online", "0.1.0", 7.0)
    assert decode_health("dev-01", "heartbeat", BEAT.encode(), 7.0) == HeartbeatEvent("dev-01", BEAT, 7.0)
    ack = decode_health("dev-01", "config/ack", protocol.encode_config_ack(3, False, "unknown sensor"), 7.0)
    assert ack == ConfigAckEvent("dev-01", 3, False, "unknown sensor", 7.0)


def _beat(**changes: object) -> bytes:
    return json.dumps({**BEAT.__dict__, **changes}).encode()


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("channel", "payload", "reason", "detail"),
    [
        ("status", b"{", Reason.BAD_STATUS, "not JSON"),
        ("status", b'{"state": "asleep"}', Reason.BAD_STATUS, "'asleep' is not online/offline"),
        ("status", b"[1]", Reason.BAD_STATUS, "not a JSON object"),
        ("status", DEEP, Reason.BAD_STATUS, "nested deeper"),
        ("status", b'{"state": "online", "version": "\\ud800"}', Reason.BAD_STATUS, "printable text"),
        ("status", b'{"state": "online", "version": "v\\u0000"}', Reason.BAD_STATUS, "printable text"),
        ("status", b'{"state": "online", "version": "' + b"9" * 65 + b'"}', Reason.BAD_STATUS, "at most 64"),
        ("heartbeat", b'{"time": 1}', Reason.BAD_HEARTBEAT, "lacks queue_depth"),
        ("heartbeat", DEEP, Reason.BAD_HEARTBEAT, "nested deeper"),
        ("heartbeat", _beat(queue_depth="5"), Reason.BAD_HEARTBEAT, "queue_depth must be a whole number"),
        ("heartbeat", _beat(queue_depth=5.5), Reason.BAD_HEARTBEAT, "queue_depth must be a whole number"),
        ("heartbeat", _beat(queue_depth=2**64), Reason.BAD_HEARTBEAT, "queue_depth must be a whole number"),
        ("heartbeat", _beat(evicted_total=-1), Reason.BAD_HEARTBEAT, "evicted_total"),
        ("heartbeat", _beat(time=1e20), Reason.BAD_HEARTBEAT, "time must be a number in"),
        ("heartbeat", BEAT.encode().replace(b'"time":1800000000.0', b'"time":NaN'), Reason.BAD_HEARTBEAT,
         "not JSON"),
        ("heartbeat", BEAT.encode().replace(b'"uptime_s":360.0', b'"uptime_s":' + b"7" * 5000),
         Reason.BAD_HEARTBEAT, "<integer of 5000 digits>"),
        ("heartbeat", _beat(cpu_temperature_c=-300.0), Reason.BAD_HEARTBEAT, "cpu_temperature_c"),
        ("heartbeat", _beat(clock="maybe"), Reason.BAD_HEARTBEAT, "clock"),
        ("heartbeat", _beat(version=["0.1"]), Reason.BAD_HEARTBEAT, "an array of 1 items"),
        ("config/ack", b'{"status": "maybe"}', Reason.BAD_CONFIG_ACK, "'applied' or 'rejected'"),
        ("config/ack", b'{"status": "applied", "version": true}', Reason.BAD_CONFIG_ACK, "must be a whole number"),
        ("config/ack", b'{"status": "rejected", "reason": "' + b"x" * 1001 + b'"}', Reason.BAD_CONFIG_ACK,
         "at most 1000"),
        ("config/ack", DEEP, Reason.BAD_CONFIG_ACK, "nested deeper"),
    ],
)  # fmt: skip
def test_malformed_messages_are_rejected_with_a_reason(channel: str, payload: bytes, reason: Reason,
                                                       detail: str) -> None:  # fmt: skip
    result = decode_health("dev-01", channel, payload, 7.0)
    assert isinstance(result, Rejection) and result.reason == reason and detail in result.detail, result


def test_optional_heartbeat_fields_may_be_null() -> None:
    payload = _beat(oldest_queued_age_s=None, disk_free_bytes=None, cpu_temperature_c=None)
    result = decode_health("dev-01", "heartbeat", payload, 7.0)
    assert isinstance(result, HeartbeatEvent) and result.beat.cpu_temperature_c is None
