"""DORA figures end to end: three deploys through a real server, one degraded and rolled back.

A config repo with a ConfigMap and a Deployment: the good revisions scale the Deployment to
0 (Healthy at once), the bad one asks for a Pod of an image the artifact store does not have,
with a 2 s progress deadline, so the app turns Degraded. The user rolls back, then ships a
fix. The figures must say: three deployments, one failed (1/3), a restore time from the first
sign of failure to the fix serving, and lead times from the backdated commits; the same in
``/api/v1/dora``, in ``/metrics`` and in the compliance report.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import Live, app_manifest, revision, synced_healthy, wait_app

from engine.engine_helpers import ConfigRepo
from ui.ui_dora_scenario import commit, health

APP = "dora-web"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sync_to_head(api: httpx.Client) -> None:
    api.get(f"/api/v1/applications/{APP}", params={"refresh": "normal"}).raise_for_status()
    api.post(f"/api/v1/applications/{APP}/sync", json={"prune": True}).raise_for_status()


def metric(text: str, name: str) -> float | None:
    found = re.search(rf'^{name}\{{app="{APP}",env="prod"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_three_deploys_one_degraded_and_rolled_back(
    live: Live, api: httpx.Client, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    now = datetime.now(UTC).replace(microsecond=0)
    committed = [now - timedelta(hours=3), now - timedelta(hours=2), now - timedelta(hours=1)]
    good = commit(repo, "one", committed[0], replicas=0)
    manifest = app_manifest(APP, repo.url)
    manifest["metadata"]["labels"] = {"environment": "prod"}
    api.post("/api/v1/applications", json=manifest).raise_for_status()

    # 1: a good deploy
    sync_to_head(api)
    wait_app(api, APP, lambda a: synced_healthy(a) and revision(a) == good, what="deploy 1")

    # 2: a bad deploy, Degraded after its progress deadline; the user rolls back
    bad = commit(repo, "two", committed[1], replicas=1)
    sync_to_head(api)
    degraded = wait_app(
        api, APP, lambda a: revision(a) == bad and health(a) == "Degraded",
        what="deploy 2 Degraded", timeout=60,
    )  # fmt: skip
    seen_degraded = datetime.now(UTC)
    assert degraded["status"]["sync"]["status"] == "Synced"
    history = api.get(f"/api/v1/applications/{APP}/history").json()["items"]
    first = next(h["id"] for h in history if h["revision"] == good)
    api.post(f"/api/v1/applications/{APP}/rollback", json={"id": first}).raise_for_status()
    wait_app(api, APP, lambda a: health(a) == "Healthy", what="rolled back", timeout=60)

    # 3: the fix
    fix = commit(repo, "three", committed[2], replicas=0)
    sync_to_head(api)
    wait_app(api, APP, lambda a: synced_healthy(a) and revision(a) == fix, what="deploy 3")

    records = api.get("/api/v1/deployments", params={"app": APP}).json()["items"]
    assert [(r["revision"], r["initiator"]) for r in records] == [
        (good, "user"), (bad, "user"), (good, "rollback"), (fix, "user"),
    ]  # fmt: skip
    served_fix = wait_served(api, fix)
    answer = wait_dora(api)
    [figures] = answer["items"]
    assert (figures["app"], figures["env"]) == (APP, "prod")
    assert (figures["deployments"], figures["failures"], figures["restored"]) == (3, 1, 1)
    assert figures["changeFailureRate"] == 1 / 3

    # the timeline: the failure began when deploy 2 turned Degraded (after its sync ended,
    # before the test saw it), and was restored when the app next served another revision
    [one, two, three] = figures["timeline"]
    assert [one["revision"], two["revision"], three["revision"]] == [good, bad, fix]
    failed_at, restored_at = moment(two["failedAt"]), moment(two["restoredAt"])
    assert moment(records[1]["finishedAt"]) <= failed_at <= seen_degraded
    rollback = records[2]
    served = [moment(r["servedAt"]) for r in (rollback, records[3]) if r["servedAt"]]
    # (the record's times are to the second)
    assert restored_at.replace(microsecond=0) == min(
        s for s in served if s >= failed_at.replace(microsecond=0)
    )
    restore = (restored_at - failed_at).total_seconds()
    assert figures["timeToRestoreSeconds"] == pytest.approx(restore, abs=0.002)
    assert one["failedAt"] is None and three["failedAt"] is None

    # each deploy counted when it first served (deploy 2 did, for a moment, before its new
    # Pod's failure showed), at the second the deployment record says
    for entry, record in zip((one, two, three), (records[0], records[1], records[3]), strict=True):
        assert entry["deployedAt"][:19] == record["servedAt"][:19]
    assert moment(three["deployedAt"]).replace(microsecond=0) == served_fix
    # lead times: each deploy from its commits (deploy 3 brings two and three, since the
    # rollback left the app at one)
    moments = [moment(entry["deployedAt"]) for entry in (one, two, three)]
    leads = [
        (moments[0] - committed[0]).total_seconds(),
        (moments[1] - committed[1]).total_seconds(),
        (moments[2] - committed[1]).total_seconds(),
        (moments[2] - committed[2]).total_seconds(),
    ]
    assert figures["changes"] == 4
    assert figures["leadTimeSeconds"] == pytest.approx(statistics.median(leads), abs=0.002)
    assert figures["bands"] == {
        "deploymentFrequency": "medium", "leadTime": "elite", "changeFailureRate": "low",
        "timeToRestore": "elite",
    }  # fmt: skip

    # the same figures in /metrics
    expected = {
        "conveyor_dora_deployments": 3.0,
        "conveyor_dora_deployment_frequency": figures["deploymentFrequency"],
        "conveyor_dora_change_failure_rate": figures["changeFailureRate"],
        "conveyor_dora_time_to_restore_seconds": figures["timeToRestoreSeconds"],
        "conveyor_dora_lead_time_seconds": figures["leadTimeSeconds"],
    }
    deadline = time.monotonic() + 60
    while True:
        text = httpx.get(f"{live.url}/metrics").text
        shown = {name: metric(text, name) for name in expected}
        if shown == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert shown == expected

    # and in the filters, the window, the compliance report
    assert api.get("/api/v1/dora", params={"env": "staging", "app": APP}).json()["items"] == []
    assert api.get("/api/v1/dora", params={"window": "soon"}).status_code == 400
    report = api.get("/api/v1/reports/compliance", params={"app": APP}).json()
    [row] = report["items"]
    assert (row["app"], row["env"], row["deployments"], row["succeeded"]) == (APP, "prod", 4, 4)
    assert row["successRate"] == 1.0


def wait_served(api: httpx.Client, sha: str) -> datetime:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = api.get("/api/v1/deployments", params={"app": APP}).json()["items"]
        served = [r["servedAt"] for r in records if r["revision"] == sha and r["servedAt"]]
        if served:
            return moment(served[0])
        time.sleep(0.1)
    raise AssertionError(f"{sha} never recorded as served")


def wait_dora(api: httpx.Client) -> dict[str, Any]:
    """The record is written behind the events; wait until it shows all three deploys."""
    deadline = time.monotonic() + 30
    answer: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = api.get("/api/v1/dora", params={"app": APP, "window": "30d"}).json()
        items = answer["items"]
        if items and items[0]["deployments"] == 3 and items[0]["restored"] == 1:
            return answer
        time.sleep(0.1)
    raise AssertionError(f"DORA figures never showed three deploys: {answer}")
