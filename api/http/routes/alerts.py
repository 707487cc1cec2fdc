"""Alerts: list and filter, detail with the audit trail, acknowledge (one or many), assign, comment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from alerts.rules import Severity
from api.http.deps import Conn, Now, Operator, Viewer
from api.http.errors import ApiError, documented
from api.http.params import Cursor, Limit, comma_list, words
from api.queries import alerts as queries
from api.schemas.alerts import (
    OPEN_STATES,
    AckIn,
    AlertDetailOut,
    AlertOut,
    AlertPage,
    AlertState,
    AssignIn,
    BulkAckIn,
    BulkAckOut,
    CommentIn,
    CommentOut,
)

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=documented(401, 403, 422))
AlertId = Annotated[int, Path(ge=1, le=2**62)]
Words = Annotated[str | None, Query(max_length=1000, description="comma list")]


@router.get("", response_model=AlertPage)
def list_alerts(who: Viewer, conn: Conn, state: Words = None, severity: Words = None, kind: Words = None,
                rule: Words = None,
                district: str | None = Query(None, max_length=100), ward: str | None = Query(None, max_length=100),
                unacknowledged: bool = False, since: AwareDatetime | None = None, until: AwareDatetime | None = None,
                limit: int = Limit, cursor: str | None = Cursor) -> AlertPage:  # fmt: skip
    """Alerts, most severe first, then newest. Default: open ones (pending, firing, acknowledged);
    ``unacknowledged=true``: firing ones nobody has taken; ``since``/``until`` bound their activity."""
    chosen = queries.AlertFilter(
        states=comma_list(state, AlertState, "state") or OPEN_STATES,
        severities=comma_list(severity, Severity, "severity"),
        kinds=words(kind), rules=words(rule), district=district, ward=ward,
        unacknowledged=unacknowledged, since=since, until=until,
    )  # fmt: skip
    try:
        items, next_cursor = queries.list_alerts(conn, chosen, limit, cursor)
    except queries.BadCursor as error:
        raise ApiError(422, "invalid", str(error), "cursor") from error
    return AlertPage(items=items, next_cursor=next_cursor)


@router.get("/{alert_id}", response_model=AlertDetailOut, responses=documented(404))
def alert_detail(who: Viewer, conn: Conn, alert_id: AlertId) -> AlertDetailOut:
    return queries.alert_detail(conn, alert_id)


@router.post("/ack", response_model=BulkAckOut)
def acknowledge_many(body: BulkAckIn, who: Operator, conn: Conn, now: Now) -> BulkAckOut:
    """Acknowledge every firing alert named; the rest (unknown, pending, closed, taken) come back skipped."""
    assert who.username is not None
    return queries.acknowledge_many(conn, body.alert_ids, who.username, body.note, now)


@router.post("/{alert_id}/ack", response_model=AlertOut,
             responses=documented(404, 409))  # fmt: skip
def acknowledge(body: AckIn, who: Operator, conn: Conn, now: Now, alert_id: AlertId) -> AlertOut:
    """Take a firing alert (stops escalation and reminders); 409 ``not_open`` when it is closed,
    ``not_firing`` when it is pending or already acknowledged."""
    assert who.username is not None
    return queries.acknowledge(conn, alert_id, who.username, body.note, now)


@router.post("/{alert_id}/assign", response_model=AlertOut,
             responses=documented(404, 409))  # fmt: skip
def assign(body: AssignIn, who: Operator, conn: Conn, now: Now, alert_id: AlertId) -> AlertOut:
    assert who.username is not None
    return queries.assign(conn, alert_id, body.assignee, who.username, now)


@router.post("/{alert_id}/comments", response_model=CommentOut, status_code=201,
             responses=documented(404))  # fmt: skip
def comment(body: CommentIn, who: Operator, conn: Conn, now: Now, alert_id: AlertId) -> CommentOut:
    assert who.username is not None
    return queries.add_comment(conn, alert_id, who.username, body.text, now)
