"""Users and the audit log: the SQL behind ``urbanpulse user`` and ``/api/v1/users``."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from alerts.errors import NotFound
from api.roles import Role
from api.schemas.people import UserOut
from api.secrets import hash_password

_USER_COLUMNS = "username, role, disabled, created_at, created_by"


def audit(conn: psycopg.Connection, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    """Record who changed what (in the caller's transaction)."""
    conn.execute(
        "INSERT INTO audit_log (actor, action, target, detail) VALUES (%s, %s, %s, %s)",
        (actor, action, target, Jsonb(detail or {})),
    )


def add_user(conn: psycopg.Connection, username: str, role: Role, password: str, by: str) -> UserOut | None:
    """Create a user; None when the name is taken."""
    hashed = hash_password(password)
    with conn.transaction():
        with conn.cursor(row_factory=class_row(UserOut)) as cur:
            made = cur.execute(
                f"""INSERT INTO users (username, role, password_hash, created_by) VALUES (%s, %s, %s, %s)
                    ON CONFLICT (username) DO NOTHING RETURNING {_USER_COLUMNS}""",
                (username, role.value, hashed, by),
            ).fetchone()
        if made is not None:
            audit(conn, by, "user.add", f"user:{username}", {"role": role.value})
    return made


def list_users(conn: psycopg.Connection) -> list[UserOut]:
    with conn.cursor(row_factory=class_row(UserOut)) as cur:
        return cur.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username").fetchall()


def get_user(conn: psycopg.Connection, username: str) -> UserOut:
    with conn.cursor(row_factory=class_row(UserOut)) as cur:
        found = cur.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE username = %s", (username,)).fetchone()
    if found is None:
        raise NotFound(f"no user {username}")
    return found


def update_user(conn: psycopg.Connection, username: str, by: str, role: Role | None = None,
                password: str | None = None, disabled: bool | None = None) -> UserOut:  # fmt: skip
    """Change role, password or disabled; a password change or disabling ends the user's sessions."""
    with conn.transaction():
        get_user(conn, username)
        if role is not None:
            conn.execute("UPDATE users SET role = %s WHERE username = %s", (role.value, username))
        if disabled is not None:
            conn.execute("UPDATE users SET disabled = %s WHERE username = %s", (disabled, username))
        if password is not None:
            conn.execute("UPDATE users SET password_hash = %s WHERE username = %s", (hash_password(password), username))
        if password is not None or disabled:
            conn.execute("DELETE FROM sessions WHERE username = %s", (username,))
        changes = {k: v for k, v in (("role", role), ("disabled", disabled)) if v is not None}
        audit(conn, by, "user.update", f"user:{username}", {**changes, "password": password is not None})
        return get_user(conn, username)


def delete_user(conn: psycopg.Connection, username: str, by: str) -> None:
    with conn.transaction():
        if conn.execute("DELETE FROM users WHERE username = %s", (username,)).rowcount == 0:
            raise NotFound(f"no user {username}")
        audit(conn, by, "user.delete", f"user:{username}")


def password_hash(conn: psycopg.Connection, username: str) -> tuple[str, Role] | None:
    """The stored hash and role of an enabled user (None: unknown or disabled)."""
    row = conn.execute(
        "SELECT password_hash, role FROM users WHERE username = %s AND NOT disabled", (username,)
    ).fetchone()
    return None if row is None else (row[0], Role(row[1]))
