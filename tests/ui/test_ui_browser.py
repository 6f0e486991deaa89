"""The web UI in a real Chromium, against a live server with apps synced from git onto the
local runtime: login, a tile going from OutOfSync to Synced after a Sync click, the resource
tree, a masked Secret in the diff, rollback, streamed logs, the rollout's steps and weights,
pipeline runs and deployments. Each page's screenshot is part of the output."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_browser_support import (
    PAUSED,
    live_object,
    require_chromium,
    rollout,
    run_async,
    screenshot,
    set_status,
    ticker_deployment,
)

from api.api_helpers import Live, app_manifest, configmap, revision, synced_healthy, wait_app
from conveyor.api.app import create_app, local_engine
from conveyor.api.sessions import COOKIE
from conveyor.artifacts import ArtifactStore
from conveyor.engine.controller import ControllerOptions
from conveyor.settings import Settings
from conveyor.store import CiRunStore, open_database
from conveyor.targets.local.kubelet import KubeletOptions
from engine.engine_helpers import ConfigRepo
from support.runtime_helpers import make_app_repo
from support.server_helpers import ThreadServer

pytestmark = [pytest.mark.processes, pytest.mark.slow]

OPTIONS = ControllerOptions(poll_interval=300.0, self_heal_backoff=0.2, step_timeout=60.0)
KUBELET = KubeletOptions(backoff_base=0.5, backoff_cap=2.0, image_retry_base=0.5)
WAIT = 60_000
"""Milliseconds for waits on the engine and the runtime (a loaded machine is slow)."""


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


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def new_app(api: httpx.Client, live: Live, name: str, *docs: dict[str, Any]) -> ConfigRepo:
    repo = ConfigRepo(live.repos / name)
    repo.write("app/objects.yaml", *docs)
    repo.commit()
    api.post("/api/v1/applications", json=app_manifest(name, repo.url)).raise_for_status()
    return repo


def out_of_sync(app: dict[str, Any]) -> bool:
    return (app["status"].get("sync") or {}).get("status") == "OutOfSync"


def sync_and_wait(api: httpx.Client, name: str) -> dict[str, Any]:
    api.post(f"/api/v1/applications/{name}/sync", json={}).raise_for_status()
    return wait_app(api, name, synced_healthy, what=f"{name} Synced and Healthy", timeout=90)


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


# -- diff, history and rollback --------------------------------------------------------------


def secret(name: str, password: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "stringData": {"password": password}}  # fmt: skip


def test_the_diff_shows_a_changed_secret_masked(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    repo = new_app(api, live, "ui-secret", secret("db", "first-Pa55word"))
    sync_and_wait(api, "ui-secret")
    repo.write("app/objects.yaml", secret("db", "second-Pa55word"))
    repo.commit("rotate the password")
    page.goto("/ui/applications/ui-secret?tab=diff")
    page.locator("#app-header").get_by_role("button", name="Refresh", exact=True).click()
    expect(page.locator(".app-summary")).to_have_attribute("data-sync", "OutOfSync", timeout=WAIT)
    page.click(".tabs a[data-tab=diff]")
    changed = page.locator("section.diff-resource[data-kind=Secret][data-name=db]")
    expect(changed).to_have_attribute("data-status", "OutOfSync", timeout=WAIT)
    expect(changed.locator("pre.diff .add")).to_contain_text("++++")
    expect(changed.locator("pre.diff .del")).to_contain_text("++++")
    screenshot(page, "app-diff", tmp_path)
    shown = page.content()
    page.goto("/ui/applications/ui-secret?tab=manifests&source=live")
    expect(page.locator("details.manifest[data-kind=Secret]")).to_contain_text("++++")
    shown += page.content()
    for plain in ("first-Pa55word", "second-Pa55word"):
        assert plain not in shown
        assert base64.b64encode(plain.encode()).decode() not in shown


def test_rollback_from_the_history_tab(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    repo = new_app(api, live, "ui-history", configmap("settings", color="blue"))
    first = revision(sync_and_wait(api, "ui-history"))
    repo.write("app/objects.yaml", configmap("settings", color="green"))
    repo.commit("green")
    api.get("/api/v1/applications/ui-history", params={"refresh": "normal"}).raise_for_status()
    second = revision(sync_and_wait(api, "ui-history"))
    assert first != second
    page.goto("/ui/applications/ui-history?tab=history")
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator(f"tr[data-revision='{second}'] button")).to_be_disabled()  # current
    screenshot(page, "app-history", tmp_path)
    page.once("dialog", lambda dialog: dialog.accept())  # "Roll ui-history back to ...?"
    page.locator(f"tr[data-revision='{first}']").get_by_role("button", name="Rollback").click()
    expect(page.locator("#flash")).to_contain_text("Rolling back to history id")
    summary = page.locator(".app-summary")
    expect(summary).to_have_attribute("data-deployed", first, timeout=WAIT)
    expect(summary).to_have_attribute("data-sync", "OutOfSync")  # Git's main is still `second`
    expect(rows).to_have_count(3, timeout=WAIT)  # the tab redraws itself as the app changes
    expect(rows.first).to_have_attribute("data-revision", first)
    assert live_object(api, "ui-history", "ConfigMap", "settings")["data"] == {"color": "blue"}


# -- a Rollout's steps and weights -----------------------------------------------------------


def test_the_rollout_tab_shows_steps_weights_and_analysis(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    new_app(api, live, "ui-rollout", rollout())
    api.post("/api/v1/applications/ui-rollout/sync", json={}).raise_for_status()
    wait_app(api, "ui-rollout",
             lambda a: (a["status"].get("operationState") or {}).get("phase") == "Succeeded",
             what="the first sync")  # fmt: skip
    set_status(api, "ui-rollout", PAUSED)
    page.goto("/ui/applications/ui-rollout?tab=rollout")
    section = page.locator("section.rollout[data-rollout=web]")
    expect(section).to_have_attribute("data-status", "Paused", timeout=WAIT)
    expect(section.locator(".rollout-weight")).to_have_text("set 20%, actual 20%")
    expect(section.locator(".rollout-step")).to_have_text("1/4")
    steps = section.locator("ol.steps li")
    expect(steps).to_have_count(4)
    expect(steps.nth(0)).to_have_attribute("data-state", "done")
    expect(steps.nth(1)).to_have_attribute("data-state", "current")
    expect(steps.nth(1)).to_have_text("Pause until promoted")
    expect(steps.nth(3)).to_have_text("Pause 1m")
    screenshot(page, "app-rollout", tmp_path)


# -- pipeline runs and deployments -----------------------------------------------------------


def test_pipeline_runs_and_deployments_pages(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    run = {
        "id": "run-ui-1", "name": "hello", "repo": "/src/hello", "commit": "a" * 40,
        "status": "failed", "startedAt": "2026-12-05T03:00:00Z",
        "finishedAt": "2026-12-05T03:01:00Z", "artifact": None,
        "stages": [
            {"name": "tests", "status": "passed", "message": "12 passed", "duration": 3.2,
             "counts": {}, "findings": [], "log": "12 passed in 3.2s"},
            {"name": "secrets", "status": "failed", "message": "1 finding", "duration": 0.4,
             "counts": {"high": 1},
             "findings": [{"file": "app.py", "line": 3, "type": "Secret Keyword"}],
             "log": "app.py:3 Secret Keyword"},
        ],
    }  # fmt: skip

    async def record() -> None:
        database = await open_database(Settings.from_env(home=live.home))
        try:
            await CiRunStore(database).save(run)
        finally:
            await database.close()

    run_async(record())
    page.goto("/ui/pipelines")
    row = page.locator("tr[data-run=run-ui-1]")
    expect(row).to_have_attribute("data-status", "failed")
    expect(row.locator(".chip")).to_have_text(["tests", "secrets"])
    screenshot(page, "pipelines", tmp_path)
    row.get_by_role("link", name="run-ui-1").click()
    expect(page.locator("details.stage[data-stage=secrets]")).to_have_attribute("open", "")
    expect(page.locator("details.stage[data-stage=secrets]")).to_contain_text("Secret Keyword")
    screenshot(page, "pipeline-run", tmp_path)

    new_app(api, live, "ui-deploys", configmap("settings", color="red"))
    synced = revision(sync_and_wait(api, "ui-deploys"))
    page.goto("/ui/deployments?app=ui-deploys")
    record_row = page.locator("tr[data-app=ui-deploys]")
    expect(record_row).to_have_attribute("data-revision", synced)
    expect(record_row).to_have_attribute("data-phase", "Succeeded")
    screenshot(page, "deployments", tmp_path)
    page.goto("/ui/applications")
    expect(page.locator(".tile")).not_to_have_count(0)
    screenshot(page, "applications-all", tmp_path)
