"""Sessions, bearer tokens and failed logins: how a request's principal is found, in SQL.

Secrets are never stored: sessions and tokens are looked up by the SHA-256 of what the client
presents (``api.secrets.digest``). Failed logins are rows, so every API copy counts the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from alerts.errors import NotFound
from api.queries.people import audit
from api.roles import Credential, Principal, Role
from api.schemas.people import NewTokenOut, TokenOut
from api.secrets import digest, new_secret

TOKEN_PREFIX = "upt_"
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class NewSession:
    secret: str  # the cookie's value
    csrf_token: str
    expires_at: datetime


def open_session(conn: psycopg.Connection, username: str, now: datetime, lifetime: timedelta) -> NewSession:
    """A new session for ``username``; expired sessions are swept on the way."""
    session = NewSession(new_secret(), new_secret(), now + lifetime)
    with conn.transaction():
        conn.execute("DELETE FROM sessions WHERE expires_at < %s", (now,))
        conn.execute(
            "INSERT INTO sessions (session_hash, username, csrf_token, expires_at) VALUES (%s, %s, %s, %s)",
            (digest(session.secret), username, session.csrf_token, session.expires_at),
        )
    return session


def session_principal(conn: psycopg.Connection, secret: str, now: datetime) -> Principal | None:
    row = conn.execute(
        """SELECT u.username, u.role, s.csrf_token FROM sessions s JOIN users u USING (username)
           WHERE s.session_hash = %s AND s.expires_at > %s AND NOT u.disabled""",
        (digest(secret), now),
    ).fetchone()
    return None if row is None else Principal(row[0], Role(row[1]), Credential.SESSION, row[2])


def close_session(conn: psycopg.Connection, secret: str) -> None:
    conn.execute("DELETE FROM sessions WHERE session_hash = %s", (digest(secret),))


def create_token(conn: psycopg.Connection, username: str, name: str, expires_at: datetime | None,
                 by: str) -> NewTokenOut:  # fmt: skip
    secret = TOKEN_PREFIX + new_secret()
    with conn.transaction():
        row = conn.execute(
            """INSERT INTO api_tokens (username, name, token_hash, expires_at) VALUES (%s, %s, %s, %s)
               RETURNING token_id""",
            (username, name, digest(secret), expires_at),
        ).fetchone()
        assert row is not None
        audit(conn, by, "token.create", f"token:{row[0]}", {"username": username, "name": name})
    return NewTokenOut(token_id=int(row[0]), token=secret)


def token_principal(conn: psycopg.Connection, secret: str, now: datetime) -> Principal | None:
    """The token's owner, if the token is valid. ``last_used_at`` is written at most once a minute: a
    write (and its row lock) on every request would serialise a busy machine client's requests."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = conn.execute(
        """SELECT t.token_id, u.username, u.role, t.last_used_at FROM api_tokens t JOIN users u USING (username)
           WHERE t.token_hash = %(hash)s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > %(now)s)
             AND NOT u.disabled""",
        {"hash": digest(secret), "now": now},
    ).fetchone()
    if row is None:
        return None
    token_id, username, role, used = row
    if used is None or now - used > LAST_USED_GRANULARITY:
        conn.execute("UPDATE api_tokens SET last_used_at = %s WHERE token_id = %s", (now, token_id))
    return Principal(username, Role(role), Credential.TOKEN)


def list_tokens(conn: psycopg.Connection, username: str | None) -> list[TokenOut]:
    """Tokens of ``username`` (None: everyone's), newest first."""
    with conn.cursor(row_factory=class_row(TokenOut)) as cur:
        return cur.execute(
            """SELECT token_id, username, name, created_at, expires_at, revoked_at, last_used_at FROM api_tokens
               WHERE %(user)s::text IS NULL OR username = %(user)s ORDER BY token_id DESC""",
            {"user": username},
        ).fetchall()


def token_owner(conn: psycopg.Connection, token_id: int) -> str:
    row = conn.execute("SELECT username FROM api_tokens WHERE token_id = %s", (token_id,)).fetchone()
    if row is None:
        raise NotFound(f"no token {token_id}")
    return str(row[0])


def revoke_token(conn: psycopg.Connection, token_id: int, by: str, now: datetime) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE api_tokens SET revoked_at = %s, revoked_by = %s WHERE token_id = %s AND revoked_at IS NULL",
            (now, by, token_id),
        )
        audit(conn, by, "token.revoke", f"token:{token_id}")


def recent_failures(conn: psycopg.Connection, keys: list[str], since: datetime) -> dict[str, int]:
    rows = conn.execute(
        "SELECT key, count(*) FROM login_failures WHERE key = ANY(%s) AND at > %s GROUP BY key", (keys, since)
    ).fetchall()
    return {key: int(count) for key, count in rows}


def record_failure(conn: psycopg.Connection, keys: list[str], now: datetime, forget_before: datetime) -> None:
    with conn.transaction():
        conn.execute("DELETE FROM login_failures WHERE key = ANY(%s) AND at < %s", (keys, forget_before))
        conn.execute("INSERT INTO login_failures (key, at) SELECT unnest(%s::text[]), %s", (keys, now))
