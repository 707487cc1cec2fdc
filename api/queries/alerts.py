"""Alerts as people see and handle them: filtered pages, detail with the audit trail, acknowledge
(one or many), assign and comment. Shared by ``/api/v1/alerts`` and ``urbanpulse alerts``.

Every change is written with its audit entry in one transaction; the database triggers of
migration 0012 turn it into a live-stream event in the same transaction.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from alerts import store
from alerts.errors import NotFound, StateConflict
from alerts.rules import Severity
from api.schemas.alerts import (
    OPEN_STATES,
    AlertDetailOut,
    AlertOut,
    AlertState,
    AuditEntryOut,
    BulkAckOut,
    CommentOut,
    RuleOut,
)

ALERT_COLUMNS = """a.alert_id, a.rule, a.kind, a.subject, a.sensor_id, a.device_id, d.display_name AS site_name,
    a.district, a.ward, a.severity, a.state, a.pending_since, a.fired_at, a.acked_at, a.acked_by, a.ack_note,
    a.assignee, a.closed_at, a.value, a.details, a.silenced, a.last_change"""
ALERTS_FROM = "alerts a LEFT JOIN devices d ON d.device_id = a.device_id"
_RANK = "array_position(ARRAY['minor', 'moderate', 'severe', 'extreme'], a.severity)"


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class AlertFilter:
    """What ``GET /alerts`` may filter by; empty tuples mean "any"."""

    states: Sequence[AlertState] = OPEN_STATES
    severities: Sequence[Severity] = ()
    kinds: Sequence[str] = ()
    rules: Sequence[str] = ()
    district: str | None = None
    ward: str | None = None
    unacknowledged: bool = False
    since: datetime | None = None
    until: datetime | None = None
    ids: Sequence[int] = field(default_factory=tuple)


def encode_cursor(rank: int, alert_id: int) -> str:
    return base64.urlsafe_b64encode(f"{rank}:{alert_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        rank, _, alert_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        return int(rank), int(alert_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise BadCursor("cursor: not one this API handed out") from error


def _where(f: AlertFilter) -> tuple[str, dict[str, Any]]:
    clauses = ["a.state = ANY(%(states)s)"]
    params: dict[str, Any] = {"states": [s.value for s in f.states]}
    for column, values, name in (("a.severity", [s.value for s in f.severities], "severities"),
                                 ("a.kind", list(f.kinds), "kinds"), ("a.rule", list(f.rules), "rules"),
                                 ("a.alert_id", list(f.ids), "ids")):  # fmt: skip
        if values:
            clauses.append(f"{column} = ANY(%({name})s)")
            params[name] = values
    for column, value in (("district", f.district), ("ward", f.ward)):
        if value is not None:
            clauses.append(f"a.{column} = %({column})s")
            params[column] = value
    if f.unacknowledged:
        clauses.append("a.state = 'firing'")
    if f.since is not None:
        clauses.append("a.last_change >= %(since)s")
        params["since"] = f.since
    if f.until is not None:
        clauses.append("a.pending_since < %(until)s")
        params["until"] = f.until
    return " AND ".join(clauses), params


def list_alerts(conn: psycopg.Connection, f: AlertFilter, limit: int, cursor: str | None = None
                ) -> tuple[list[AlertOut], str | None]:  # fmt: skip
    """A page of alerts, most severe first, then newest; the cursor of the next page (None: last)."""
    where, params = _where(f)
    if cursor is not None:
        rank, alert_id = decode_cursor(cursor)
        where += f" AND ({_RANK}, a.alert_id) < (%(c_rank)s, %(c_id)s)"
        params |= {"c_rank": rank, "c_id": alert_id}
    params["limit"] = limit + 1
    query = (f"SELECT {ALERT_COLUMNS} FROM {ALERTS_FROM} WHERE {where} "
             f"ORDER BY {_RANK} DESC, a.alert_id DESC LIMIT %(limit)s")  # fmt: skip
    with conn.cursor(row_factory=class_row(AlertOut)) as cur:
        rows = cur.execute(query, params).fetchall()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(list(Severity).index(last.severity) + 1, last.alert_id)


def get_alert(conn: psycopg.Connection, alert_id: int) -> AlertOut:
    with conn.cursor(row_factory=class_row(AlertOut)) as cur:
        found = cur.execute(f"SELECT {ALERT_COLUMNS} FROM {ALERTS_FROM} WHERE a.alert_id = %s", (alert_id,)).fetchone()
    if found is None:
        raise NotFound(f"no alert {alert_id}")
    return found


def alert_detail(conn: psycopg.Connection, alert_id: int) -> AlertDetailOut:
    alert = get_alert(conn, alert_id)
    with conn.cursor(row_factory=class_row(AuditEntryOut)) as cur:
        events = cur.execute(
            """SELECT at, from_state, to_state, actor, note FROM alert_events WHERE alert_id = %s
               ORDER BY at, recorded_at""",
            (alert_id,),
        ).fetchall()
    return AlertDetailOut(**alert.model_dump(), events=events, comments=comments(conn, alert_id))


def comments(conn: psycopg.Connection, alert_id: int) -> list[CommentOut]:
    with conn.cursor(row_factory=class_row(CommentOut)) as cur:
        return cur.execute(
            "SELECT at, author, text FROM alert_comments WHERE alert_id = %s ORDER BY at, comment_id", (alert_id,)
        ).fetchall()


def acknowledge(conn: psycopg.Connection, alert_id: int, by: str, note: str | None, now: datetime) -> AlertOut:
    """Firing -> acknowledged with the note, in one transaction with its audit entry (409 cases raise
    ``StateConflict``: ``not_firing`` for pending or already acknowledged, ``not_open`` when closed)."""
    with conn.transaction():
        store.acknowledge(conn, alert_id, by, note, now.timestamp())
    return get_alert(conn, alert_id)


def acknowledge_many(conn: psycopg.Connection, alert_ids: Sequence[int], by: str, note: str | None,
                     now: datetime) -> BulkAckOut:  # fmt: skip
    """Acknowledge each firing alert of ``alert_ids``; the others (unknown, not firing) are skipped."""
    done, skipped = [], []
    with conn.transaction():
        for alert_id in sorted(set(alert_ids)):  # one lock order: no deadlock with another bulk ack
            try:
                with conn.transaction():
                    store.acknowledge(conn, alert_id, by, note, now.timestamp())
                done.append(alert_id)
            except (NotFound, StateConflict):
                skipped.append(alert_id)
    return BulkAckOut(acknowledged=done, skipped=skipped)


def assign(conn: psycopg.Connection, alert_id: int, assignee: str | None, by: str, now: datetime) -> AlertOut:
    """Give the alert to a person (None: to nobody); recorded in the audit trail. Closed alerts refuse."""
    with conn.transaction():
        row = conn.execute("SELECT state FROM alerts WHERE alert_id = %s FOR UPDATE", (alert_id,)).fetchone()
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        if AlertState(row[0]) not in OPEN_STATES:
            raise StateConflict("not_open", f"alert {alert_id} is {row[0]}: closed alerts are not assigned")
        known = assignee is None or conn.execute("SELECT 1 FROM users WHERE username = %s", (assignee,)).fetchone()
        if not known:
            raise NotFound(f"no user {assignee}")
        conn.execute("UPDATE alerts SET assignee = %s WHERE alert_id = %s", (assignee, alert_id))
        conn.execute(
            """INSERT INTO alert_events (alert_id, at, from_state, to_state, actor, note)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (alert_id, now, row[0], row[0], by, f"assigned to {assignee}" if assignee else "unassigned"),
        )
    return get_alert(conn, alert_id)


def add_comment(conn: psycopg.Connection, alert_id: int, author: str, text: str, now: datetime) -> CommentOut:
    with conn.transaction():
        get_alert(conn, alert_id)
        with conn.cursor(row_factory=class_row(CommentOut)) as cur:
            made = cur.execute(
                """INSERT INTO alert_comments (alert_id, at, author, text) VALUES (%s, %s, %s, %s)
                   RETURNING at, author, text""",
                (alert_id, now, author, text),
            ).fetchone()
    assert made is not None
    return made


def loaded_rules(conn: psycopg.Connection) -> list[RuleOut]:
    """The rules as the engine last loaded them (``alert_rules``)."""
    with conn.cursor(row_factory=class_row(RuleOut)) as cur:
        return cur.execute("SELECT name, kind, version, definition, loaded_at FROM alert_rules ORDER BY 1").fetchall()
