"""People and credentials over real HTTP: login, sessions with CSRF, bearer tokens, rate limits."""

from __future__ import annotations

from api.roles import Role
from tests.api.conftest import People
from tests.harness import ApiProcess, Stack


def test_login_session_csrf_and_logout(api: ApiProcess, people: People) -> None:
    with api.client() as anonymous:
        assert anonymous.get("/api/v1/auth/me").status_code == 401
        wrong = anonymous.post("/api/v1/auth/login", json={"username": "operator", "password": "nope-nope-nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "bad_credentials"
        ok = anonymous.post("/api/v1/auth/login", json={"username": "operator", "password": people.operator})
        assert ok.status_code == 200 and ok.json()["role"] == "operator"
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "urbanpulse_session=" in cookie
        me = anonymous.get("/api/v1/auth/me")
        assert me.json() == {"username": "operator", "role": "operator", "csrf_token": ok.json()["csrf_token"]}
        # a cookie alone cannot change anything: a cross-site form would have the cookie but not the token
        forged = anonymous.post("/api/v1/tokens", json={"name": "forged"})
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf"
        made = anonymous.post("/api/v1/tokens", json={"name": "cli"}, headers={"X-CSRF-Token": ok.json()["csrf_token"]})
        assert made.status_code == 201
        out = anonymous.post("/api/v1/auth/logout", headers={"X-CSRF-Token": ok.json()["csrf_token"]})
        assert out.status_code == 204
        assert anonymous.get("/api/v1/auth/me").status_code == 401


def test_bearer_tokens_are_hashed_at_rest_and_revocable(api: ApiProcess, people: People, stack: Stack) -> None:
    with api.login("viewer", people.viewer) as viewer:
        made = viewer.post("/api/v1/tokens", json={"name": "wall display", "expires_days": 30}).json()
    token = made["token"]
    with stack.connect() as conn:
        stored = conn.execute("SELECT token_hash FROM api_tokens WHERE token_id = %s", (made["token_id"],)).fetchone()
        assert stored is not None and token.encode() not in bytes(stored[0])
    with api.bearer(token) as machine:
        assert machine.get("/api/v1/auth/me").json()["username"] == "viewer"
        listed = machine.get("/api/v1/tokens").json()
        assert [t["name"] for t in listed] == ["wall display"] and "token" not in listed[0]
        assert machine.delete(f"/api/v1/tokens/{made['token_id']}").status_code == 204
        revoked = machine.get("/api/v1/auth/me")
        assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "bad_token"


def test_failed_logins_are_limited_across_api_copies(stack: Stack, people: People) -> None:
    first, second = stack.start_api(), stack.start_api()
    for attempt in range(5):
        copy = first if attempt % 2 else second
        with copy.client() as client:
            guess = client.post("/api/v1/auth/login", json={"username": "admin", "password": "guess-1234"})
            assert guess.status_code == 401
    with first.client() as client:
        # even the right password waits: the limit is per username, shared through the database
        limited = client.post("/api/v1/auth/login", json={"username": "admin", "password": people.admin})
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "too_many_attempts"
        assert int(limited.headers["retry-after"]) > 0
        other = client.post("/api/v1/auth/login", json={"username": "viewer", "password": people.password(Role.VIEWER)})
        assert other.status_code == 200
