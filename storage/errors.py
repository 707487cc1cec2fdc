"""Database failures, split the way every writer must react to them.

``TransientError``: the world is briefly broken (connection lost, database restarting,
deadlock, out of resources). Retry with capped backoff; the work stays pending meanwhile
(an ingestor keeps its messages unacknowledged), so nothing is lost. ``PermanentError``: this
data can never be stored. Quarantine it with the reason and move on. psycopg's errors are
translated once, here, at the storage boundary.
"""

from __future__ import annotations

import psycopg

# SQLSTATE classes worth retrying: connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources, operator intervention
# (admin shutdown, crash shutdown, cannot connect now), system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


class StorageError(Exception):
    pass


class TransientError(StorageError):
    pass


class PermanentError(StorageError):
    pass


def classify_database_error(error: psycopg.Error) -> StorageError:
    """Translate a psycopg error once, at the storage boundary."""
    sqlstate = error.sqlstate or ""
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError) and not sqlstate:
        return TransientError(f"database connection problem: {error}")
    if sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
        return TransientError(f"database unavailable ({sqlstate}): {error}")
    return PermanentError(f"database rejected the data ({sqlstate or type(error).__name__}): {error}")
