"""A small simulated city written straight into the test database, and alerts opened by hand.

The API tests read what the ingestor, the forecast service and the alert engine write; here the
readings come from the city simulator through ``api.simulation.seed`` (the same rows and ``sensor_latest``
upserts the ingestor makes), and alerts are inserted as the engine would leave them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from api.simulation.seed import write_history
from devstack.stack import site_details
from simulators.city import CityConfig, Simulation, simulate
from simulators.fleet import DeviceCredential
from simulators.sites import Site, city_sites
from tests.harness import Stack

STEP_S = 60.0


@dataclass(frozen=True)
class City:
    sites: list[Site]
    sim: Simulation
    devices: dict[str, DeviceCredential]  # device id -> broker credentials


def seed_city(stack: Stack, sites: int = 6, hours: float = 6.0, end: float | None = None) -> City:
    """``sites`` places (registered with the broker too) with ``hours`` of one-minute readings ending at
    ``end`` (default: now)."""
    chosen = city_sites(sites)
    stop = ((end or time.time()) // STEP_S) * STEP_S
    sim = simulate(CityConfig(tuple(chosen), stop - hours * 3600, hours * 3600, STEP_S))
    credentials = stack.provision_ids([s.site_id for s in chosen], {s.site_id: site_details(s) for s in chosen})
    with psycopg.connect(stack.database_url) as conn:
        write_history(conn, sim)
    return City(chosen, sim, {c.device_id: c for c in credentials})


def sensor_id(conn: psycopg.Connection, device_id: str, kind: str) -> int:
    row = conn.execute("SELECT sensor_id FROM sensors WHERE device_id = %s AND kind = %s", (device_id, kind)).fetchone()
    assert row is not None, (device_id, kind)
    return int(row[0])


def open_alert(conn: psycopg.Connection, site: Site, rule: str = "street-flood", severity: str = "severe",
               state: str = "firing", kind: str = "threshold", value: float = 0.3) -> int:  # fmt: skip
    """An alert on the site's first sensor as the engine writes it (with its audit entry)."""
    first = conn.execute("SELECT min(sensor_id) FROM sensors WHERE device_id = %s", (site.site_id,)).fetchone()
    assert first is not None and first[0] is not None, site.site_id
    sensor = int(first[0])
    now = datetime.now(UTC)
    row = conn.execute(
        """INSERT INTO alerts (fingerprint, rule, kind, subject, sensor_id, device_id, district, ward, severity, state,
                               pending_since, fired_at, last_change, value, details)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '{"threshold": 0.1}') RETURNING alert_id""",
        (f"{rule}:sensor:{sensor}:{uuid.uuid4().hex[:8]}", rule, kind, f"sensor:{sensor}", sensor, site.site_id,
         site.district, site.ward,
         severity, state, now, now if state != "pending" else None, now, value),
    ).fetchone()  # fmt: skip
    assert row is not None
    conn.execute("INSERT INTO alert_events (alert_id, at, to_state, actor) VALUES (%s, %s, %s, 'engine')",
                 (row[0], now, state))  # fmt: skip
    return int(row[0])
