"""The map's query: every site's current state as GeoJSON, and the area summaries built on it.

Reads only maintained state - ``sensor_latest`` (the ingestor's newest reading per sensor),
``device_status`` (with its newest heartbeat), ``forecast_peaks`` (each sensor's highest
exceedance probability within 3 h of its newest forecast) and the open alerts - never the
readings. PostgreSQL writes the GeoJSON itself: at 10,000 sensors, building and serialising
Python objects would cost more than the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from api.schemas.sites import AreasOut


@dataclass(frozen=True)
class SiteScope:
    district: str | None = None
    ward: str | None = None
    device_ids: list[str] | None = None


@dataclass(frozen=True)
class StatusRules:
    stale_after: timedelta
    watch_probability: float


# One row per site with its sensors (JSON), alert counts and derived states; %(now)s is "now".
_SITE_STATE = """
WITH picked AS (
    SELECT d.device_id, d.display_name, d.ward, d.district, d.latitude, d.longitude,
           d.metadata ->> 'site_kind' AS site_kind, d.metadata -> 'alarm_levels' AS levels,
           ds.state AS link_state, ds.backlog, ds.clock,
           greatest(ds.last_received_at, ds.last_heartbeat_at) AS heard
    FROM devices d LEFT JOIN device_status ds USING (device_id)
    WHERE (%(district)s::text IS NULL OR d.district = %(district)s)
      AND (%(ward)s::text IS NULL OR d.ward = %(ward)s)
      AND (%(devices)s::text[] IS NULL OR d.device_id = ANY(%(devices)s))
), sensor_json AS (
    SELECT s.device_id,
           json_agg(json_build_object(
               'sensor_id', s.sensor_id, 'name', s.name, 'kind', s.kind, 'unit', s.unit, 'value', l.value,
               'time', api_time(l.time), 'age_s', extract(epoch FROM %(now)s - l.time)::float8, 'qc', l.qc,
               'threshold', coalesce(p.threshold,
                   (coalesce(s.metadata -> 'alarm_levels', picked.levels) ->> s.kind)::float8),
               'exceed_probability_3h', p.exceed_probability) ORDER BY s.sensor_id) AS sensors,
           max(p.exceed_probability) AS max_p,
           max(l.time) AS newest
    FROM picked JOIN sensors s USING (device_id)
    LEFT JOIN sensor_latest l USING (sensor_id) LEFT JOIN forecast_peaks p USING (sensor_id)
    GROUP BY s.device_id
), alert_counts AS (
    SELECT a.device_id, count(*) AS open, count(*) FILTER (WHERE a.state = 'firing') AS unacked,
           count(*) FILTER (WHERE a.severity = 'minor') AS minor,
           count(*) FILTER (WHERE a.severity = 'moderate') AS moderate,
           count(*) FILTER (WHERE a.severity = 'severe') AS severe,
           count(*) FILTER (WHERE a.severity = 'extreme') AS extreme,
           count(*) FILTER (WHERE a.state <> 'pending' AND a.severity IN ('severe', 'extreme')) AS alarming
    FROM alerts a JOIN picked USING (device_id)
    WHERE a.state IN ('pending', 'firing', 'acknowledged')
    GROUP BY a.device_id
), site_state AS (
    SELECT p.*, sj.sensors, sj.max_p, greatest(p.heard, sj.newest) AS last_seen,
           coalesce(ac.open, 0) AS open, coalesce(ac.unacked, 0) AS unacked,
           coalesce(ac.minor, 0) AS minor, coalesce(ac.moderate, 0) AS moderate,
           coalesce(ac.severe, 0) AS severe, coalesce(ac.extreme, 0) AS extreme,
           CASE WHEN p.link_state = 'offline' THEN 'offline'
                WHEN coalesce(greatest(p.heard, sj.newest) > %(now)s - %(stale)s, false) THEN 'online'
                ELSE 'stale' END AS device_state,
           coalesce(ac.alarming, 0) > 0 AS alarming,
           coalesce(ac.open, 0) > 0 OR coalesce(sj.max_p >= %(watch)s, false) AS watching
    FROM picked p LEFT JOIN sensor_json sj USING (device_id) LEFT JOIN alert_counts ac USING (device_id)
), site AS (
    SELECT *, CASE WHEN alarming THEN 'alarm' WHEN watching THEN 'watch'
                   WHEN device_state = 'offline' THEN 'offline' WHEN device_state = 'stale' THEN 'stale'
                   ELSE 'normal' END AS status
    FROM site_state
)
"""

_FEATURES = (
    _SITE_STATE
    + """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
    'type', 'Feature', 'id', device_id,
    'geometry', CASE WHEN latitude IS NULL OR longitude IS NULL THEN NULL
                     ELSE json_build_object('type', 'Point', 'coordinates', json_build_array(longitude, latitude)) END,
    'properties', json_build_object(
        'device_id', device_id, 'name', display_name, 'ward', ward, 'district', district, 'site_kind', site_kind,
        'status', status,
        'device', json_build_object('state', device_state, 'last_seen', api_time(last_seen), 'backlog', backlog,
                                    'clock', clock),
        'sensors', coalesce(sensors, '[]'::json),
        'alerts', json_build_object('open', open, 'unacknowledged', unacked, 'by_severity', json_build_object(
            'minor', minor, 'moderate', moderate, 'severe', severe, 'extreme', extreme)),
        'max_exceed_probability_3h', max_p)) ORDER BY device_id), '[]'::json))::text
