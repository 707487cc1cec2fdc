"""Sites as GeoJSON (RFC 7946) with their current state, and the city / district / ward summary."""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import Field

from api.schemas.common import Out, UtcTime


class SiteStatus(enum.StrEnum):
    """Worst first: alarm > watch > offline > stale > normal."""

    ALARM = "alarm"
    WATCH = "watch"
    OFFLINE = "offline"
    STALE = "stale"
    NORMAL = "normal"


class DeviceHealth(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    STALE = "stale"


class SensorState(Out):
    sensor_id: int
    name: str
    kind: str
    unit: str
    value: float | None
    time: UtcTime | None
    age_s: float | None
    qc: int | None = Field(description="QARTOD flag of the newest reading: 1 pass, 3 suspect, 4 fail")
    threshold: float | None
    exceed_probability_3h: float | None


class DeviceState(Out):
    state: DeviceHealth
    last_seen: UtcTime | None
    backlog: int | None
    clock: str | None


class SeverityCounts(Out):
    minor: int
    moderate: int
    severe: int
    extreme: int


class AlertCounts(Out):
    open: int
    unacknowledged: int
    by_severity: SeverityCounts


class SiteProperties(Out):
    device_id: str
    name: str | None
    ward: str | None
    district: str | None
    site_kind: str | None
    status: SiteStatus
    device: DeviceState
    sensors: list[SensorState]
    alerts: AlertCounts
    max_exceed_probability_3h: float | None


class Point(Out):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=2, description="[longitude, latitude]")


class Feature(Out):
    type: Literal["Feature"]
    id: str
    geometry: Point | None
    properties: SiteProperties


class FeatureCollection(Out):
    type: Literal["FeatureCollection"]
    features: list[Feature]


class MapSites(Out):
    """Every site as the map draws it: one array per site in the order of ``fields``."""

    fields: list[str] = Field(description="id, status, name, district, ward, lon, lat")
    sites: list[tuple[str, SiteStatus, str | None, str | None, str | None, float | None, float | None]]


class Summary(Out):
    sites: int
    open_alerts: int
    unacknowledged: int
    by_severity: SeverityCounts
    sites_at_risk_3h: int
    stale_devices: int
    offline_devices: int
    bbox: list[float] | None = Field(description="[west, south, east, north]; null without placed sites")


class DistrictSummary(Summary):
    district: str | None


class WardSummary(Summary):
    district: str | None
    ward: str | None


class AreasOut(Out):
    city: Summary
    districts: list[DistrictSummary]
    wards: list[WardSummary]
