"""Reads of the alerts tables the engine's own tools need (the demo's summary). The alert lists,
details and workflow people use through the command line and the HTTP API are in
``api.queries.alerts``, typed by the API's schemas."""

from __future__ import annotations

import psycopg


def fired_and_notified(conn: psycopg.Connection) -> tuple[int, int]:
    """(alerts that ever fired, notifications delivered) - the demo's summary."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM alerts WHERE fired_at IS NOT NULL), "
        "(SELECT count(*) FROM notification_outbox WHERE sent_at IS NOT NULL)"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)
