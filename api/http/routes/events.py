"""The live stream: Server-Sent Events shared by every API copy, resumable with Last-Event-ID."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.sse import EventSourceResponse

from api.http.deps import Public
from api.http.errors import ApiError, documented
from api.http.params import comma_list
from api.roles import Role
from api.schemas.events import PUBLIC_EVENTS, EventType

router = APIRouter(prefix="/api/v1", tags=["live"])


def resume_after(last_event_id: str | None = Header(None, max_length=40)) -> int | None:
    """The id a reconnecting client last saw (None: start from now)."""
    if last_event_id is None or not last_event_id.strip():
        return None
    text = last_event_id.strip()
    if not text.isdigit() or len(text) > 18:
        raise ApiError(422, "invalid", "Last-Event-ID: an event id from this stream", "Last-Event-ID")
    return int(text)


TypesParam = Annotated[str | None, Query(max_length=200, description="comma list: alert, forecast, site, device")]


def wanted_types(who: Public, types: TypesParam = None) -> frozenset[EventType]:
    wanted = frozenset(comma_list(types, EventType, "types") or EventType)
    return wanted if who.may(Role.VIEWER) else wanted & PUBLIC_EVENTS


@router.get(
    "/events",
    response_class=Response,  # the frames are encoded by the hub, not by FastAPI's per-item SSE encoder
    responses={200: {"content": {"text/event-stream": {}}, "description": "the event stream"}, **documented(401, 422)},
)
async def events(
    request: Request,
    after: Annotated[int | None, Depends(resume_after)],
    wanted: Annotated[frozenset[EventType], Depends(wanted_types)],
) -> EventSourceResponse:
    """``alert`` (data: the alert as changed), ``forecast`` (issued_at, sensors), ``site`` (the site's
    Feature now), ``device`` (the device now); ids are shared by every API copy. Reconnect with
    ``Last-Event-ID`` to get every missed event once. Anonymous readers (when reading is open) get
    site and forecast events only. A ``: ping`` comment keeps idle connections open.

    Each event is encoded once by the process's hub and written as the same bytes to every client."""
    hub = request.app.state.hub
    return EventSourceResponse(hub.stream(hub.subscribe(after, wanted)))
