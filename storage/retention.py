"""Retention on plain PostgreSQL: what TimescaleDB's retention policy does, as a job.

Several ingestors may run it; a try-lock lets one do the work and the others skip.
"""

from __future__ import annotations

import psycopg

RETENTION_LOCK_KEY = 0x7572_6261_6E72_6574


def apply_retention(conn: psycopg.Connection) -> int:
    """Delete readings older than ``storage_policy.raw_retention``.

    Returns the rows deleted: 0 when another process holds the job's lock.
    """
    with conn.transaction():
        locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (RETENTION_LOCK_KEY,)).fetchone()
        if not locked or not locked[0]:
            return 0
        cur = conn.execute("DELETE FROM readings WHERE time < now() - (SELECT raw_retention FROM storage_policy)")
        return max(cur.rowcount, 0)
