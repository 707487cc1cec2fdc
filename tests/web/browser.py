"""Headless Chromium for the dashboard tests: Debian's browser driven by Playwright for Python.

``playwright install`` cannot download its own browser here, so the tests launch the Debian
package's binary (``chromium-headless-shell``, or ``chromium``) by path. Every page records its
console errors and uncaught exceptions; the fixture fails the test if there were any.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, Playwright, ViewportSize

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "test-artifacts" / "web"  # gitignored: screenshots of each step, for people to look at
CANDIDATES = ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium", "/usr/bin/chromium")
# What works on this machine class (docs: machines/python.md): no sandbox as root, no GPU (WebGL runs on
# SwiftShader, which newer Chromium only allows when asked), and no calls home that a closed network refuses.
FLAGS = ("--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-quic", "--mute-audio")  # fmt: skip
# Chromium's own notices about software WebGL are about this test machine, not about the page.
IGNORED = (re.compile(r"GPU stall due to ReadPixels"), re.compile(r"Automatic fallback to software WebGL"))


def chromium_path() -> str:
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if found is None:
        raise RuntimeError("no Chromium: ./dev test installs Debian's chromium-headless-shell")
    return found


def launch(playwright: Playwright, gpu_compositing: bool = False) -> Browser:
    """Chromium as the tests run it: ``--disable-gpu``, so pages are composited in software and a WebGL
    canvas (drawn by SwiftShader) is read back into it every frame, as on a PC without a usable GPU.
    ``gpu_compositing`` keeps Chromium's GPU pipeline instead (the path of a PC with a GPU: no
    read-back), with SwiftShader, a CPU renderer, still computing every pixel (bench/bench_dashboard.py)."""
    flags = [f for f in FLAGS if f != "--disable-gpu"] if gpu_compositing else list(FLAGS)
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=flags)


@dataclass
class Console:
    """What a page said on its console that a person would call an error."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not any(p.search(message.text) for p in IGNORED):
                self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

        def on_error(error: Error) -> None:
            self.errors.append(f"page error: {error.message}")

        page.on("console", on_console)
        page.on("pageerror", on_error)
        return page


def settled(page: Page) -> Page:
    """Wait until the page shows the city and will show what changes next: the map drawn (data-ready),
    the live stream answered (a change committed before that is never sent to it) and both alert lists
    in (they load beside the map and may come after it)."""
    page.wait_for_selector("body[data-ready='true'][data-alerts-ready='true']", timeout=60_000)
    page.wait_for_function("() => __urbanpulse.state.live === 'open'", timeout=60_000)
    return page


class Session:
    """One person's browser (its own cookies) with a page that is watched for errors."""

    def __init__(self, browser: Browser, base_url: str, console: Console, viewport: ViewportSize) -> None:
        self.context: BrowserContext = browser.new_context(base_url=base_url, viewport=viewport, locale="vi-VN",
                                                           timezone_id="Asia/Ho_Chi_Minh")  # fmt: skip
        self.page = console.watch(self.context.new_page())

    def login(self, username: str, password: str) -> Page:
        page = self.page
        page.goto("/")
        page.fill("#login-user", username)
        page.fill("#login-pass", password)
        page.click("#login-form button[type=submit]")
        return settled(page)

    def close(self) -> None:
        self.context.close()


class Shots:
    """Numbered screenshots of one test's steps under test-artifacts/web/<test>/."""

    def __init__(self, name: str) -> None:
        self.folder = ARTEFACTS / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page: Page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path))
        return path
