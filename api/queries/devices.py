"""Devices with their health (link state, backlog, clock) and remote configuration."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from alerts.errors import NotFound
from api.queries.people import audit
from api.schemas.devices import DeviceOut, HealthFilter
from edge import protocol

GROWTH_HEARTBEATS = 3  # the backlog grows when it rose over this many newest heartbeats

_DEVICES = """
SELECT d.device_id, d.display_name, d.ward, d.district, ds.state, ds.state_since,
       greatest(ds.last_received_at, ds.last_heartbeat_at) AS last_seen, ds.last_heartbeat_at, ds.backlog,
       ds.oldest_queued_age_s, ds.clock, extract(epoch FROM ds.last_reading_at - ds.last_received_at)::float8,
       ds.version, c.config, ds.config_version, ds.config_status, ds.config_reason, ds.config_at,
       (SELECT array_agg(h.queue_depth ORDER BY h.time) FROM (
            SELECT time, queue_depth FROM device_heartbeats WHERE device_id = d.device_id
            ORDER BY time DESC LIMIT %(beats)s) h) AS depths
FROM devices d LEFT JOIN device_status ds USING (device_id) LEFT JOIN device_configs c USING (device_id)
WHERE %(ids)s::text[] IS NULL OR d.device_id = ANY(%(ids)s)
ORDER BY d.device_id
"""


def _device(row: tuple[Any, ...], now: datetime, stale_after: timedelta) -> DeviceOut:
    (device_id, name, ward, district, link, since, last_seen, heartbeat, backlog, oldest, clock, offset, version,
     config, config_version, config_status, config_reason, config_at, depths) = row  # fmt: skip
    if link == "offline":
        state = "offline"
    elif last_seen is not None and now - last_seen <= stale_after:
        state = "online"
    else:
        state = "stale"
    growing = depths is not None and len(depths) >= 2 and all(b > a for a, b in zip(depths, depths[1:], strict=False))
    ack = None if config_status is None else {"version": config_version, "status": config_status,
                                              "reason": config_reason, "at": config_at}  # fmt: skip
    return DeviceOut.model_validate({
        "device_id": device_id, "name": name, "ward": ward, "district": district, "state": state,
        "state_since": since, "last_seen": last_seen, "last_heartbeat_at": heartbeat, "backlog": backlog,
        "oldest_queued_age_s": oldest, "backlog_growing": growing, "clock": clock, "clock_offset_s": offset,
        "version": version, "config": config, "config_ack": ack,
    })  # fmt: skip


def list_devices(conn: psycopg.Connection, now: datetime, stale_after: timedelta,
                 health: frozenset[HealthFilter] = frozenset(),
                 ids: list[str] | None = None) -> list[DeviceOut]:  # fmt: skip
    """Devices by id; with ``health``, only those with any of the named problems."""
    rows = conn.execute(_DEVICES, {"ids": ids, "beats": GROWTH_HEARTBEATS}).fetchall()
    devices = [_device(row, now, stale_after) for row in rows]
    if not health:
        return devices
    return [d for d in devices if any(_has(d, problem) for problem in health)]


def _has(device: DeviceOut, problem: HealthFilter) -> bool:
    match problem:
        case HealthFilter.OFFLINE:
            return device.state == "offline"
        case HealthFilter.STALE:
            return device.state == "stale"
        case HealthFilter.BACKLOG:
            return device.backlog_growing or bool(device.backlog)
        case HealthFilter.CLOCK:
            return device.clock is not None and device.clock != protocol.CLOCK_SYNCED


def get_device(conn: psycopg.Connection, device_id: str, now: datetime, stale_after: timedelta) -> DeviceOut:
    found = list_devices(conn, now, stale_after, ids=[device_id])
    if not found:
        raise NotFound(f"no device {device_id}")
    return found[0]


def record_config(conn: psycopg.Connection, device_id: str, config: protocol.RemoteConfig, by: str,
                  now: datetime) -> None:  # fmt: skip
    """Remember the configuration pushed (after the broker took it) and who pushed it."""
    body = json.loads(config.encode())
    with conn.transaction():
        conn.execute(
            """INSERT INTO device_configs (device_id, version, config, pushed_by, pushed_at) VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (device_id) DO UPDATE SET version = EXCLUDED.version, config = EXCLUDED.config,
                   pushed_by = EXCLUDED.pushed_by, pushed_at = EXCLUDED.pushed_at""",
            (device_id, config.version, Jsonb(body), by, now),
        )
        audit(conn, by, "device.config", f"device:{device_id}", body)
