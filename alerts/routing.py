"""Who hears of what, and when: silences, grouping by district, repeats and escalation. Pure.

Notification is level-triggered: each alert remembers the last state people were told of
(``notified_state``), and a group (district x contact tier) is sent when one of its alerts
differs from that - after ``wait_s`` to gather the news of a storm into one message, and at
most once per ``interval_s``. Because only the *current* state is told, an alert that fired and
resolved again before its group was sent says nothing at all (flap suppression), and a restart
re-sends nothing that was already told.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alerts.lifecycle import State
from alerts.rules import ContactTier, Grouping, Severity

SEVERITY_ORDER = list(Severity)
LABELS = ("rule", "kind", "severity", "district", "ward", "device_id", "subject")


@dataclass(frozen=True)
class Silence:
    silence_id: int
    matchers: Mapping[str, str]  # label -> shell-style pattern ("d1", "street-*")
    starts_at: float
    ends_at: float

    def mutes(self, labels: Mapping[str, str | None], now: float) -> bool:
        if not self.starts_at <= now < self.ends_at:
            return False
        return all(fnmatch.fnmatchcase(labels.get(k) or "", pattern) for k, pattern in self.matchers.items())


@dataclass(frozen=True)
class AlertView:
    """What routing needs of an alert (a row of ``alerts``)."""

    alert_id: int
    labels: Mapping[str, str | None]
    state: State
    notified_state: State | None
    last_change: float
    fired_at: float | None
    notified_at: float | None
    escalated_at: float | None

    @property
    def severity(self) -> Severity:
        return Severity(self.labels["severity"] or Severity.MINOR)


@dataclass(frozen=True)
class GroupMessage:
    group_key: str  # "<tier>/<district>"
    tier: int
    area: str
    alert_ids: tuple[int, ...]
    reminders: tuple[int, ...]  # alerts told again (repeat) although their state did not change


def silenced(labels: Mapping[str, str | None], silences: Sequence[Silence], now: float) -> bool:
    return any(s.mutes(labels, now) for s in silences)


def news(alert: AlertView) -> bool:
    """The alert's state differs from what people were last told (pending is nobody's news)."""
    if alert.state in (State.PENDING, State.INACTIVE):
        return False
    if alert.notified_state is None:
        return alert.state in (State.FIRING, State.ACKNOWLEDGED)  # a silent rise and fall is no news
    return alert.state != alert.notified_state


def due_reminder(alert: AlertView, grouping: Grouping, now: float) -> bool:
    return (
        alert.state == State.FIRING
        and alert.notified_state == State.FIRING
        and alert.notified_at is not None
        and now - alert.notified_at >= grouping.repeat_s
    )


def due_escalation(alert: AlertView, tier2: ContactTier | None, now: float) -> bool:
    """Firing, nobody acknowledged it within ``escalate_after_s``, not yet escalated, loud enough."""
    return (
        tier2 is not None
        and alert.state == State.FIRING
        and alert.escalated_at is None
        and alert.fired_at is not None
        and now - alert.fired_at >= tier2.escalate_after_s
        and _loud_enough(alert, tier2)
    )


def plan(
    alerts: Sequence[AlertView],
    contacts: Sequence[ContactTier],
    grouping: Grouping,
    last_sent: Mapping[str, float],
    silences: Sequence[Silence],
    now: float,
) -> list[GroupMessage]:
    """The group messages to send now. Silenced alerts are left out (and told once the silence ends)."""
    tier1 = next((c for c in contacts if c.tier == 1), None)
    tier2 = next((c for c in contacts if c.tier == 2), None)
    waiting: dict[tuple[int, str], list[tuple[AlertView, bool]]] = {}
    for alert in alerts:
        if silenced(alert.labels, silences, now):
            continue
        area = alert.labels.get(grouping.by) or "unplaced"
        if tier1 is not None and _loud_enough(alert, tier1):
            if news(alert):
                waiting.setdefault((1, area), []).append((alert, False))
            elif due_reminder(alert, grouping, now):
                waiting.setdefault((1, area), []).append((alert, True))
        if due_escalation(alert, tier2, now):
            waiting.setdefault((2, area), []).append((alert, False))
    messages = []
    for (tier, area), items in sorted(waiting.items()):
        key = f"{tier}/{area}"
        oldest = min(a.last_change for a, _ in items)
        sent = last_sent.get(key)
        if now - oldest < grouping.wait_s and tier == 1:
            continue
        if sent is not None and now - sent < grouping.interval_s:
            continue
        ids = tuple(sorted(a.alert_id for a, _ in items))
        messages.append(GroupMessage(key, tier, area, ids, tuple(sorted(a.alert_id for a, r in items if r))))
    return messages


def _loud_enough(alert: AlertView, tier: ContactTier) -> bool:
    return SEVERITY_ORDER.index(alert.severity) >= SEVERITY_ORDER.index(tier.min_severity)
