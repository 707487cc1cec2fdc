"""Logging in and out: cookie sessions for browsers, rate-limited across every API copy."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from api.http.deps import SESSION_COOKIE, Config, Conn, Member, Now, Viewer
from api.http.errors import ApiError, documented
from api.queries import credentials, people
from api.schemas.people import LoginIn, MeOut
from api.secrets import verify_password

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=MeOut,
             responses=documented(401, 429))  # fmt: skip
def login(body: LoginIn, request: Request, response: Response, conn: Conn, settings: Config, now: Now) -> MeOut:
    """Check the password (argon2id) and open a session: an HttpOnly, SameSite=Strict cookie plus the
    CSRF token to send as X-CSRF-Token with every change. Failed attempts are counted per username and
    per client address; past the limit the answer is 429 until the window has passed."""
    address = request.client.host if request.client else "unknown"
    keys = [f"user:{body.username}", f"addr:{address}"]
    window = timedelta(seconds=settings.login_window_s)
    failures = credentials.recent_failures(conn, keys, now - window)
    if (failures.get(keys[0], 0) >= settings.login_max_per_user
            or failures.get(keys[1], 0) >= settings.login_max_per_address):  # fmt: skip
        raise ApiError(429, "too_many_attempts", "too many failed logins; wait and try again",
                       headers={"Retry-After": str(int(settings.login_window_s))})  # fmt: skip
    stored = people.password_hash(conn, body.username)
    if not verify_password(body.password, None if stored is None else stored[0]) or stored is None:
        credentials.record_failure(conn, keys, now, now - window)
        request.app.state.metrics.login_failures.inc()
        raise ApiError(401, "bad_credentials", "unknown user or wrong password")
    session = credentials.open_session(conn, body.username, now, timedelta(hours=settings.session_hours))
    response.set_cookie(SESSION_COOKIE, session.secret, max_age=int(settings.session_hours * 3600), httponly=True,
                        samesite="strict", secure=settings.cookie_secure, path="/")  # fmt: skip
    return MeOut(username=body.username, role=stored[1], csrf_token=session.csrf_token)


@router.post("/logout", status_code=204, response_class=Response, responses=documented(401))
def logout(request: Request, who: Member, conn: Conn) -> Response:
    """End this browser session (a bearer token is revoked through /tokens instead)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        credentials.close_session(conn, cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeOut, responses=documented(401))
def me(who: Viewer) -> MeOut:
    """Who the session or token belongs to, with the session's CSRF token (None for a bearer token)."""
    assert who.username is not None and who.role is not None
    return MeOut(username=who.username, role=who.role, csrf_token=who.csrf_token)
