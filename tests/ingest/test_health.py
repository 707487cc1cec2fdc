"""Decoding device status, heartbeat and config-ack messages (pure)."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    ("channel", "payload", "reason", "detail"),
    [
        ("status", b"{", Reason.BAD_STATUS, "not JSON"),
        ("status", b'{"state": "asleep"}', Reason.BAD_STATUS, "'asleep' is not online/offline"),
        ("status", b"[1]", Reason.BAD_STATUS, "not a JSON object"),
        ("heartbeat", b'{"time": 1}', Reason.BAD_HEARTBEAT, "not a heartbeat"),
        ("heartbeat", BEAT.encode().replace(b'"queue_depth":5', b'"queue_depth":"5"'), Reason.BAD_HEARTBEAT,
         "numeric field"),
        ("config/ack", b'{"status": "maybe"}', Reason.BAD_STATUS, "'applied' or 'rejected'"),
        ("config/ack", b'{"status": "applied", "version": true}', Reason.BAD_STATUS, "must be an integer"),
    ],
)  # fmt: skip
def test_malformed_messages_are_rejected_with_a_reason(channel: str, payload: bytes, reason: Reason,
                                                       detail: str) -> None:  # fmt: skip
    result = decode_health("dev-01", channel, payload, 7.0)
    assert isinstance(result, Rejection) and result.reason == reason and detail in result.detail
