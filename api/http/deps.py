"""Typed dependencies of the routes: a pooled connection, the clock, the settings and the principal.

Routes ask for what they need by type (``conn: Conn``, ``who: Operator``); nothing is global.
Authorisation lives here once: ``Public`` reads open data (anonymous only when
``api.anonymous_read``), ``Viewer`` reads everything else, ``Operator``/``Admin`` change state
and, for cookie sessions, must echo the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from api.http.errors import ApiError
from api.queries.credentials import session_principal, token_principal
from api.roles import Credential, Principal, Role
from runtime.settings import ApiSettings
from storage.migrate import Engine

SESSION_COOKIE = "urbanpulse_session"
CSRF_HEADER = "X-CSRF-Token"


def connection(request: Request) -> Iterator[psycopg.Connection]:
    """A connection from the process's pool for the request (autocommit; writes open transactions)."""
    with request.app.state.pool.connection() as conn:
        yield conn


def api_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.api_settings
    return settings


def engine(request: Request) -> Engine:
    found: Engine = request.app.state.engine
    return found


def clock() -> datetime:
    return datetime.now(UTC)


Conn = Annotated[psycopg.Connection, Depends(connection)]
Config = Annotated[ApiSettings, Depends(api_settings)]
Now = Annotated[datetime, Depends(clock)]
StorageEngine = Annotated[Engine, Depends(engine)]


def principal(request: Request, now: Now) -> Principal:
    """Who is asking: a bearer token, else the session cookie, else anonymous.

    Takes a pooled connection only for the look-up, not for the request: a live stream lasts hours
    and must not hold one of the pool's few connections all that time.
    """
    authorization = request.headers.get("authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not authorization and not cookie:
        return Principal.anonymous()
    with request.app.state.pool.connection() as conn:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            found = token_principal(conn, token.strip(), now) if scheme.lower() == "bearer" else None
            if found is None:
                raise ApiError(401, "bad_token", "the bearer token is unknown, revoked or expired",
                               headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
            return found
        return session_principal(conn, cookie or "", now) or Principal.anonymous()


Who = Annotated[Principal, Depends(principal)]


def require(role: Role, *, public: bool = False, change: bool = False) -> Callable[..., Principal]:
    """A dependency admitting principals with ``role`` or above (``public``: anyone when the city opens
    its data); ``change``: a state change, which cookie sessions must confirm with the CSRF token."""

    def check(request: Request, who: Who, config: Config) -> Principal:
        if who.credential == Credential.ANONYMOUS:
            if public and config.anonymous_read:
                return who
            raise ApiError(401, "unauthorized", "log in or send a bearer token", headers={"WWW-Authenticate": "Bearer"})
        if not who.may(role):
            raise ApiError(403, "forbidden", f"needs the {role.value} role; you are {who.role}")
        if change and who.credential == Credential.SESSION:
            sent = request.headers.get(CSRF_HEADER, "")
            if not who.csrf_token or not secrets.compare_digest(sent, who.csrf_token):
                raise ApiError(403, "csrf", f"cookie-authenticated changes need the {CSRF_HEADER} header from login")
        return who

    return check


Public = Annotated[Principal, Depends(require(Role.VIEWER, public=True))]
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Member = Annotated[Principal, Depends(require(Role.VIEWER, change=True))]  # a change to one's own things
Operator = Annotated[Principal, Depends(require(Role.OPERATOR, change=True))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN, change=True))]
