"""The device and sensor registry: SQL for provisioning, listing and first-reading registration."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from edge import protocol


@dataclass(frozen=True)
class Device:
    device_id: str
    display_name: str | None
    ward: str | None
    district: str | None
    latitude: float | None
    longitude: float | None
    sensors: int


def add_device(
    conn: psycopg.Connection,
    device_id: str,
    credential_hash: str,
    *,
    display_name: str | None = None,
    ward: str | None = None,
    district: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    metadata: dict[str, object] | None = None,
) -> None:
    """Create the device, or rotate its credential and update the details given.

    ``metadata`` is merged into the stored one; ``alarm_levels`` (kind -> level, e.g.
    ``{"water_level": 1.4}``) is what the forecast service turns into exceedance probabilities.
    """
    if not protocol.DEVICE_ID_PATTERN.match(device_id):
        raise protocol.ProtocolError(
            f"invalid device id {device_id!r}: 2-63 chars of lowercase letters, digits and '-'"
        )
    conn.execute(
        """INSERT INTO devices (device_id, credential_hash, display_name, ward, district, latitude, longitude, metadata)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (device_id) DO UPDATE SET
               metadata = devices.metadata || EXCLUDED.metadata,
               credential_hash = EXCLUDED.credential_hash,
               display_name = coalesce(EXCLUDED.display_name, devices.display_name),
               ward = coalesce(EXCLUDED.ward, devices.ward),
               district = coalesce(EXCLUDED.district, devices.district),
               latitude = coalesce(EXCLUDED.latitude, devices.latitude),
               longitude = coalesce(EXCLUDED.longitude, devices.longitude)""",
        (device_id, credential_hash, display_name, ward, district, latitude, longitude, Jsonb(metadata or {})),
    )


def list_devices(conn: psycopg.Connection) -> list[Device]:
    rows = conn.execute(
        """SELECT d.device_id, d.display_name, d.ward, d.district, d.latitude, d.longitude, count(s.sensor_id)
           FROM devices d LEFT JOIN sensors s USING (device_id)
           GROUP BY d.device_id ORDER BY d.device_id"""
    ).fetchall()
    return [Device(*row) for row in rows]


def credential_hashes(conn: psycopg.Connection) -> dict[str, str]:
    """Broker username (= device id) -> password hash, for every device with a credential."""
    rows = conn.execute("SELECT device_id, credential_hash FROM devices WHERE credential_hash IS NOT NULL")
    return {device_id: hashed for device_id, hashed in rows}


def device_exists(conn: psycopg.Connection, device_id: str) -> bool:
    return conn.execute("SELECT 1 FROM devices WHERE device_id = %s", (device_id,)).fetchone() is not None


def register_sensors(conn: psycopg.Connection, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids for (device_id, sensor name) pairs, registering unknown ones as 'unplaced'.

    Safe under concurrency: several ingestors may register the same sensor at once; the
    unique key decides and everyone reads back the same id.
    """
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    rows = [
        (device, name, protocol.kind_of(name), protocol.METRIC_KINDS[protocol.kind_of(name) or ""].unit)
        for device, name in wanted
    ]
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO sensors (device_id, name, kind, unit) VALUES (%s, %s, %s, %s)
               ON CONFLICT (device_id, name) DO NOTHING""",
            rows,
        )
        cur.execute(
            """SELECT s.device_id, s.name, s.sensor_id FROM sensors s
               JOIN unnest(%s::text[], %s::text[]) AS w(device_id, name) USING (device_id, name)""",
            ([d for d, _ in wanted], [n for _, n in wanted]),
        )
        return {(device, name): sensor_id for device, name, sensor_id in cur}
