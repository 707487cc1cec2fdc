"""Decoding device status (birth / Last Will), heartbeat and config-ack messages: pure, ``received_at`` passed in.

The decoders (``edge.protocol``) bound every field to what its column holds, so an event that
decodes is one the database accepts; anything else is a rejection with a reason, never an error.
"""

from __future__ import annotations

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
    """The event a status, heartbeat or config-ack message carries, or why it cannot be read."""
    try:
        if channel == protocol.HEARTBEAT_CHANNEL:
            return HeartbeatEvent(device_id, protocol.Heartbeat.decode(payload), received_at)
        if channel == protocol.CONFIG_ACK_CHANNEL:
            version, applied, reason = protocol.decode_config_ack(payload)
            return ConfigAckEvent(device_id, version, applied, reason, received_at)
        state, version_text = protocol.decode_status(payload)
        return StatusEvent(device_id, state, version_text, received_at)
    except protocol.ProtocolError as error:
        return Rejection(_REASONS.get(channel, Reason.BAD_STATUS), str(error))


_REASONS = {
    protocol.HEARTBEAT_CHANNEL: Reason.BAD_HEARTBEAT,
    protocol.CONFIG_ACK_CHANNEL: Reason.BAD_CONFIG_ACK,
    protocol.STATUS_CHANNEL: Reason.BAD_STATUS,
}
