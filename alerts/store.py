"""Alerts in the database: tracks in and out of the lifecycle, the audit trail, acknowledgements,
silences and stored rules. Every write of a cycle happens in the caller's transaction, so a crash
leaves either the whole cycle or none of it (the next cycle then recomputes the same changes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg.types.json import Jsonb

from alerts.errors import NotFound, StateConflict
from alerts.evaluate import Judgement
from alerts.lifecycle import OPEN, State, Timing, Tracks, advance
from alerts.observations import Subjects
from alerts.routing import Silence
from alerts.rules import RuleBook
from storage.sqlvalues import number_or_none, unix_or_nan, utc_or_none

ENGINE = "engine"
_OPEN_LABELS = [s.label for s in OPEN]


def subject_keys(judgement: Judgement, subjects: Subjects) -> list[str]:
    if judgement.on_devices:
        return [f"device:{subjects.device_ids[r]}" for r in judgement.rows]
    return [f"sensor:{subjects.sensor_ids[r]}" for r in judgement.rows]


@dataclass(frozen=True)
class StepResult:
    transitions: int
    open_alerts: int


def step_rule(
    conn: psycopg.Connection, judgement: Judgement, subjects: Subjects, now: float, flap_window_s: float
) -> StepResult:
    """Advance one rule's alerts by its judgement: read tracks, ``lifecycle.advance``, write back."""
    rule = judgement.rule
    keys = subject_keys(judgement, subjects)
    position = {key: i for i, key in enumerate(keys)}
    tracks = Tracks.empty(len(keys))
    alert_ids = np.full(len(keys), -1, dtype=np.int64)
    for subject, alert_id, state, pending, clear, unknown, flaps in conn.execute(
        """SELECT subject, alert_id, state, pending_since, clear_since, unknown_since, flaps FROM alerts
           WHERE rule = %s AND state = ANY(%s)""",
        (rule.name, _OPEN_LABELS),
    ):
        i = position.get(subject)
        if i is None:  # the subject is gone from the registry: leave its alert for people to close
            continue
        alert_ids[i] = alert_id
        tracks.state[i] = State.of(state)
        tracks.pending_since[i], tracks.clear_since[i] = unix_or_nan(pending), unix_or_nan(clear)
        tracks.unknown_since[i], tracks.flaps[i] = unix_or_nan(unknown), flaps
    closed_ids = np.full(len(keys), -1, dtype=np.int64)
    for subject, alert_id, closed_at, flaps in conn.execute(
        """SELECT DISTINCT ON (subject) subject, alert_id, closed_at, flaps FROM alerts
           WHERE rule = %s AND state = 'resolved' AND closed_at >= %s ORDER BY subject, closed_at DESC""",
        (rule.name, utc_or_none(now - flap_window_s)),
    ):
        i = position.get(subject)
        if i is not None and alert_ids[i] < 0:
            closed_ids[i], tracks.closed_at[i], tracks.flaps[i] = alert_id, unix_or_nan(closed_at), flaps
    timing = Timing(rule.for_s, rule.resolve_after_s, rule.expire_after_s, flap_window_s)
    after = advance(tracks, judgement.condition, now, timing)
    return _write(conn, judgement, subjects, keys, tracks, after, alert_ids, closed_ids, now)


