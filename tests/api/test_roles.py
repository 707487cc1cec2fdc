"""The role matrix: anonymous, viewer, operator and admin against every state-changing route of the
API (taken from its OpenAPI document, so a new route without an entry here fails this test)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from api.queries.credentials import create_token
from api.roles import Role
from tests.api.city import City, open_alert, seed_city
from tests.api.conftest import People
from tests.harness import ApiProcess, Stack


@dataclass(frozen=True)
class Change:
    method: str
    template: str  # the OpenAPI path
    needs: Role
    prepare: Callable[[psycopg.Connection, City, Role], tuple[dict[str, Any], Any]]  # -> (path values, body)


def _alert(conn: psycopg.Connection, city: City, _: Role) -> tuple[dict[str, Any], Any]:
    return {"alert_id": open_alert(conn, city.sites[0])}, {"note": "on it"}


def _silence(conn: psycopg.Connection, city: City, _: Role) -> tuple[dict[str, Any], Any]:
    now = datetime.now(UTC)
    row = conn.execute("""INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment)
                          VALUES ('{"rule": "x"}', %s, %s, 'test', 'x') RETURNING silence_id""",
                       (now, now + timedelta(hours=1))).fetchone()  # fmt: skip
    assert row is not None
    return {"silence_id": row[0]}, None


def _token(conn: psycopg.Connection, city: City, role: Role) -> tuple[dict[str, Any], Any]:
    made = create_token(conn, role.value, "to revoke", None, "test")
    return {"token_id": made.token_id}, None


def _user(conn: psycopg.Connection, city: City, role: Role) -> tuple[dict[str, Any], Any]:
    name = f"temp-{datetime.now(UTC).timestamp():.6f}".replace(".", "-")
    conn.execute("INSERT INTO users (username, role, password_hash, created_by) VALUES (%s, 'viewer', 'x', 'test')",
                 (name,))  # fmt: skip
    return {"username": name}, {"role": "operator"}


def _nothing(body: Any) -> Callable[[psycopg.Connection, City, Role], tuple[dict[str, Any], Any]]:
    return lambda conn, city, role: ({}, body() if callable(body) else body)


CHANGES = [
    Change("POST", "/api/v1/auth/logout", Role.VIEWER, _nothing(None)),
    Change("POST", "/api/v1/tokens", Role.VIEWER, _nothing({"name": "robot"})),
    Change("DELETE", "/api/v1/tokens/{token_id}", Role.VIEWER, _token),
    Change(
        "POST",
        "/api/v1/users",
        Role.ADMIN,
        _nothing(
            lambda: {
                "username": f"u{datetime.now(UTC).timestamp():.0f}{id(object())}"[:30],
                "role": "viewer",
                "password": "correct horse battery",
            }
        ),
    ),  # fmt: skip
    Change("PATCH", "/api/v1/users/{username}", Role.ADMIN, _user),
    Change("DELETE", "/api/v1/users/{username}", Role.ADMIN, _user),
    Change("POST", "/api/v1/alerts/{alert_id}/ack", Role.OPERATOR, _alert),
    Change(
        "POST",
        "/api/v1/alerts/ack",
        Role.OPERATOR,
        lambda conn, city, role: ({}, {"alert_ids": [open_alert(conn, city.sites[1])]}),
    ),
    Change(
        "POST",
        "/api/v1/alerts/{alert_id}/assign",
        Role.OPERATOR,
        lambda conn, city, role: (_alert(conn, city, role)[0], {"assignee": "operator"}),
    ),
    Change(
        "POST",
        "/api/v1/alerts/{alert_id}/comments",
        Role.OPERATOR,
        lambda conn, city, role: (_alert(conn, city, role)[0], {"text": "seen"}),
    ),
    Change(
        "POST",
        "/api/v1/silences",
        Role.OPERATOR,
        _nothing(
            lambda: {
                "matchers": {"rule": "street-*"},
                "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "comment": "works",
            }
        ),
    ),  # fmt: skip
    Change("DELETE", "/api/v1/silences/{silence_id}", Role.OPERATOR, _silence),
    Change(
        "PUT",
        "/api/v1/devices/{device_id}/config",
        Role.ADMIN,
        lambda conn, city, role: (
            {"device_id": city.sites[0].site_id},
            {"sensors": {"rainfall": {"enabled": True, "interval_s": 60}}},
        ),
    ),
]
NOT_A_CHANGE = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/silences/preview")}  # anyone / viewers: no write


def test_every_state_changing_route_needs_its_role(stack: Stack, api: ApiProcess, people: People) -> None:
    city = seed_city(stack, sites=2, hours=1)
    with api.client() as anonymous:
        spec = anonymous.get("/openapi.json").json()
    routes = {(method.upper(), path) for path, item in spec["paths"].items() for method in item if method != "get"}
    assert routes - NOT_A_CHANGE == {(c.method, c.template) for c in CHANGES}, "every change is in the matrix"

    with stack.connect() as conn:
        tokens = {role: create_token(conn, role.value, "matrix", None, "test").token for role in Role}
    principals: dict[Role | None, Any] = {None: api.client(), **{role: api.bearer(tokens[role]) for role in Role}}
    verdicts = []
    try:
        for change in CHANGES:
            for role, client in principals.items():
                with stack.connect() as conn:
                    values, body = change.prepare(conn, city, role or Role.VIEWER)
                answer = client.request(change.method, change.template.format(**values), json=body)
                allowed = role is not None and role.allows(change.needs)
                expected = "2xx" if allowed else ("401" if role is None else "403")
                got = "2xx" if answer.is_success else str(answer.status_code)
                verdicts.append((change.method, change.template, role and role.value, expected, got, answer.text[:80]))
    finally:
        for client in principals.values():
            client.close()
    wrong = [v for v in verdicts if v[3] != v[4]]
    assert not wrong, "\n".join(map(str, wrong))
    assert len(verdicts) == 4 * len(CHANGES)


def test_a_session_cookie_without_the_csrf_token_changes_nothing(stack: Stack, api: ApiProcess,
                                                                people: People) -> None:  # fmt: skip
    city = seed_city(stack, sites=1, hours=1)
    with stack.connect() as conn:
        alert_id = open_alert(conn, city.sites[0])
    with api.login("admin", people.admin) as admin:
        del admin.headers["X-CSRF-Token"]
        refused = admin.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "forged"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
        assert admin.get(f"/api/v1/alerts/{alert_id}").json()["state"] == "firing"
