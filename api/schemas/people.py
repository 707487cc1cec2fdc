"""People, sessions and tokens on the wire (In: request bodies, Out: responses)."""

from __future__ import annotations

from pydantic import Field

from api.roles import Role
from api.schemas.common import In, Out, UtcTime
from api.secrets import MIN_PASSWORD

USERNAME = r"^[a-z0-9][a-z0-9._-]{1,62}$"


class LoginIn(In):
    username: str = Field(min_length=1, max_length=63)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(Out):
    username: str
    role: Role
    csrf_token: str | None = Field(description="send as X-CSRF-Token with cookie-authenticated changes")


class UserIn(In):
    username: str = Field(pattern=USERNAME)
    role: Role
    password: str = Field(min_length=MIN_PASSWORD, max_length=1024)


class UserPatchIn(In):
    role: Role | None = None
    password: str | None = Field(None, min_length=MIN_PASSWORD, max_length=1024)
    disabled: bool | None = None


class UserOut(Out):
    username: str
    role: Role
    disabled: bool
    created_at: UtcTime
    created_by: str


class TokenIn(In):
    name: str = Field(min_length=1, max_length=100)
    expires_days: float | None = Field(None, gt=0, le=3650)


class NewTokenOut(Out):
    token_id: int
    token: str = Field(description="shown once; only its hash is stored")


class TokenOut(Out):
    token_id: int
    username: str
    name: str
    created_at: UtcTime
    expires_at: UtcTime | None
    revoked_at: UtcTime | None
    last_used_at: UtcTime | None
