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


@dataclass(frozen=True)
class ConfigAckEvent:
    device_id: str
    version: int | None
    applied: bool
    reason: str
    received_at: float


HealthEvent = StatusEvent | HeartbeatEvent | ConfigAckEvent


def decode_health(device_id: str, channel: str, payload: bytes, received_at: float) -> HealthEvent | Rejection:
    if channel == protocol.HEARTBEAT_CHANNEL:
        try:
            return HeartbeatEvent(device_id, protocol.Heartbeat.decode(payload), received_at)
        except protocol.ProtocolError as error:
            return Rejection(Reason.BAD_HEARTBEAT, str(error))
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as error:
        return Rejection(Reason.BAD_STATUS, f"{channel} message is not JSON: {error}")
    if channel == protocol.CONFIG_ACK_CHANNEL:
        return _config_ack(device_id, data, received_at)
    state = data.get("state") if isinstance(data, dict) else None
    if state not in (protocol.STATE_ONLINE, protocol.STATE_OFFLINE):
        return Rejection(Reason.BAD_STATUS, f"status state {state!r} is not online/offline")
    version = data.get("version")
    return StatusEvent(device_id, state, version if isinstance(version, str) else None, received_at)


def _config_ack(device_id: str, data: object, received_at: float) -> ConfigAckEvent | Rejection:
    if not isinstance(data, dict) or data.get("status") not in ("applied", "rejected"):
        return Rejection(Reason.BAD_STATUS, "config ack needs status 'applied' or 'rejected'")
    version = data.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        return Rejection(Reason.BAD_STATUS, "config ack version must be an integer")
    reason = data.get("reason", "")
    return ConfigAckEvent(device_id, version, data["status"] == "applied", str(reason)[:1000], received_at)
