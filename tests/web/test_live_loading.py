"""What the live stream tells while the page's lists are still loading is kept, in headless Chromium.

The API reads a list at one moment and answers a moment later; an alert committed in between reaches
the page by the stream first. Here the alert lists are held (Playwright routes: read at once,
answered when the test says) so that the answer is certainly older than the stream's news.
"""

from __future__ import annotations

from urllib.parse import urlparse

from playwright.sync_api import APIResponse, Route, expect

from api.roles import Role
from devstack.waiting import wait_until
from tests.api.city import open_alert, seed_city
from tests.harness import Stack
from tests.web.conftest import OpenSession


def test_an_alert_that_arrives_while_the_alert_lists_load_stays_on_screen(
    stack: Stack, open_session: OpenSession
) -> None:
    city = seed_city(stack, sites=3, hours=1)
    password = stack.add_user("duty-officer", Role.OPERATOR)
    api = stack.start_api()
    page = open_session(api.url).page
    held: list[tuple[Route, APIResponse]] = []

    def read_now_answer_later(route: Route) -> None:
        held.append((route, route.fetch()))

    page.route(lambda url: urlparse(url).path == "/api/v1/alerts", read_now_answer_later)
    page.goto("/")
    page.fill("#login-user", "duty-officer")
    page.fill("#login-pass", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-ready='true']", timeout=60_000)
    page.wait_for_function("() => __urbanpulse.state.live === 'open'", timeout=60_000)
    # the open alerts (title badge, counts) and the console's first page: both read, neither answered
    wait_until(lambda: page.evaluate("1") and len(held) == 2, timeout=60, what="both alert lists to be read")

    with stack.connect() as conn:
        alert_id = open_alert(conn, city.sites[0])
    row = page.locator(f".alert-row[data-alert-id='{alert_id}']")
    expect(row).to_be_visible()  # told by the stream
    page.wait_for_function(f"() => __urbanpulse.state.alerts.has({alert_id})")

    for route, answer in held:  # now the lists arrive, read before the alert existed
        route.fulfill(response=answer)
    page.wait_for_selector("body[data-alerts-ready='true']", timeout=60_000)
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-state", "firing")
    assert page.evaluate(f"() => __urbanpulse.state.alerts.has({alert_id})"), "the open alerts lost it"
    expect(page.locator("#alerts-badge")).to_have_text("1")
