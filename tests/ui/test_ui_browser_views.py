"""The web UI in a real Chromium: a masked Secret in the diff, rollback from the history tab, a
Rollout's steps and weights, pipeline runs and deployments (dry runs are none). Each page's
screenshot is part of the output (test-artifacts/ui/)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_browser_support import (
    PAUSED,
    WAIT,
    expect,
    live_object,
    new_app,
    out_of_sync,
    rollout,
    run_async,
    screenshot,
    set_status,
    sync_and_wait,
)

from api.api_helpers import Live, configmap, revision, wait_app
from conveyor.settings import Settings
from conveyor.store import CiRunStore, open_database

pytestmark = [pytest.mark.processes, pytest.mark.slow]

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
    wait_app(api, "ui-deploys", out_of_sync, what="OutOfSync")
    page.goto("/ui/applications/ui-deploys")
    page.locator("#app-header").get_by_role("button", name="Sync").click()
    page.locator("dialog#dialog input[name=dry_run]").check()
    page.get_by_role("button", name="Synchronize").click()
    expect(page.locator("#flash")).to_contain_text("A dry run of ui-deploys started")
    summary = page.locator(".app-summary")
    expect(summary).to_have_attribute("data-operation", "Succeeded", timeout=WAIT)
    expect(summary).to_have_attribute("data-sync", "OutOfSync")  # a dry run changes nothing
    synced = revision(sync_and_wait(api, "ui-deploys"))
    page.goto("/ui/deployments?app=ui-deploys")
    record_row = page.locator("tr[data-app=ui-deploys]")
    expect(record_row).to_have_count(1)  # a dry run is no deployment
    expect(record_row).to_have_attribute("data-revision", synced)
    expect(record_row).to_have_attribute("data-phase", "Succeeded")
    screenshot(page, "deployments", tmp_path)
    page.goto("/ui/applications")
    expect(page.locator(".tile")).not_to_have_count(0)
    screenshot(page, "applications-all", tmp_path)
