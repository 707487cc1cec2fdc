"""Browser fixtures: one headless Chromium for the session, a fresh error-watched context per person."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize, expect, sync_playwright

from api.roles import Role
from devstack.mosquitto import MosquittoBroker
from devstack.postgres import PostgresServer
from tests.conftest import TEMPLATE
from tests.harness import ApiProcess, Stack
from tests.web.browser import Console, Session, launch
from tests.web.storm import STALE_AFTER_ENV, StormCity, firing

OpenSession = Callable[..., Session]

# Playwright's assertions retry for 5 s unless told otherwise: too short for a software-rendered
# page whose change waits on the API, PostgreSQL and the live stream while the machine's two cores
# run other tests. They return as soon as the page shows the change.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: Playwright's sync API keeps an asyncio loop running in this
    # thread while it is open, and a later test on the same worker that calls asyncio.run() fails.
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def console() -> Iterator[Console]:
    """Every page a test opens reports here; the test fails if any said an error."""
    watched = Console()
    yield watched
    assert watched.errors == [], "the dashboard logged errors:\n" + "\n".join(watched.errors)


@pytest.fixture
def open_session(browser: Browser, console: Console) -> Iterator[OpenSession]:
    """open_session(base_url, viewport=None) -> one person's browser session, closed after the test."""
    opened: list[Session] = []

    def make(base_url: str, viewport: ViewportSize | None = None) -> Session:
        session = Session(browser, base_url, console, viewport or {"width": 1600, "height": 900})
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()


@dataclass
class StormWorld:
    """The monsoon storm after its first flood warnings, an API over it, and one person per role."""

    stack: Stack
    city: StormCity
    api: ApiProcess
    operator: str  # passwords; the usernames are "operator" and "viewer"
    viewer: str


@pytest.fixture(scope="module")
def storm_world(postgres: PostgresServer) -> Iterator[StormWorld]:
    """Shared by one module's tests (building it takes a minute); tests that change alerts come last."""
    database_url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}", template=TEMPLATE)
    workdir = Path(tempfile.mkdtemp(prefix="urbanpulse-web-"))
    workdir.chmod(0o755)
    stack = Stack(postgres, database_url, MosquittoBroker(workdir / "mosquitto"), workdir)
    stack.start_broker()
    city = StormCity.build(stack)
    try:
        city.seed()
        with stack.connect() as conn:
            city.until(lambda: bool(firing(conn, "flood-forecast")), "a flood-forecast alert")
        api = stack.start_api(STALE_AFTER_ENV)
        world = StormWorld(
            stack, city, api, stack.add_user("operator", Role.OPERATOR), stack.add_user("viewer", Role.VIEWER)
        )
        yield world
    finally:
        city.close()
        stack.close()
        shutil.rmtree(workdir, ignore_errors=True)
