"""The HTTP API inside ``urbanpulse demo``: uvicorn on a thread of the demo, and a demo operator.

The operator's password is generated for each run and printed once (never a fixed secret); a data
folder reused from an earlier run gets the account's password replaced.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psycopg
import uvicorn

from api.http.server import GRACEFUL_S, uvicorn_config
from api.queries.people import add_user, update_user
from api.roles import Role
from api.secrets import new_secret
from devstack.ports import free_port
from devstack.waiting import wait_until
from runtime.settings import Settings

DEMO_OPERATOR = "demo-operator"
DEMO_ACTOR = "demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str


def demo_operator(database_url: str) -> DemoLogin:
    """The demo's operator account with a fresh password."""
    password = new_secret()[:16]
    with psycopg.connect(database_url, autocommit=True) as conn:
        if add_user(conn, DEMO_OPERATOR, Role.OPERATOR, password, DEMO_ACTOR) is None:
            update_user(conn, DEMO_OPERATOR, DEMO_ACTOR, password=password)
    return DemoLogin(DEMO_OPERATOR, password)


class ApiThread:
    """The API served from a thread of this process until ``stop``."""

    def __init__(self, settings: Settings, port: int, host: str = "127.0.0.1") -> None:
        port = port or free_port()
        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(uvicorn_config(settings, host, port))
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)

    def start(self, timeout: float = 60.0) -> None:
        self._thread.start()
        wait_until(lambda: self._server.started or not self._thread.is_alive(), timeout=timeout,
                   what=f"the API at {self.url}")  # fmt: skip
        if not self._server.started:
            raise RuntimeError(f"the API could not start at {self.url} (is the port taken?)")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=GRACEFUL_S + 10)