def _write(
    conn: psycopg.Connection,
    judgement: Judgement,
    subjects: Subjects,
    keys: list[str],
    before: Tracks,
    after: Tracks,
    alert_ids: npt.NDArray[np.int64],
    closed_ids: npt.NDArray[np.int64],
    now: float,
) -> StepResult:
    rule, cond = judgement.rule, judgement.condition
    at = utc_or_none(now)
    changed = np.flatnonzero(after.state != before.state)
    still_open = np.flatnonzero(np.isin(after.state, OPEN) & (after.state == before.state))
    transitions = 0
    with conn.cursor() as cur:
        for i in changed.tolist():  # the few subjects whose state moved this cycle
            was, now_state = State(int(before.state[i])), State(int(after.state[i]))
            details = _details(judgement, i)
            if after.reopened[i] and closed_ids[i] >= 0:
                cur.execute(
                    """UPDATE alerts SET state = %s, closed_at = NULL, clear_since = NULL, flaps = %s,
                           last_change = %s, value = %s, details = %s WHERE alert_id = %s""",
                    (
                        now_state.label,
                        int(after.flaps[i]),
                        at,
                        number_or_none(cond.value[i]),
                        Jsonb(details),
                        int(closed_ids[i]),
                    ),
                )
                _audit(cur, int(closed_ids[i]), at, State.RESOLVED, now_state, "reopened within the flap window")
            elif was in (State.INACTIVE, State.RESOLVED, State.EXPIRED):
                if now_state == State.INACTIVE:
                    continue
                labels = _labels(judgement, subjects, i)
                row = cur.execute(
                    """INSERT INTO alerts (fingerprint, rule, kind, subject, sensor_id, device_id, district, ward,
                           severity, state, pending_since, fired_at, last_change, value, details)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING alert_id""",
                    (f"{rule.name}:{keys[i]}", rule.name, rule.kind, keys[i], labels["sensor_id"], labels["device_id"],
                     labels["district"], labels["ward"], rule.severity.value, now_state.label, at,
                     at if now_state == State.FIRING else None, at, number_or_none(cond.value[i]), Jsonb(details)),
                ).fetchone()  # fmt: skip
                assert row is not None
                _audit(cur, int(row[0]), at, None, State.PENDING, None)
                if now_state == State.FIRING:
                    _audit(cur, int(row[0]), at, State.PENDING, State.FIRING, None)
            elif now_state == State.INACTIVE:  # a pending alert whose condition lapsed: never was
                cur.execute("DELETE FROM alerts WHERE alert_id = %s", (int(alert_ids[i]),))
            else:
                closing = now_state in (State.RESOLVED, State.EXPIRED)
                cur.execute(
                    """UPDATE alerts SET state = %s, last_change = %s, value = coalesce(%s, value), details = %s,
                           fired_at = CASE WHEN %s = 'firing' THEN coalesce(fired_at, %s) ELSE fired_at END,
                           closed_at = CASE WHEN %s THEN %s ELSE closed_at END,
                           clear_since = %s, unknown_since = %s WHERE alert_id = %s""",
                    (now_state.label, at, number_or_none(cond.value[i]), Jsonb(details), now_state.label, at,
                     closing, at, utc_or_none(after.clear_since[i]), utc_or_none(after.unknown_since[i]),
                     int(alert_ids[i])),
                )  # fmt: skip
                _audit(cur, int(alert_ids[i]), at, was, now_state, None)
            transitions += 1
        rows = [
            (utc_or_none(after.clear_since[i]), utc_or_none(after.unknown_since[i]), number_or_none(cond.value[i]),
             Jsonb(_details(judgement, i)), int(alert_ids[i]))
            for i in still_open.tolist() if alert_ids[i] >= 0
        ]  # fmt: skip
        if rows:
            cur.executemany(
                """UPDATE alerts SET clear_since = %s, unknown_since = %s, value = coalesce(%s, value), details = %s
                   WHERE alert_id = %s""",
                rows,
            )
    return StepResult(transitions, int(np.isin(after.state, OPEN).sum()))


def _details(judgement: Judgement, i: int) -> dict[str, Any]:
    cond = judgement.condition
    details: dict[str, Any] = {}
    if np.isfinite(judgement.level[i]):
        details["threshold"] = float(judgement.level[i])
    if cond.onset is not None and np.isfinite(cond.onset[i]):
        details["onset"] = float(cond.onset[i])
    return details


def _labels(judgement: Judgement, subjects: Subjects, i: int) -> dict[str, Any]:
    row = int(judgement.rows[i])
    device = row if judgement.on_devices else int(subjects.sensor_device[row])
    return {
        "sensor_id": None if judgement.on_devices else int(subjects.sensor_ids[row]),
        "device_id": subjects.device_ids[device],
        "district": subjects.districts[device],
        "ward": subjects.wards[device],
    }


def _audit(cur: psycopg.Cursor[Any], alert_id: int, at: datetime | None, was: State | None, to: State,
           note: str | None, actor: str = ENGINE) -> None:  # fmt: skip
    cur.execute(
        "INSERT INTO alert_events (alert_id, at, from_state, to_state, actor, note) VALUES (%s, %s, %s, %s, %s, %s)",
        (alert_id, at, None if was is None else was.label, to.label, actor, note),
    )


