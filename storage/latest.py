"""The newest reading of every sensor (``sensor_latest``), kept in the batch's own transaction.

The map's query reads this table instead of scanning readings (10,000 sensors answer from
10,000 rows). One statement per batch: the batch's newest reading per sensor, found with NumPy,
is upserted only where it is newer than the stored one, so redelivered or late readings never
move a sensor back in time and several ingestors may race.
"""

from __future__ import annotations

import numpy as np
import psycopg

from storage.writer import ReadingRows


def newest_per_sensor(rows: ReadingRows) -> ReadingRows:
    """One row per sensor: its latest time in ``rows`` (sorted by sensor id, one lock order for all writers)."""
    if not len(rows):
        return rows
    order = np.lexsort((rows.time_us, rows.sensor_ids))
    ids = rows.sensor_ids[order]
    last = np.flatnonzero(np.append(ids[1:] != ids[:-1], True))
    pick = order[last]
    return rows.take(pick)


def write_latest(conn: psycopg.Connection, rows: ReadingRows) -> None:
    """Upsert the newest reading per sensor of ``rows`` into ``sensor_latest`` (caller's transaction)."""
    newest = newest_per_sensor(rows)
    if not len(newest):
        return
    conn.execute(
        """INSERT INTO sensor_latest (sensor_id, time, value, qc)
           SELECT s, timestamptz '2000-01-01 00:00:00+00' + t * interval '1 microsecond', v, q
           FROM unnest(%s::int4[], %s::int8[], %s::float8[], %s::int2[]) AS u(s, t, v, q)
           ON CONFLICT (sensor_id) DO UPDATE SET time = EXCLUDED.time, value = EXCLUDED.value, qc = EXCLUDED.qc
           WHERE sensor_latest.time <= EXCLUDED.time""",
        (newest.sensor_ids.tolist(), newest.time_us.tolist(), newest.values.tolist(), newest.qc.tolist()),
    )
