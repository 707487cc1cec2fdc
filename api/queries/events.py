"""The live stream's events in the database: read in id order, turned into typed JSON, swept.

Rows come from the triggers of migration 0012, numbered at commit in commit order, so reading
``event_id > N`` in order never skips a row that shows up later. ``materialise`` builds each
event's JSON once per batch: alert and forecast events from the row they carry, site and device
events from the current state (one query per batch, not per event).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from api.queries.devices import list_devices
from api.queries.sites import SiteScope, StatusRules, sites_geojson
from api.schemas.alerts import AlertEventOut
from api.schemas.events import EventType, ForecastIssued

SWEEP_LOCK_KEY = 0x6576_656E_7473_7377  # one API copy sweeps at a time


@dataclass(frozen=True)
class Event:
    event_id: int
    type: EventType
    data: str  # JSON text


def newest_event_id(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT coalesce(max(event_id), 0) FROM events").fetchone()
    return int(row[0]) if row else 0


def events_after(conn: psycopg.Connection, after: int, until: int | None, limit: int) -> list[tuple[Any, ...]]:
    """Raw rows (event_id, type, subject, payload) with ``after < event_id <= until``, in id order."""
    return conn.execute(
        """SELECT event_id, type, subject, payload FROM events
           WHERE event_id > %s AND (%s::bigint IS NULL OR event_id <= %s) ORDER BY event_id LIMIT %s""",
        (after, until, until, limit),
    ).fetchall()


def materialise(conn: psycopg.Connection, rows: list[tuple[Any, ...]], rules: StatusRules,
                now: datetime) -> list[Event]:  # fmt: skip
    """Typed JSON for each row, in order; a site or device that no longer exists yields no event."""
    sites = {t for _, kind, t, _ in rows if kind == EventType.SITE}
    devices = {t for _, kind, t, _ in rows if kind == EventType.DEVICE}
    features: dict[str, str] = {}
    if sites:
        collection = json.loads(sites_geojson(conn, SiteScope(device_ids=sorted(sites)), rules, now))
        features = {f["id"]: json.dumps(f, separators=(",", ":")) for f in collection["features"]}
    device_rows: dict[str, str] = {}
    if devices:
        device_rows = {d.device_id: d.model_dump_json() for d in list_devices(conn, now, rules.stale_after,
                                                                             ids=sorted(devices))}  # fmt: skip
    made = []
    for event_id, kind, subject, payload in rows:
        match EventType(kind):
            case EventType.ALERT:
                data: str | None = AlertEventOut.model_validate(payload).model_dump_json()
            case EventType.FORECAST:
                data = ForecastIssued.model_validate(payload).model_dump_json()
            case EventType.SITE:
                data = features.get(subject)
            case EventType.DEVICE:
                data = device_rows.get(subject)
        if data is not None:
            made.append(Event(int(event_id), EventType(kind), data))
    return made


def sweep(conn: psycopg.Connection, keep: timedelta, now: datetime) -> int:
    """Delete events older than ``keep`` (one API copy at a time); returns how many."""
    with conn.transaction():
        locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (SWEEP_LOCK_KEY,)).fetchone()
        if not locked or not locked[0]:
            return 0
        return max(conn.execute("DELETE FROM events WHERE at < %s", (now - keep,)).rowcount, 0)
