"""Silences as people make them: create (with who and why), preview what they would match, list,
expire early. Matching is the alert engine's own (``alerts.routing.Silence``), so a preview shows
exactly what the engine will mute."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from alerts import store
from alerts.errors import NotFound
from alerts.routing import LABELS, Silence
from api.queries.alerts import AlertFilter, list_alerts
from api.queries.people import audit
from api.schemas.alerts import AlertOut, SilenceOut

PREVIEW_LIMIT = 1000
_SILENCE = """SELECT silence_id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_by,
                     (starts_at <= %(now)s AND ends_at > %(now)s AND expired_at IS NULL) AS active
              FROM silences"""


def matching_alerts(conn: psycopg.Connection, matchers: Mapping[str, str]) -> list[AlertOut]:
    """Open alerts whose labels all match (shell patterns), whatever the silence's window."""
    rule = Silence(0, matchers, -math.inf, math.inf)
    alerts, _ = list_alerts(conn, AlertFilter(), PREVIEW_LIMIT)
    return [a for a in alerts if rule.mutes({label: _label(a, label) for label in LABELS}, 0.0)]


def _label(alert: AlertOut, label: str) -> str | None:
    value = getattr(alert, label)
    return None if value is None else str(value)


def list_silences(conn: psycopg.Connection, now: datetime, active_only: bool = False) -> list[SilenceOut]:
    where = " WHERE starts_at <= %(now)s AND ends_at > %(now)s AND expired_at IS NULL" if active_only else ""
    with conn.cursor(row_factory=class_row(SilenceOut)) as cur:
        return cur.execute(_SILENCE + where + " ORDER BY silence_id DESC", {"now": now}).fetchall()


def get_silence(conn: psycopg.Connection, silence_id: int, now: datetime) -> SilenceOut:
    with conn.cursor(row_factory=class_row(SilenceOut)) as cur:
        found = cur.execute(_SILENCE + " WHERE silence_id = %(id)s", {"now": now, "id": silence_id}).fetchone()
    if found is None:
        raise NotFound(f"no silence {silence_id}")
    return found


def create_silence(conn: psycopg.Connection, matchers: Mapping[str, str], starts: datetime, ends: datetime, by: str,
                   comment: str, now: datetime) -> SilenceOut:  # fmt: skip
    with conn.transaction():
        silence_id = store.add_silence(conn, dict(matchers), starts.timestamp(), ends.timestamp(), by, comment)
        audit(conn, by, "silence.create", f"silence:{silence_id}", {"matchers": dict(matchers), "comment": comment})
    return get_silence(conn, silence_id, now)


def expire_silence(conn: psycopg.Connection, silence_id: int, by: str, now: datetime) -> SilenceOut:
    """End a silence now (its window stays on record; ``expired_by`` says who ended it)."""
    with conn.transaction():
        updated = conn.execute(
            "UPDATE silences SET expired_at = %s, expired_by = %s WHERE silence_id = %s AND expired_at IS NULL",
            (now, by, silence_id),
        ).rowcount
        if updated:
            audit(conn, by, "silence.expire", f"silence:{silence_id}")
    return get_silence(conn, silence_id, now)
