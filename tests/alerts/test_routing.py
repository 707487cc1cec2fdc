"""Routing on pure logic: silence windows, group wait/interval, repeats, escalation timing."""

from __future__ import annotations

from alerts.lifecycle import State
from alerts.routing import AlertView, Silence, plan
from alerts.rules import ContactTier, Grouping, Severity

GROUPING = Grouping(wait_s=30, interval_s=300, repeat_s=3600)
CONTACTS = [ContactTier(tier=1), ContactTier(tier=2, escalate_after_s=900, min_severity=Severity.SEVERE)]


def _alert(alert_id: int, district: str = "Quận 1", state: State = State.FIRING, notified: State | None = None,
           changed: float = 0.0, severity: str = "severe", notified_at: float | None = None,
           escalated_at: float | None = None) -> AlertView:  # fmt: skip
    labels = {"rule": "street-flood", "kind": "threshold", "severity": severity, "district": district,
              "ward": "Bến Nghé", "device_id": f"dev-{alert_id}", "subject": f"sensor:{alert_id}"}  # fmt: skip
    fired = changed if state != State.PENDING else None
    return AlertView(alert_id, labels, state, notified, changed, fired, notified_at, escalated_at)


def test_news_waits_for_the_group_wait_then_goes_as_one_message_per_district() -> None:
    alerts = [_alert(1), _alert(2, changed=10.0), _alert(3, district="Quận 7")]
    assert plan(alerts, CONTACTS, GROUPING, {}, [], now=20.0) == []  # still gathering
    messages = plan(alerts, CONTACTS, GROUPING, {}, [], now=40.0)
    assert [(m.group_key, m.alert_ids) for m in messages] == [("1/Quận 1", (1, 2)), ("1/Quận 7", (3,))]


def test_a_group_is_not_sent_again_within_its_interval() -> None:
    alerts = [_alert(1, changed=100.0)]
    assert plan(alerts, CONTACTS, GROUPING, {"1/Quận 1": 0.0}, [], now=200.0) == []
    assert len(plan(alerts, CONTACTS, GROUPING, {"1/Quận 1": 0.0}, [], now=300.0)) == 1


def test_only_state_changes_are_news_and_a_silent_rise_and_fall_says_nothing() -> None:
    told = _alert(1, notified=State.FIRING, notified_at=0.0)
    resolved_untold = _alert(2, state=State.RESOLVED, notified=None)
    resolved_told = _alert(3, state=State.RESOLVED, notified=State.FIRING, notified_at=0.0)
    pending = _alert(4, state=State.PENDING)
    messages = plan([told, resolved_untold, resolved_told, pending], CONTACTS, GROUPING, {}, [], now=100.0)
    assert [m.alert_ids for m in messages] == [(3,)]


def test_silences_mute_matching_alerts_inside_their_window_only() -> None:
    alerts = [_alert(1), _alert(2, district="Quận 7")]
    maintenance = Silence(1, {"district": "Quận 1", "rule": "street-*"}, starts_at=0.0, ends_at=1000.0)
    during = plan(alerts, CONTACTS, GROUPING, {}, [maintenance], now=500.0)
    assert [m.alert_ids for m in during] == [(2,)]
    after = plan(alerts, CONTACTS, GROUPING, {}, [maintenance], now=1000.0)
    assert {m.alert_ids for m in after} == {(1,), (2,)}  # told once the silence is over


def test_escalation_to_the_second_tier_after_the_deadline_when_nobody_acknowledged() -> None:
    firing = _alert(1, notified=State.FIRING, notified_at=0.0)
    minor = _alert(2, notified=State.FIRING, notified_at=0.0, severity="minor")
    acked = _alert(3, state=State.ACKNOWLEDGED, notified=State.ACKNOWLEDGED, notified_at=0.0)
    assert plan([firing, minor, acked], CONTACTS, GROUPING, {}, [], now=899.0) == []
    messages = plan([firing, minor, acked], CONTACTS, GROUPING, {}, [], now=900.0)
    assert [(m.tier, m.alert_ids) for m in messages] == [(2, (1,))]  # minor is below tier 2's severity
    done = _alert(1, notified=State.FIRING, notified_at=0.0, escalated_at=900.0)
    assert plan([done], CONTACTS, GROUPING, {}, [], now=1200.0) == []


def test_an_unacknowledged_firing_alert_is_repeated_after_the_repeat_interval() -> None:
    firing = _alert(1, notified=State.FIRING, notified_at=0.0, severity="minor")
    assert plan([firing], CONTACTS, GROUPING, {"1/Quận 1": 0.0}, [], now=3599.0) == []
    (message,) = plan([firing], CONTACTS, GROUPING, {"1/Quận 1": 0.0}, [], now=3600.0)
    assert message.reminders == (1,)
