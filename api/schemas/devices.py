"""Devices with their health and remote configuration."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field

from api.schemas.common import In, Out, UtcTime
from api.schemas.sites import DeviceHealth


class HealthFilter(enum.StrEnum):
    OFFLINE = "offline"
    STALE = "stale"
    BACKLOG = "backlog"
    CLOCK = "clock"


class ConfigAckOut(Out):
    version: int | None
    status: str
    reason: str | None
    at: UtcTime


class DeviceOut(Out):
    device_id: str
    name: str | None
    ward: str | None
    district: str | None
    state: DeviceHealth
    state_since: UtcTime | None
    last_seen: UtcTime | None
    last_heartbeat_at: UtcTime | None
    backlog: int | None
    oldest_queued_age_s: float | None
    backlog_growing: bool
    clock: str | None
    clock_offset_s: float | None = Field(description="newest reading time minus its arrival (device clock skew)")
    version: str | None
    config: dict[str, Any] | None = Field(description="the configuration last pushed through UrbanPulse")
    config_ack: ConfigAckOut | None = Field(description="the device's answer to the last configuration")


class SensorConfigIn(In):
    enabled: bool = True
    interval_s: float | None = Field(None, ge=1, le=86_400)


class DeviceConfigIn(In):
    sensors: dict[str, SensorConfigIn] = Field(min_length=1, max_length=64)
