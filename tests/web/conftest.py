"""Browser fixtures: one headless Chromium for the session, a fresh error-watched context per person."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.web.browser import Console, Session, launch

OpenSession = Callable[..., Session]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
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

    def make(base_url: str, viewport: dict[str, int] | None = None) -> Session:
        session = Session(browser, base_url, console, viewport or {"width": 1600, "height": 900})
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()
