"""Ingest failures, split the way the pipeline must react to them.

``TransientError``: the world is briefly broken (connection lost, database restarting,
deadlock, out of resources). Retry with capped backoff; the messages stay unacknowledged at
the broker meanwhile, so nothing is lost. ``PermanentError``: this data can never be stored.
Quarantine it with the reason and move on. ``BrokerAuthError``: our own credentials are
wrong; retrying would only hammer the broker, so the service stops loudly.
"""

from __future__ import annotations

import psycopg

# SQLSTATE classes worth retrying: connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources, operator intervention
# (admin shutdown, crash shutdown, cannot connect now), system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


class IngestError(Exception):
    pass


class TransientError(IngestError):
    pass


class PermanentError(IngestError):
    pass


class BrokerAuthError(IngestError):
    pass


def classify_database_error(error: psycopg.Error) -> IngestError:
    """Translate a psycopg error once, at the storage boundary."""
    sqlstate = error.sqlstate or ""
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError) and not sqlstate:
        return TransientError(f"database connection problem: {error}")
    if sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
        return TransientError(f"database unavailable ({sqlstate}): {error}")
    return PermanentError(f"database rejected the data ({sqlstate or type(error).__name__}): {error}")
