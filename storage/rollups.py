"""Refresh of the plain-PostgreSQL rollups: what TimescaleDB's continuous-aggregate policy does, as a job.

The schema (migration 0010) keeps ``rollup_5m`` / ``rollup_1h`` materialised below a watermark and
answers past it from raw rows. This job moves the watermark to the last whole hour at least
``lag`` old, materialises the span it passed in one bulk aggregate, and recomputes the sensors'
ranges that writes below the watermark invalidated (late backlogs, readings failed by QC,
retention). Writing in bulk after the fact is what keeps the write path as cheap as before: no
bucket is upserted per reading. Several ingestors may run it; a try-lock lets one do the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from storage.series import floor_to

ROLLUP_LOCK_KEY = 0x7572_6261_6E72_6F6C
DEFAULT_LAG = timedelta(hours=1)

# Both widths straight from the raw rows of the span (the time index finds them); the 1-hour
# table has no index by bucket alone to find the span's 5-minute rows by.
_MATERIALISE = tuple(
    f"""INSERT INTO {table} AS r (sensor_id, bucket, samples, total, minimum, maximum)
    SELECT sensor_id, date_bin(interval '{width}', time, timestamptz '2000-01-01 00:00:00+00'),
           count(*), sum(value), min(value), max(value)
    FROM readings WHERE time >= coalesce(%(old)s::timestamptz, '-infinity') AND time < %(new)s AND qc <> 4
    GROUP BY 1, 2
    ON CONFLICT (sensor_id, bucket) DO UPDATE SET samples = excluded.samples, total = excluded.total,
        minimum = excluded.minimum, maximum = excluded.maximum"""
    for table, width in (("rollup_5m", "5 minutes"), ("rollup_1h", "1 hour"))
)

# Each sensor's invalidated ranges merged into one span of whole hours, emptied and rebuilt.
_RECOMPUTE = (
    """CREATE TEMP TABLE rollup_spans ON COMMIT DROP AS
    WITH taken AS (DELETE FROM rollup_invalidations RETURNING sensor_id, first, last)
    SELECT sensor_id,
           date_bin(interval '1 hour', min(first), timestamptz '2000-01-01 00:00:00+00') AS lo,
           date_bin(interval '1 hour', max(last), timestamptz '2000-01-01 00:00:00+00') + interval '1 hour' AS hi
    FROM taken GROUP BY sensor_id""",
    """DELETE FROM rollup_5m r USING rollup_spans s
       WHERE r.sensor_id = s.sensor_id AND r.bucket >= s.lo AND r.bucket < s.hi""",
    """DELETE FROM rollup_1h r USING rollup_spans s
       WHERE r.sensor_id = s.sensor_id AND r.bucket >= s.lo AND r.bucket < s.hi""",
    """INSERT INTO rollup_5m (sensor_id, bucket, samples, total, minimum, maximum)
    SELECT x.sensor_id, date_bin(interval '5 minutes', x.time, timestamptz '2000-01-01 00:00:00+00'),
           count(*), sum(x.value), min(x.value), max(x.value)
    FROM rollup_spans s JOIN readings x ON x.sensor_id = s.sensor_id AND x.time >= s.lo AND x.time < s.hi
    WHERE x.qc <> 4
    GROUP BY 1, 2""",
    """INSERT INTO rollup_1h (sensor_id, bucket, samples, total, minimum, maximum)
    SELECT r.sensor_id, date_bin(interval '1 hour', r.bucket, timestamptz '2000-01-01 00:00:00+00'),
           sum(r.samples), sum(r.total), min(r.minimum), max(r.maximum)
    FROM rollup_spans s JOIN rollup_5m r ON r.sensor_id = s.sensor_id AND r.bucket >= s.lo AND r.bucket < s.hi
    GROUP BY 1, 2""",
)


@dataclass(frozen=True)
class Refresh:
    """What one run did; ``materialized_to`` is None when another process held the job's lock."""

    materialized_to: datetime | None
    sensors_recomputed: int = 0


def refresh_rollups(conn: psycopg.Connection, now: datetime, lag: timedelta = DEFAULT_LAG) -> Refresh:
    """Materialise up to the last whole hour at least ``lag`` before ``now``; rebuild invalidated spans."""
    with conn.transaction():
        locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (ROLLUP_LOCK_KEY,)).fetchone()
        if not locked or not locked[0]:
            return Refresh(None)
        # Waits for writers still holding the watermark in share mode; the statements after this one
        # see everything they wrote, and writers after it judge against the new watermark.
        row = conn.execute(  # '-infinity' (nothing materialised yet) read as None
            "SELECT nullif(materialized_to, '-infinity') FROM rollup_watermark FOR UPDATE"
        ).fetchone()
        assert row is not None, "migration 0010 inserts the watermark row"
        old: datetime | None = row[0]
        new = floor_to(now - lag, timedelta(hours=1))
        if old is None or new > old:
            conn.execute("UPDATE rollup_watermark SET materialized_to = %s", (new,))
            for statement in _MATERIALISE:
                conn.execute(statement, {"old": old, "new": new})
        spans = conn.execute(_RECOMPUTE[0]).rowcount
        for statement in _RECOMPUTE[1:]:
            conn.execute(statement)
        return Refresh(new if old is None else max(old, new), max(spans, 0))
