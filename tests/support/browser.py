"""Browser test support: the app served on a real socket, and a headless Chromium.

The fixtures (`browser`, `live_server`, `page`) are registered once for the whole suite
by tests/conftest.py: one Chromium for the session (a test module that imported them
itself would start a second Playwright beside the first, which Playwright refuses).
Chromium is Debian's (/usr/bin/chromium), never a downloaded one; a machine without it
skips the tests (fails them in CI, see `tests.conftest.missing`).

Set PINGYI_SCREENSHOTS=/some/dir to have `shot()` save full-page screenshots there.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import missing

CHROMIUM = Path(os.environ.get("PINGYI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = os.environ.get("PINGYI_SCREENSHOTS")
TIMEOUT_MS = 10_000


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The `app` (and so the test's own database) served in a background thread; the
    base URL, e.g. http://127.0.0.1:53817."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        missing(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install -e .[test])")
    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Error as exc:
        manager.stop()
        missing(f"Chromium at {CHROMIUM} does not start under Playwright: {exc}")
    yield chromium
    chromium.close()
    manager.stop()


def new_page(browser, base_url: str, width: int = 1280, height: int = 800):
    """A page in a fresh context (no cookies) whose relative URLs go to `base_url`."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def page(browser, live_server):
    page = new_page(browser, live_server)
    yield page
    page.context.close()


def log_in(page, username: str, password: str) -> None:
    """Through the login form, as a person would; waits for the page it lands on."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form.panel button[type=submit]")


def shot(page, name: str, widths: tuple[int, ...] = (360, 1280)) -> None:
    """Full-page screenshots into $PINGYI_SCREENSHOTS at each width (name-360.png, …);
    the viewport is put back afterwards. Nothing when the variable is unset."""
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width in widths:
        page.set_viewport_size({"width": width, "height": size["height"] if size else 800})
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)
    if size:
        page.set_viewport_size(size)


# ---- a citizen's (or an evaluator's) phone ---------------------------------------------

PHONE_WIDTH, PHONE_HEIGHT = 360, 640


def phone(browser, base_url: str, javascript: bool = True):
    """A touch phone: a fresh context (no cookies) at 360×640."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, locale="zh-CN",
        is_mobile=True, has_touch=True, java_script_enabled=javascript,
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def fits(page, width: int = PHONE_WIDTH) -> bool:
    """No horizontal scrolling at this width."""
    return page.evaluate("document.documentElement.scrollWidth") <= width
