"""Turning alert states into notifications: group messages into the outbox, CAP documents into the feed.

Runs in the engine's cycle transaction after the lifecycle step: the outbox rows, the CAP rows
and the alerts' ``notified_state`` are written together, so a crash either tells nothing (and
the next cycle tells it) or tells it once. Delivery is ``alerts.delivery``'s job.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import psycopg

from alerts import cap, routing
from alerts.lifecycle import State
from alerts.routing import AlertView, GroupMessage
from alerts.rules import FloodTier, RuleBook, Severity
from alerts.store import active_silences
from edge import protocol
from storage.sqlvalues import unix_or_none, utc

PUBLIC_METRICS = (protocol.Kind.WATER_LEVEL, protocol.Kind.TRAFFIC_SPEED)


@dataclass(frozen=True)
class NotifyResult:
    messages: int
    cap_documents: int


def slug(area: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", area.lower()).strip("-") or "unplaced"


class Candidate(NamedTuple):
    """An alert that may be news, with what a message and a CAP document say of it (one row of _CANDIDATES)."""

    alert_id: int
    rule: str
    kind: str
    severity: str
    district: str | None
    ward: str | None
    device_id: str | None
    subject: str
    state: str
    notified_state: str | None
    last_change: datetime
    fired_at: datetime | None
    notified_at: datetime | None
    escalated_at: datetime | None
    value: float | None
    details: dict[str, Any]
    metric: str | None  # the sensor's kind (None for device alerts)
    place: str | None
    latitude: float | None
    longitude: float | None
    pending_since: datetime

    def view(self) -> AlertView:
        labels = {"rule": self.rule, "kind": self.kind, "severity": self.severity, "district": self.district,
                  "ward": self.ward, "device_id": self.device_id, "subject": self.subject}  # fmt: skip
        return AlertView(
            self.alert_id, labels, State.of(self.state),
            None if self.notified_state is None else State.of(self.notified_state), self.last_change.timestamp(),
            unix_or_none(self.fired_at), unix_or_none(self.notified_at), unix_or_none(self.escalated_at),
        )  # fmt: skip


_CANDIDATES = """
SELECT a.alert_id, a.rule, a.kind, a.severity, a.district, a.ward, a.device_id, a.subject, a.state, a.notified_state,
       a.last_change, a.fired_at, a.notified_at, a.escalated_at, a.value, a.details, s.kind,
       d.display_name, d.latitude, d.longitude, a.pending_since
FROM alerts a LEFT JOIN sensors s USING (sensor_id) LEFT JOIN devices d ON d.device_id = a.device_id
WHERE a.state IN ('firing', 'acknowledged')
   OR (a.state IN ('resolved', 'expired') AND a.notified_state IN ('firing', 'acknowledged'))
"""


def notify(conn: psycopg.Connection, book: RuleBook, now: float, mqtt: bool = True) -> NotifyResult:
    """Plan and write this cycle's group messages and CAP documents; ``mqtt``: the MQTT channel is configured."""
    rows = {int(r[0]): Candidate(*r) for r in conn.execute(_CANDIDATES)}
    views = [r.view() for r in rows.values()]
    silences = active_silences(conn, now)
    conn.execute(
        "UPDATE alerts SET silenced = (alert_id = ANY(%s)) WHERE state IN ('pending', 'firing', 'acknowledged')",
        ([v.alert_id for v in views if routing.silenced(v.labels, silences, now)],),
    )
    last_sent = {k: t.timestamp() for k, t in conn.execute("SELECT group_key, last_sent FROM notification_groups")}
    messages = routing.plan(views, book.contacts, book.grouping, last_sent, silences, now)
    public = {r.name for r in book.rules if r.public}
    documents = 0
    for message in messages:
        items = [rows[i] for i in message.alert_ids]
        title, body = _text(message, items, now)
        tier = book.tier(message.tier)
        assert tier is not None  # plan() only routes to configured tiers
        targets = [("apprise", t) for t in tier.targets]
        if tier.mqtt and mqtt:
            targets.append(("mqtt", f"{protocol.ALERTS_TOPIC_ROOT}/{message.tier}/{slug(message.area)}"))
        for channel, target in targets:
            _outbox(conn, channel, target, message.group_key, title, body, list(message.alert_ids), now)
        conn.execute(
            """INSERT INTO notification_groups (group_key, last_sent) VALUES (%s, %s)
               ON CONFLICT (group_key) DO UPDATE SET last_sent = EXCLUDED.last_sent""",
            (message.group_key, utc(now)),
        )
        if message.tier == 2:
            conn.execute("UPDATE alerts SET escalated_at = %s WHERE alert_id = ANY(%s)",
                         (utc(now), list(message.alert_ids)))  # fmt: skip
            continue
        conn.execute(
            "UPDATE alerts SET notified_state = state, notified_at = %s WHERE alert_id = ANY(%s)",
            (utc(now), list(message.alert_ids)),
        )
        for alert_id in message.alert_ids:
            row = rows[alert_id]
            if row.rule in public and row.metric in PUBLIC_METRICS:
                documents += _cap(conn, book, row, alert_id in message.reminders, now, mqtt)
    return NotifyResult(len(messages), documents)


