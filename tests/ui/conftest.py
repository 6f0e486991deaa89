"""The browser tests' server and Chromium, shared by the UI's browser test modules.

One live server (real uvicorn, real controller, the local runtime) and one Chromium for the
session; each test gets a signed-in page in a browser context of its own. The unit tests of
this directory request none of these, so they start nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ui_browser_support import require_chromium

from api.api_helpers import Live
from conveyor.api.app import create_app, local_engine
from conveyor.engine.controller import ControllerOptions
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from support.server_helpers import ThreadServer

OPTIONS = ControllerOptions(poll_interval=300.0, self_heal_backoff=0.2, step_timeout=60.0)
KUBELET = KubeletOptions(backoff_base=0.5, backoff_cap=2.0, image_retry_base=0.5)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    require_chromium()
    home = tmp_path_factory.mktemp("ui-home")
    settings = Settings.from_env(home=home)
    app = create_app(settings, controller_factory=local_engine(settings, OPTIONS, KUBELET))
    with ThreadServer(app) as server:
        yield Live(server.url, home, app, tmp_path_factory.mktemp("repos"))


@pytest.fixture
def api(live: Live) -> Iterator[httpx.Client]:
    with live.client() as client:
        yield client


@pytest.fixture(scope="module")
def browser(live: Live) -> Iterator[Any]:
    """Playwright's sync API keeps an event loop running in this thread while it is open:
    closed with its module, so the asyncio tests collected after the UI's can run theirs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    """A signed-in page (a context of its own, so no test sees another's cookie)."""
    context = browser.new_context(base_url=live.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.console_errors = []  # what the browser refused (a CSP violation, a failed load)
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda err: page.console_errors.append(str(err)))
    page.goto("/ui/login")
    page.fill("#token", live.token)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/applications")
    try:
        yield page
    finally:
        context.close()