def write_qc_flags(conn: psycopg.Connection, judgements: Sequence[Judgement], subjects: Subjects,
                   times: npt.NDArray[np.float64]) -> int:  # fmt: skip
    """Raise stored QC flags where a QC check judged a reading worse (never lowers one)."""
    sensor, when, flag = [], [], []
    for j in judgements:
        if j.flags is None or not len(j.flags.rows):
            continue
        sensor += subjects.sensor_ids[j.flags.rows].tolist()
        when += [utc_or_none(t) for t in times[j.flags.rows, j.flags.columns].tolist()]
        flag += j.flags.flags.tolist()
    if not sensor:
        return 0
    cur = conn.execute(
        """UPDATE readings r SET qc = f.qc
           FROM unnest(%s::int[], %s::timestamptz[], %s::int2[]) AS f(sensor_id, time, qc)
           WHERE r.sensor_id = f.sensor_id AND r.time = f.time AND r.qc < f.qc""",
        (sensor, when, flag),
    )
    conn.execute(  # the map shows the newest reading's flag
        """UPDATE sensor_latest l SET qc = f.qc
           FROM unnest(%s::int[], %s::timestamptz[], %s::int2[]) AS f(sensor_id, time, qc)
           WHERE l.sensor_id = f.sensor_id AND l.time = f.time AND l.qc < f.qc""",
        (sensor, when, flag),
    )
    return cur.rowcount


def store_rules(conn: psycopg.Connection, book: RuleBook) -> None:
    """The rules as loaded, for the API to list; rules no longer in the file are removed."""
    names = [r.name for r in book.rules]
    conn.execute("DELETE FROM alert_rules WHERE NOT (name = ANY(%s))", (names,))
    for rule in book.rules:
        conn.execute(
            """INSERT INTO alert_rules (name, kind, version, definition) VALUES (%s, %s, %s, %s)
               ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, version = EXCLUDED.version,
                   definition = EXCLUDED.definition, loaded_at = now()""",
            (rule.name, rule.kind, book.version, Jsonb(rule.model_dump(mode="json"))),
        )


def acknowledge(conn: psycopg.Connection, alert_id: int, by: str, note: str | None, now: float) -> None:
    """A person takes the alert: firing -> acknowledged (stops escalation), with the audit entry."""
    row = conn.execute("SELECT state FROM alerts WHERE alert_id = %s FOR UPDATE", (alert_id,)).fetchone()
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    if row[0] != State.FIRING.label:
        code = "not_firing" if State.of(row[0]) in OPEN else "not_open"
        raise StateConflict(code, f"alert {alert_id} is {row[0]}, not firing: nothing to acknowledge")
    at = utc_or_none(now)
    conn.execute(
        """UPDATE alerts SET state = 'acknowledged', acked_at = %s, acked_by = %s, ack_note = %s, last_change = %s
           WHERE alert_id = %s""",
        (at, by, note, at, alert_id),
    )
    with conn.cursor() as cur:
        _audit(cur, alert_id, at, State.FIRING, State.ACKNOWLEDGED, note, actor=by)


def add_silence(conn: psycopg.Connection, matchers: dict[str, str], starts: float, ends: float, by: str,
                comment: str) -> int:  # fmt: skip
    row = conn.execute(
        """INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment) VALUES (%s, %s, %s, %s, %s)
           RETURNING silence_id""",
        (Jsonb(matchers), utc_or_none(starts), utc_or_none(ends), by, comment),
    ).fetchone()
    assert row is not None
    return int(row[0])


def active_silences(conn: psycopg.Connection, now: float) -> list[Silence]:
    return [
        Silence(int(r[0]), dict(r[1]), r[2].timestamp(), r[3].timestamp())
        for r in conn.execute(
            """SELECT silence_id, matchers, starts_at, ends_at FROM silences
               WHERE starts_at <= %s AND ends_at > %s AND expired_at IS NULL""",
            (utc_or_none(now), utc_or_none(now)),
        )
    ]
