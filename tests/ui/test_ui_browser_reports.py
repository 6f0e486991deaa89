"""The web UI's delivery pages in a real Chromium: the DORA page shows what ``/api/v1/dora``
and ``/metrics`` say after three deploys (one degraded and rolled back), the audit log lists a
sync done in the UI under the user's name (and exports it), and a Rollout is aborted from its
tab. Each page's screenshot is part of the output (test-artifacts/ui/)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
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
)
from ui_dora_scenario import three_deploys, wait_dora

from api.api_helpers import Live, configmap, revision, wait_app
from conveyor.api.ui.charts import moment
from conveyor.api.ui.templating import duration
from conveyor.settings import Settings
from conveyor.store import open_database
from conveyor.store.notifications import NotificationStore, OutboxInput

pytestmark = [pytest.mark.processes, pytest.mark.slow]

# -- DORA ------------------------------------------------------------------------------------


def metric(text: str, name: str, app: str, env: str) -> float | None:
    found = re.search(rf'^{name}\{{app="{app}",env="{env}"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else None


def value(attribute: str | None) -> float | None:
    return float(attribute) if attribute else None


KEYS = {
    "deploymentFrequency": "deploymentFrequency",
    "leadTime": "leadTimeSeconds",
    "changeFailureRate": "changeFailureRate",
    "timeToRestore": "timeToRestoreSeconds",
}
"""Each key's ``data-key`` on the page and its field in ``/api/v1/dora``."""


def shown_figures(group: Any) -> dict[str, Any]:
    """The four figures and their bands, as the page shows them (its data attributes)."""
    values, bands = {}, {}
    for key, field in KEYS.items():
        shown = group.locator(f".key[data-key={key}]")
        values[field] = value(shown.locator(".figure").get_attribute("data-value"))
        bands[key] = shown.get_attribute("data-band") or None
    return {"values": values, "bands": bands}


