"""The public CAP 1.2 messages the alert engine stored (``cap_messages``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from alerts.errors import NotFound


@dataclass(frozen=True)
class CapMessage:
    identifier: str
    alert_id: int
    sent: datetime
    msg_type: str
    xml: str


def recent_messages(conn: psycopg.Connection, limit: int) -> list[CapMessage]:
    rows = conn.execute(
        """SELECT identifier, alert_id, sent, msg_type, xml FROM cap_messages
           ORDER BY sent DESC, identifier DESC LIMIT %s""",
        (limit,),
    ).fetchall()
    return [CapMessage(*row) for row in rows]


def message(conn: psycopg.Connection, identifier: str) -> CapMessage:
    row = conn.execute(
        "SELECT identifier, alert_id, sent, msg_type, xml FROM cap_messages WHERE identifier = %s", (identifier,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no CAP message {identifier}")
    return CapMessage(*row)
