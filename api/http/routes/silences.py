"""Silences: list (who made them and why), preview what a silence would match, create, expire."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Path

from api.http.deps import Conn, Now, Operator, Viewer
from api.http.errors import ApiError, documented
from api.queries import silences as queries
from api.schemas.alerts import PreviewOut, SilenceIn, SilenceOut, SilencePreviewIn

router = APIRouter(prefix="/api/v1/silences", tags=["alerts"],
                   responses=documented(401, 403, 422))  # fmt: skip


def _starts(body: SilencePreviewIn, now: datetime) -> datetime:
    """When the silence starts (default now), checked against its end."""
    starts = body.starts_at or now
    if body.ends_at <= starts:
        raise ApiError(422, "invalid", "ends_at must be after starts_at (or after now)", "ends_at")
    return starts


@router.get("", response_model=list[SilenceOut])
def list_silences(who: Viewer, conn: Conn, now: Now, active: bool = False) -> list[SilenceOut]:
    return queries.list_silences(conn, now, active)


@router.post("/preview", response_model=PreviewOut)
def preview(body: SilencePreviewIn, who: Viewer, conn: Conn, now: Now) -> PreviewOut:
    """The open alerts this silence would mute (nothing is written)."""
    _starts(body, now)
    return PreviewOut(alerts=queries.matching_alerts(conn, {k.value: v for k, v in body.matchers.items()}))


@router.post("", response_model=SilenceOut, status_code=201)
def create(body: SilenceIn, who: Operator, conn: Conn, now: Now) -> SilenceOut:
    """Mute notifications of matching alerts in the window (they still fire and are recorded)."""
    assert who.username is not None
    starts = _starts(body, now)
    return queries.create_silence(conn, {k.value: v for k, v in body.matchers.items()}, starts, body.ends_at,
                                  who.username, body.comment, now)  # fmt: skip


@router.delete("/{silence_id}", response_model=SilenceOut, responses=documented(404))
def expire(who: Operator, conn: Conn, now: Now, silence_id: int = Path(ge=1, le=2**62)) -> SilenceOut:
    """End the silence now (it stays on record with who ended it)."""
    assert who.username is not None
    return queries.expire_silence(conn, silence_id, who.username, now)
