"""Bearer tokens for machine clients: created by anyone for themselves (shown once), revocable;
admins see and revoke everyone's."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Path, Response

from api.http.deps import Conn, Member, Now, Viewer
from api.http.errors import ApiError, documented
from api.queries import credentials
from api.roles import Role
from api.schemas.people import NewTokenOut, TokenIn, TokenOut

router = APIRouter(prefix="/api/v1/tokens", tags=["people"],
                   responses=documented(401, 403))  # fmt: skip


@router.post("", response_model=NewTokenOut, status_code=201)
def create_token(body: TokenIn, who: Member, conn: Conn, now: Now) -> NewTokenOut:
    """A token acting as you, with your role; the secret is in this answer only."""
    assert who.username is not None
    expires = None if body.expires_days is None else now + timedelta(days=body.expires_days)
    return credentials.create_token(conn, who.username, body.name, expires, who.username)


@router.get("", response_model=list[TokenOut])
def list_tokens(who: Viewer, conn: Conn) -> list[TokenOut]:
    """Your tokens (an admin: everyone's)."""
    return credentials.list_tokens(conn, None if who.may(Role.ADMIN) else who.username)


@router.delete("/{token_id}", status_code=204, response_class=Response, responses=documented(404))
def revoke_token(who: Member, conn: Conn, now: Now, token_id: int = Path(ge=1, le=2**62)) -> Response:
    assert who.username is not None
    owner = credentials.token_owner(conn, token_id)
    if owner != who.username and not who.may(Role.ADMIN):
        raise ApiError(403, "forbidden", "only an admin may revoke another person's token")
    credentials.revoke_token(conn, token_id, who.username, now)
    return Response(status_code=204)
