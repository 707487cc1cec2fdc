"""Alerts, their audit trail, comments, silences and rules on the wire."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import AwareDatetime, Field

from alerts.routing import LABELS
from alerts.rules import Severity
from api.schemas.common import In, Out, UtcTime

MatcherLabel = enum.StrEnum("MatcherLabel", {label.upper(): label for label in LABELS})  # type: ignore[misc]


class AlertState(enum.StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    EXPIRED = "expired"


OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)


class AlertOut(Out):
    alert_id: int
    rule: str
    kind: str
    subject: str
    sensor_id: int | None
    device_id: str | None
    site_name: str | None
    district: str | None
    ward: str | None
    severity: Severity
    state: AlertState
    pending_since: UtcTime
    fired_at: UtcTime | None
    acked_at: UtcTime | None
    acked_by: str | None
    ack_note: str | None
    assignee: str | None
    closed_at: UtcTime | None
    value: float | None
    details: dict[str, Any]
    silenced: bool
    last_change: UtcTime


class AlertEventOut(AlertOut):
    """An alert as the live stream tells of it; ``deleted``: a pending alert whose condition lapsed."""

    deleted: bool = False


class AlertPage(Out):
    items: list[AlertOut]
    next_cursor: str | None


class AuditEntryOut(Out):
    at: UtcTime
    from_state: AlertState | None
    to_state: AlertState
    actor: str
    note: str | None


class CommentOut(Out):
    at: UtcTime
    author: str
    text: str


class AlertDetailOut(AlertOut):
    events: list[AuditEntryOut]
    comments: list[CommentOut]


class AckIn(In):
    note: str | None = Field(None, max_length=2000)


class BulkAckIn(In):
    alert_ids: list[int] = Field(min_length=1, max_length=1000)
    note: str | None = Field(None, max_length=2000)


class BulkAckOut(Out):
    acknowledged: list[int]
    skipped: list[int]


class AssignIn(In):
    assignee: str | None = Field(max_length=63, description="a username, or null to unassign")


class CommentIn(In):
    text: str = Field(min_length=1, max_length=4000)


Matchers = dict[MatcherLabel, str]


class SilencePreviewIn(In):
    matchers: Matchers = Field(min_length=1, max_length=7, description="label -> shell-style pattern (d1, street-*)")
    starts_at: AwareDatetime | None = Field(None, description="default: now")
    ends_at: AwareDatetime


class SilenceIn(SilencePreviewIn):
    comment: str = Field(min_length=1, max_length=2000)


class SilenceOut(Out):
    silence_id: int
    matchers: dict[str, str]
    starts_at: UtcTime
    ends_at: UtcTime
    created_by: str
    comment: str
    created_at: UtcTime
    expired_by: str | None
    active: bool


class PreviewOut(Out):
    alerts: list[AlertOut]


class RuleOut(Out):
    name: str
    kind: str
    version: str
    definition: dict[str, Any]
    loaded_at: UtcTime
