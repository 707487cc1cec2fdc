"""Reads of the alerts tables for people: the command line today, the HTTP API's routes too.

Typed rows instead of tuples, so callers never index a result by position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

OPEN_STATES = ("pending", "firing", "acknowledged")
ALL_STATES = (*OPEN_STATES, "resolved", "expired")


@dataclass(frozen=True)
class AlertLine:
    """One alert as a list shows it."""

    alert_id: int
    state: str
    severity: str
    rule: str
    district: str | None
    device_id: str | None
    last_change: datetime
    acked_by: str | None


def recent_alerts(conn: psycopg.Connection, states: Sequence[str] = OPEN_STATES, limit: int = 100) -> list[AlertLine]:
    """Alerts in ``states``, the most recently changed first."""
    with conn.cursor(row_factory=class_row(AlertLine)) as cur:
        cur.execute(
            """SELECT alert_id, state, severity, rule, district, device_id, last_change, acked_by
               FROM alerts WHERE state = ANY(%s) ORDER BY last_change DESC LIMIT %s""",
            (list(states), limit),
        )
        return cur.fetchall()


def fired_and_notified(conn: psycopg.Connection) -> tuple[int, int]:
    """(alerts that ever fired, notifications delivered) - the demo's summary."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM alerts WHERE fired_at IS NOT NULL), "
        "(SELECT count(*) FROM notification_outbox WHERE sent_at IS NOT NULL)"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)
