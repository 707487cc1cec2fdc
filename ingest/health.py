"""Decoding device status (birth / Last Will) and heartbeat messages: pure, ``received_at`` passed in."""

from __future__ import annotations

import json
from dataclasses import dataclass

from edge import protocol
from ingest.validation import Reason, Rejection


@dataclass(frozen=True)
class StatusEvent:
    device_id: str
    state: str
    version: str | None
    received_at: float


@dataclass(frozen=True)
class HeartbeatEvent:
    device_id: str
    beat: protocol.Heartbeat
    received_at: float


HealthEvent = StatusEvent | HeartbeatEvent


def decode_health(device_id: str, channel: str, payload: bytes, received_at: float) -> HealthEvent | Rejection:
    if channel == protocol.HEARTBEAT_CHANNEL:
        try:
            return HeartbeatEvent(device_id, protocol.Heartbeat.decode(payload), received_at)
        except protocol.ProtocolError as error:
            return Rejection(Reason.BAD_HEARTBEAT, str(error))
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as error:
        return Rejection(Reason.BAD_STATUS, f"status is not JSON: {error}")
    state = data.get("state") if isinstance(data, dict) else None
    if state not in (protocol.STATE_ONLINE, protocol.STATE_OFFLINE):
        return Rejection(Reason.BAD_STATUS, f"status state {state!r} is not online/offline")
    version = data.get("version")
    return StatusEvent(device_id, state, version if isinstance(version, str) else None, received_at)