FROM site
"""
)

# The map's view of the same state: one array per site, the fields of MAP_FIELDS, ~60 bytes a site
# instead of ~390 (the sensors, device health and alert counts are read per site when its panel opens).
MAP_FIELDS = ("id", "status", "name", "district", "ward", "lon", "lat")
_MAP_ROWS = (
    _SITE_STATE
    + """
SELECT json_build_object('fields', %(fields)s::text[], 'sites', coalesce(json_agg(json_build_array(
    device_id, status, display_name, district, ward, longitude, latitude) ORDER BY device_id), '[]'::json))::text
FROM site
"""
)

_AREAS = (
    _SITE_STATE
    + """
SELECT GROUPING(district) AS all_districts, GROUPING(ward) AS all_wards, district, ward,
       count(*) AS sites, coalesce(sum(open), 0) AS open_alerts, coalesce(sum(unacked), 0) AS unacknowledged,
       coalesce(sum(minor), 0) AS minor, coalesce(sum(moderate), 0) AS moderate,
       coalesce(sum(severe), 0) AS severe, coalesce(sum(extreme), 0) AS extreme,
       count(*) FILTER (WHERE max_p >= %(watch)s) AS sites_at_risk_3h,
       count(*) FILTER (WHERE device_state = 'stale') AS stale_devices,
       count(*) FILTER (WHERE device_state = 'offline') AS offline_devices,
       min(longitude) AS west, min(latitude) AS south, max(longitude) AS east, max(latitude) AS north
FROM site GROUP BY GROUPING SETS ((), (district), (district, ward))
ORDER BY district NULLS FIRST, ward NULLS FIRST
"""
)


def _params(scope: SiteScope, rules: StatusRules, now: datetime) -> dict[str, Any]:
    return {"district": scope.district, "ward": scope.ward, "devices": scope.device_ids, "now": now,
            "stale": rules.stale_after, "watch": rules.watch_probability}  # fmt: skip


def sites_geojson(conn: psycopg.Connection, scope: SiteScope, rules: StatusRules, now: datetime) -> str:
    """The FeatureCollection (``api.schemas.sites.FeatureCollection``) as JSON text, sites by device id."""
    row = conn.execute(_FEATURES, _params(scope, rules, now)).fetchone()
    assert row is not None  # an aggregate always answers
    return str(row[0])


def sites_for_map(conn: psycopg.Connection, scope: SiteScope, rules: StatusRules, now: datetime) -> str:
    """``api.schemas.sites.MapSites`` as JSON text, sites by device id: what the map draws, no more."""
    row = conn.execute(_MAP_ROWS, {**_params(scope, rules, now), "fields": list(MAP_FIELDS)}).fetchone()
    assert row is not None  # an aggregate always answers
    return str(row[0])


def areas(conn: psycopg.Connection, rules: StatusRules, now: datetime) -> AreasOut:
    """The city, each district and each ward: sites, alerts, risk and device health, with a bounding box."""
    city: dict[str, Any] = {}
    districts, wards = [], []
    for row in conn.execute(_AREAS, _params(SiteScope(), rules, now)):
        (all_districts, all_wards, district, ward, sites, open_alerts, unacked, minor, moderate, severe, extreme,
         at_risk, stale, offline, west, south, east, north) = row  # fmt: skip
        summary = {
            "sites": sites, "open_alerts": open_alerts, "unacknowledged": unacked,
            "by_severity": {"minor": minor, "moderate": moderate, "severe": severe, "extreme": extreme},
            "sites_at_risk_3h": at_risk, "stale_devices": stale, "offline_devices": offline,
            "bbox": None if west is None else [west, south, east, north],
        }  # fmt: skip
        if all_districts:
            city = summary
        elif all_wards:
            districts.append({**summary, "district": district})
        else:
            wards.append({**summary, "district": district, "ward": ward})
    if not city:
        city = {"sites": 0, "open_alerts": 0, "unacknowledged": 0, "sites_at_risk_3h": 0, "stale_devices": 0,
                "offline_devices": 0, "bbox": None,
                "by_severity": {"minor": 0, "moderate": 0, "severe": 0, "extreme": 0}}  # fmt: skip
    return AreasOut.model_validate({"city": city, "districts": districts, "wards": wards})
