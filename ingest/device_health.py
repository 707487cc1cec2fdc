"""Writing device status and heartbeats, in the ingest batch's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg

from ingest.health import ConfigAckEvent, HealthEvent, HeartbeatEvent, StatusEvent
from storage.sqlvalues import utc


def write_events(conn: psycopg.Connection, events: Sequence[HealthEvent]) -> None:
    """Apply events in order; an older state never overwrites a newer one (N ingestors may race)."""
    with conn.cursor() as cur:
        for event in events:
            if isinstance(event, StatusEvent):
                cur.execute(
                    """INSERT INTO device_status (device_id, state, state_since, version)
                       VALUES (%s, %s, %s, %s)
                       ON CONFLICT (device_id) DO UPDATE SET
                           state = EXCLUDED.state,
                           state_since = EXCLUDED.state_since,
                           version = coalesce(EXCLUDED.version, device_status.version)
                       WHERE device_status.state_since <= EXCLUDED.state_since""",
                    (event.device_id, event.state, utc(event.received_at), event.version),
                )
            elif isinstance(event, ConfigAckEvent):
                cur.execute(
                    """INSERT INTO device_status (device_id, state, state_since, config_version, config_status,
                                                  config_reason, config_at)
                       VALUES (%(device)s, 'online', %(at)s, %(version)s, %(status)s, %(reason)s, %(at)s)
                       ON CONFLICT (device_id) DO UPDATE SET
                           config_version = EXCLUDED.config_version, config_status = EXCLUDED.config_status,
                           config_reason = EXCLUDED.config_reason, config_at = EXCLUDED.config_at
                       WHERE device_status.config_at IS NULL OR device_status.config_at <= EXCLUDED.config_at""",
                    {"device": event.device_id, "at": utc(event.received_at), "version": event.version,
                     "status": "applied" if event.applied else "rejected", "reason": event.reason},
                )  # fmt: skip
            elif isinstance(event, HeartbeatEvent):
                beat = event.beat
                cur.execute(
                    """INSERT INTO device_heartbeats VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                       ON CONFLICT (device_id, time) DO NOTHING""",
                    (event.device_id, utc(beat.time), utc(event.received_at), beat.queue_depth,
                     beat.oldest_queued_age_s, beat.evicted_total, beat.refused_total, beat.held_total,
                     beat.disk_free_bytes, beat.cpu_temperature_c, beat.uptime_s, beat.version, beat.clock),
                )  # fmt: skip
                cur.execute(
                    """INSERT INTO device_status (device_id, state, state_since, version, last_heartbeat_at)
                       VALUES (%s, 'online', %s, %s, %s)
                       ON CONFLICT (device_id) DO UPDATE SET
                           last_heartbeat_at = greatest(device_status.last_heartbeat_at, EXCLUDED.last_heartbeat_at)""",
                    (event.device_id, utc(event.received_at), beat.version, utc(event.received_at)),
                )


def write_arrivals(conn: psycopg.Connection, arrivals: Mapping[str, tuple[float, float]]) -> None:
    """Record each device's newest reading time and its arrival time (one statement for the batch).

    Kept per device, not per reading: the alert engine compares a device's clock with the fleet's
    from these two (``alerts.checks.clock_offsets``); a reading says the device is online too.
    """
    if not arrivals:
        return
    devices = sorted(arrivals)  # one lock order for every ingestor: no deadlocks between copies
    newest = [utc(arrivals[d][0]) for d in devices]
    arrived = [utc(arrivals[d][1]) for d in devices]
    conn.execute(
        """INSERT INTO device_status (device_id, state, state_since, last_reading_at, last_received_at)
           SELECT d, 'online', r, t, r FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS u(d, t, r)
           ON CONFLICT (device_id) DO UPDATE SET
               last_reading_at = greatest(device_status.last_reading_at, EXCLUDED.last_reading_at),
               last_received_at = greatest(device_status.last_received_at, EXCLUDED.last_received_at)""",
        (devices, newest, arrived),
    )
