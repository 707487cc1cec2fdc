"""The live stream's event types and the payload of a forecast event."""

from __future__ import annotations

import enum

from api.schemas.common import Out, UtcTime


class EventType(enum.StrEnum):
    ALERT = "alert"  # data: an Alert (as it was at the change) with "deleted"
    FORECAST = "forecast"  # data: ForecastIssued
    SITE = "site"  # data: the site's Feature as it is when sent
    DEVICE = "device"  # data: the device as it is when sent


PUBLIC_EVENTS = frozenset({EventType.FORECAST, EventType.SITE})  # what anonymous readers may stream


class ForecastIssued(Out):
    issued_at: UtcTime
    sensors: int
    shard: str
