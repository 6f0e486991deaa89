"""The web UI in a real Chromium (Debian's, through Playwright) against a live server with apps
synced from git onto the local runtime: login, a tile going from OutOfSync to Synced after a
Sync click, Delete's typed name, the resource tree and streamed Pod logs. Each page's
screenshot is part of the output (test-artifacts/ui/)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_browser_support import (
    WAIT,
    expect,
    new_app,
    out_of_sync,
    run_async,
    screenshot,
    sync_and_wait,
    ticker_deployment,
)

from api.api_helpers import Live, configmap, wait_app
from conveyor.api.sessions import COOKIE
from conveyor.artifacts import ArtifactStore
from conveyor.settings import Settings
from support.runtime_helpers import make_app_repo

pytestmark = [pytest.mark.processes, pytest.mark.slow]

# -- login -----------------------------------------------------------------------------------


def test_login_with_a_token_gives_an_httponly_strict_session(
    browser: Any, live: Live, tmp_path: Path
) -> None:
    context = browser.new_context(base_url=live.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto("/ui/applications")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/applications$"))
    page.fill("#token", "cvy_not-a-token")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_contain_text("not valid")
    screenshot(page, "login", tmp_path)
    page.fill("#token", live.token)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/ui/applications$"))
    expect(page.locator("h1")).to_have_text("Applications")
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert live.token not in cookie["value"]
    assert COOKIE not in page.evaluate("document.cookie")  # scripts cannot read it
    page.click("text=Log out")
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    page.goto("/ui/applications")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    context.close()


# -- the applications page -------------------------------------------------------------------


def test_a_tile_turns_synced_within_5_s_of_a_sync_click(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    new_app(api, live, "ui-tiles", configmap("settings", color="blue"))
    wait_app(api, "ui-tiles", out_of_sync, what="OutOfSync")
    page.goto("/ui/applications")
    tile = page.locator("#tile-ui-tiles")
    expect(tile).to_have_attribute("data-sync", "OutOfSync")
    screenshot(page, "applications", tmp_path)
    tile.get_by_role("button", name="Sync").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("Sync ui-tiles")
    screenshot(page, "sync-dialog", tmp_path)
    dialog.get_by_role("button", name="Synchronize").click()
    # No reload: the tile is redrawn by the page's event stream.
    expect(page.locator("#tile-ui-tiles")).to_have_attribute("data-sync", "Synced", timeout=5_000)
    expect(dialog).to_be_hidden()
    expect(page.locator("#flash")).to_contain_text("A sync of ui-tiles started")
    page.fill("input[name=q]", "no-such-app")
    page.press("input[name=q]", "Enter")
    expect(page.locator(".empty")).to_contain_text("match these filters")
    page.select_option("select[name=sync]", "Synced")
    expect(page).to_have_url(re.compile(r"sync=Synced"))
    assert page.console_errors == []


def test_delete_asks_for_the_name_typed_again(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    new_app(api, live, "ui-delete", configmap("settings", color="gray"))
    page.goto("/ui/applications/ui-delete")
    page.locator("#app-header").get_by_role("button", name="Delete").click()
    dialog = page.locator("dialog#dialog")
    confirm = dialog.get_by_role("button", name="Delete")
    expect(confirm).to_be_disabled()
    dialog.locator("input[name=confirm]").fill("ui-delet")
    expect(confirm).to_be_disabled()
    screenshot(page, "delete-dialog", tmp_path)
    # The server checks the name too: a request with another one is refused.
    refused = page.evaluate(
        """async () => (await fetch('/ui/applications/ui-delete/delete', {method: 'POST',
            headers: {'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded'},
            body: 'confirm=ui-delet&cascade=on'})).status"""
    )
    assert refused == 400
    dialog.locator("input[name=confirm]").fill("ui-delete")
    confirm.click()
    expect(page).to_have_url(re.compile(r"/ui/applications$"), timeout=WAIT)
    expect(page.locator("#tile-ui-delete")).to_have_count(0)
    assert api.get("/api/v1/applications/ui-delete").status_code == 404


# -- an application with a workload: tree and logs -------------------------------------------


@pytest.fixture(scope="module")
def workload(live: Live, tmp_path_factory: pytest.TempPathFactory) -> str:
    """App ``ui-web``: a Deployment of one Pod writing ``tick N`` lines, Synced and Healthy."""
    source, shas = make_app_repo(tmp_path_factory.mktemp("src"), ["v1"])
    store = ArtifactStore(Settings.from_env(home=live.home).artifacts_dir)
    run_async(store.build("ticker", source=str(source), revision=shas[0], tag="v1"))
    with live.client() as api:
        new_app(api, live, "ui-web", ticker_deployment("ticker", "ticker:v1", "ui-web"))
        sync_and_wait(api, "ui-web")
    return "ui-web"


def test_the_resource_tree_draws_deployment_replicaset_pod(
    page: Any, workload: str, tmp_path: Path
) -> None:
    page.goto(f"/ui/applications/{workload}?tab=tree")
    tree = page.locator("svg.tree")
    nodes = {kind: tree.locator(f"g.node[data-kind={kind}]") for kind in
             ("Application", "Deployment", "ReplicaSet", "Pod")}  # fmt: skip
    for node in nodes.values():
        expect(node).to_have_count(1)
    expect(nodes["Pod"]).to_have_attribute("data-health", "Healthy", timeout=WAIT)
    expect(nodes["Deployment"]).to_have_attribute("data-sync", "Synced")
    xs = [nodes[k].bounding_box()["x"] for k in ("Application", "Deployment", "ReplicaSet", "Pod")]
    assert xs == sorted(xs) and len(set(xs)) == 4, f"one column per level, left to right: {xs}"
    lines = tree.locator("path.edge")
    expect(lines).to_have_count(3)  # app -> Deployment -> ReplicaSet -> Pod
    uids = {k: nodes[k].get_attribute("data-uid") for k in nodes}
    pairs = {(line.get_attribute("data-parent"), line.get_attribute("data-child"))
             for line in lines.all()}  # fmt: skip
    assert pairs == {
        (uids["Application"], uids["Deployment"]),
        (uids["Deployment"], uids["ReplicaSet"]),
        (uids["ReplicaSet"], uids["Pod"]),
    }
    screenshot(page, "app-tree", tmp_path)
    page.click(".tabs a[data-tab=events]")
    expect(page.locator("[data-tab-body=events]")).to_be_visible()
    screenshot(page, "app-events", tmp_path)
    page.click(".tabs a[data-tab=manifests]")
    expect(page.locator("details.manifest[data-kind=Deployment]")).to_be_visible()
    screenshot(page, "app-manifests", tmp_path)
    assert page.console_errors == []


def test_pod_logs_stream_into_the_page(page: Any, workload: str, tmp_path: Path) -> None:
    page.goto(f"/ui/applications/{workload}?tab=logs")
    view = page.locator("#log-view")
    expect(view.locator(".log-line").first).to_contain_text("tick", timeout=WAIT)
    seen = max(int(n) for n in re.findall(r"tick (\d+)", view.inner_text()))
    # Lines written after the page opened arrive without a reload.
    expect(view).to_contain_text(f"tick {seen + 5}", timeout=WAIT)
    screenshot(page, "app-logs", tmp_path)
    assert page.console_errors == []