def test_the_dora_page_shows_the_apis_figures_after_three_deploys(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    deploys = three_deploys(api, live, "ui-dora", "prod")
    figures = wait_dora(api, "ui-dora")
    assert (figures["deployments"], figures["failures"]) == (3, 1)
    assert figures["changeFailureRate"] == 1 / 3

    group = page.locator("section.dora-group[data-app=ui-dora][data-env=prod]")
    deadline = time.monotonic() + 60
    while True:  # compare with an answer that did not change while the page was drawn
        before = figures
        page.goto("/ui/dora?app=ui-dora")
        expect(group).to_have_count(1)
        shown = shown_figures(group)
        figures = wait_dora(api, "ui-dora")
        if figures == before or time.monotonic() > deadline:
            break
    assert shown == {
        "values": {field: figures[field] for field in KEYS.values()},
        "bands": figures["bands"],
    }
    rate = group.locator(".key[data-key=changeFailureRate]")
    expect(rate.locator(".figure")).to_have_text("33.3%")
    expect(rate.locator(".detail")).to_have_text("1 of 3 failed")

    bars = group.locator("svg rect.bar")
    counts = [int(c or 0) for c in bars.evaluate_all("bs => bs.map(b => b.dataset.count)")]
    assert sum(counts) == 3
    rows = group.locator("figure.timeline g.row")
    expect(rows).to_have_count(3)
    timeline = figures["timeline"]
    assert [e["revision"] for e in timeline] == [deploys.good, deploys.bad, deploys.fix]
    failed = rows.nth(1)
    expect(failed).to_have_attribute("data-revision", deploys.bad)
    expect(failed).to_have_attribute("data-failed-at", timeline[1]["failedAt"])
    expect(failed).to_have_attribute("data-restored-at", timeline[1]["restoredAt"])
    expect(failed.locator("rect.failure")).to_have_count(1)
    span = moment(timeline[1]["restoredAt"]) - moment(timeline[1]["failedAt"])
    assert span.total_seconds() == pytest.approx(figures["timeToRestoreSeconds"], abs=0.002)
    expect(failed.locator("text.note")).to_have_text(
        "failed, restored in " + duration(span.total_seconds())  # the timeline's times, to the ms
    )
    expect(rows.nth(0).locator("rect.failure")).to_have_count(0)
    screenshot(page, "dora", tmp_path)

    # /metrics says the same (its figures are refreshed a second after the app changes)
    expected = {
        "conveyor_dora_deployments": 3.0,
        "conveyor_dora_change_failure_rate": figures["changeFailureRate"],
        "conveyor_dora_time_to_restore_seconds": figures["timeToRestoreSeconds"],
    }
    deadline = time.monotonic() + 60
    while True:
        text = httpx.get(f"{live.url}/metrics").text
        seen = {name: metric(text, name, "ui-dora", "prod") for name in expected}
        if seen == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert seen == expected

    page.goto("/ui/compliance?app=ui-dora")
    row = page.locator("table.compliance tr[data-app=ui-dora]")
    expect(row).to_have_attribute("data-deployments", "4")  # the rollback is an operation too
    [reported] = api.get("/api/v1/reports/compliance", params={"app": "ui-dora"}).json()["items"]
    expect(row).to_have_attribute("data-succeeded", str(reported["succeeded"]))
    expect(row.locator(".rate")).to_have_attribute("data-value", str(reported["successRate"]))
    screenshot(page, "compliance", tmp_path)
    assert page.console_errors == []  # nothing refused by the CSP (the charts are attributes)


# -- the audit log ---------------------------------------------------------------------------


def test_the_audit_log_lists_a_sync_done_in_the_ui_with_the_users_name(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    new_app(api, live, "ui-audit", configmap("settings", color="red"))
    wait_app(api, "ui-audit", out_of_sync, what="OutOfSync")
    page.goto("/ui/applications/ui-audit")
    page.locator("#app-header").get_by_role("button", name="Sync").click()
    page.get_by_role("button", name="Synchronize").click()
    expect(page.locator("#flash")).to_contain_text("A sync of ui-audit started")
    expect(page.locator(".app-summary")).to_have_attribute("data-sync", "Synced", timeout=WAIT)
    synced = revision(api.get("/api/v1/applications/ui-audit").json())
    user = page.locator(".topbar .who").inner_text()

    page.goto(f"/ui/audit?user={user}")
    page.fill("input[name=app]", "ui-audit")
    page.locator("input[name=app]").press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/audit\?user=.*&app=ui-audit"))
    row = page.locator("table.audit tr[data-action='applications.sync']")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-user", user)
    expect(row).to_have_attribute("data-outcome", "200")
    expect(row.locator("td").nth(1)).to_have_text(user)
    expect(row.locator("td code[title]").last).to_have_attribute("title", synced)
    screenshot(page, "audit", tmp_path)
    assert page.console_errors == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = Path(download.value.path()).read_text()
    [line] = [r for r in exported.splitlines() if ",applications.sync," in r]
    assert line.split(",")[2:4] == [user, "applications.sync"]  # id, at, user, action


# -- the rollout tab's buttons ---------------------------------------------------------------


def test_a_rollout_is_aborted_from_its_tab(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    new_app(api, live, "ui-abort", rollout())
    api.post("/api/v1/applications/ui-abort/sync", json={}).raise_for_status()
    wait_app(api, "ui-abort",
             lambda a: (a["status"].get("operationState") or {}).get("phase") == "Succeeded",
             what="the first sync")  # fmt: skip
    set_status(api, "ui-abort", PAUSED)
    page.goto("/ui/applications/ui-abort?tab=rollout")
    section = page.locator("section.rollout[data-rollout=web]")
    expect(section).to_have_attribute("data-status", "Paused", timeout=WAIT)
    abort = section.locator("button[data-action=abort]")
    expect(abort).to_be_enabled()
    expect(section.locator("button[data-action=promote]")).to_be_enabled()  # at a pause step
    expect(section.locator("button[data-action=retry]")).to_be_disabled()  # nothing aborted
    page.once("dialog", lambda dialog: dialog.accept())  # "Abort Rollout web?"
    abort.click()
    expect(page.locator("#flash")).to_contain_text("Rollout web aborted")
    assert live_object(api, "ui-abort", "Rollout", "web")["status"]["abort"] is True
    expect(abort).to_be_disabled(timeout=WAIT)  # the tab redraws with the aborted Rollout
    expect(section).to_have_attribute("data-status", "Degraded")
    expect(section.locator("button[data-action=retry]")).to_be_enabled()
    screenshot(page, "app-rollout-aborted", tmp_path)
    assert page.console_errors == []
    entries = api.get(
        "/api/v1/audit",
        params={"app": "ui-abort", "action": "applications.action/argoproj.io/Rollout/abort"},
    ).json()["items"]
    assert [(e["user"], e["outcome"]) for e in entries] == [("admin", "200")]


# -- promotions and notifications ------------------------------------------------------------


def test_the_promotions_and_notifications_pages(
    page: Any, api: httpx.Client, live: Live, tmp_path: Path
) -> None:
    refused = {
        "pipeline": "shop", "app": "ui-shop-prod", "from": "staging", "to": "prod",
        "image": "ghcr.io/acme/shop:abc1234", "tag": "abc1234", "promotedBy": "alice",
        "promotedAt": "2026-12-05T03:00:00+00:00", "outcome": "refused", "failedGates": ["soak"],
        "message": "staging served abc1234 for 20s of the 600s soak",
        "gates": [{"name": "analysis", "held": True, "detail": "success-rate 0.99"},
                  {"name": "soak", "held": False, "detail": "served 20s of 600s"}],
    }  # fmt: skip
    api.post("/api/v1/promotions", json=refused).raise_for_status()
    letter = OutboxInput(
        key="on-sync-failed:ui-shop-prod:1", subject="app:ui-shop-prod",
        trigger="on-sync-failed", service="slack", recipient="deploys",
        body={"templates": ["app-sync-failed"]}, app="ui-shop-prod",
    )  # fmt: skip

    async def dead_letter() -> None:
        database = await open_database(Settings.from_env(home=live.home))
        try:
            await NotificationStore(database).record(
                [letter], [], datetime.now(UTC), rejected={letter.key: "no service 'slack'"}
            )
        finally:
            await database.close()

    run_async(dead_letter())
    page.goto("/ui/promotions")
    row = page.locator("table.promotions tr[data-app=ui-shop-prod]")
    expect(row).to_have_attribute("data-outcome", "refused")
    expect(row.locator(".chip")).to_have_text(["analysis", "soak"])
    expect(row.locator(".chip.ci-failed")).to_have_text("soak")
    screenshot(page, "promotions", tmp_path)
    page.get_by_role("link", name="Notifications").click()
    dead = page.locator("section.dead-letters tr[data-app=ui-shop-prod]")
    expect(dead).to_have_attribute("data-status", "dead")
    expect(dead).to_contain_text("no service 'slack'")
    screenshot(page, "notifications", tmp_path)
    assert page.console_errors == []