def _outbox(conn: psycopg.Connection, channel: str, target: str, group_key: str, title: str, body: str,
            alert_ids: list[int], now: float) -> None:  # fmt: skip
    conn.execute(
        """INSERT INTO notification_outbox (channel, target, group_key, title, body, alert_ids, created_at,
                                            next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (channel, target, group_key, title, body, alert_ids, utc(now), utc(now)),
    )


def _text(message: GroupMessage, items: list[Candidate], now: float) -> tuple[str, str]:
    """A short title and a body people can read on a phone; the body ends with a JSON line for machines."""
    states = [State.of(r.state) for r in items]
    firing = sum(s in (State.FIRING, State.ACKNOWLEDGED) for s in states)
    prefix = "ESCALATED " if message.tier == 2 else ""
    title = f"{prefix}UrbanPulse {message.area}: {firing} active, {len(items) - firing} cleared"
    lines = []
    for r, state in zip(items, states, strict=True):
        place = r.place or r.device_id or r.subject
        value = "" if r.value is None else f" value {r.value:.3g}"
        onset = (r.details or {}).get("onset")
        lead = f", predicted in {max(0.0, (onset - now) / 60):.0f} min" if onset is not None else ""
        lines.append(f"[{state.label.upper()}] {r.rule} at {place}{value}{lead} (alert #{r.alert_id})")
    told = [{"id": r.alert_id, "rule": r.rule, "state": r.state, "subject": r.subject,
             "reminder": r.alert_id in message.reminders} for r in items]  # fmt: skip
    machine = {"group": message.group_key, "tier": message.tier, "alerts": told}
    return title, "\n".join(lines) + "\n" + json.dumps(machine, separators=(",", ":"))


def _cap(conn: psycopg.Connection, book: RuleBook, row: Candidate, reminder: bool, now: float, mqtt: bool) -> int:
    earlier = conn.execute(
        "SELECT identifier, sent, msg_type FROM cap_messages WHERE alert_id = %s ORDER BY sent, identifier",
        (row.alert_id,),
    ).fetchall()
    if State.of(row.state) in (State.RESOLVED, State.EXPIRED):
        if not earlier or earlier[-1][2] == "Cancel":
            return 0
        msg_type = "Cancel"
    elif earlier and earlier[-1][2] != "Cancel":
        if not reminder:
            return 0  # acknowledged: internal news, nothing new for the public
        msg_type = "Update"
    else:
        msg_type = "Alert"
    details = row.details or {}
    forecast = row.kind in ("forecast_exceedance", "flood_tier") or (row.kind == "congestion" and "onset" in details)
    rule = next((r for r in book.rules if r.name == row.rule), None)
    tier = rule.tier if isinstance(rule, FloodTier) else None
    onset = details.get("onset") or (row.pending_since.timestamp() if not forecast else None)
    item = cap.CapAlert(
        alert_id=row.alert_id, message_number=len(earlier) + 1, msg_type=msg_type, sent=now, rule=row.rule,
        metric=row.metric or protocol.Kind.WATER_LEVEL, forecast=forecast, severity=Severity(row.severity),
        value=None if forecast else row.value, threshold=details.get("threshold"),
        probability=row.value if forecast else None, onset=onset, expires=now + book.cap.expires_s,
        place=row.place, ward=row.ward, district=row.district, latitude=row.latitude, longitude=row.longitude,
        references=tuple((e[0], e[1].timestamp()) for e in earlier), tier=tier,
    )  # fmt: skip
    xml = cap.document(item, book.cap.sender, book.cap.sender_name)
    ident = cap.identifier(row.alert_id, item.message_number)
    conn.execute(
        "INSERT INTO cap_messages (identifier, alert_id, sent, msg_type, xml) VALUES (%s, %s, %s, %s, %s)",
        (ident, row.alert_id, utc(now), msg_type, xml),
    )
    if mqtt:
        _outbox(
            conn,
            "mqtt",
            protocol.CAP_TOPIC,
            f"cap/{row.alert_id}",
            f"CAP {msg_type} {ident}",
            xml,
            [row.alert_id],
            now,
        )
    return 1
