"""People (admin only): list, add, change role / password / disabled, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.http.deps import Admin, Conn
from api.http.errors import ApiError, documented
from api.queries import people
from api.schemas.people import USERNAME, UserIn, UserOut, UserPatchIn

router = APIRouter(prefix="/api/v1/users", tags=["people"],
                   responses=documented(401, 403))  # fmt: skip
Username = Annotated[str, Path(pattern=USERNAME)]


@router.get("", response_model=list[UserOut])
def list_users(who: Admin, conn: Conn) -> list[UserOut]:
    return people.list_users(conn)


@router.post("", response_model=UserOut, status_code=201, responses=documented(409))
def add_user(body: UserIn, who: Admin, conn: Conn) -> UserOut:
    assert who.username is not None
    made = people.add_user(conn, body.username, body.role, body.password, who.username)
    if made is None:
        raise ApiError(409, "exists", f"user {body.username} exists", "username")
    return made


@router.patch("/{username}", response_model=UserOut, responses=documented(404))
def update_user(body: UserPatchIn, who: Admin, conn: Conn, username: Username) -> UserOut:
    assert who.username is not None
    return people.update_user(conn, username, who.username, body.role, body.password, body.disabled)


@router.delete("/{username}", status_code=204, response_class=Response, responses=documented(404))
def delete_user(who: Admin, conn: Conn, username: Username) -> Response:
    assert who.username is not None
    if username == who.username:
        raise ApiError(409, "self", "an admin cannot remove their own account", "username")
    people.delete_user(conn, username, who.username)
    return Response(status_code=204)
