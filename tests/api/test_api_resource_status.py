"""``POST .../resource?subresource=status``: an app's object's status, as resource actions
write it, through the API; the resource's own patch may not touch it."""

from __future__ import annotations

from pathlib import Path

import httpx
from api_helpers import app_manifest, configmap, wait_app

from engine.engine_helpers import ConfigRepo

INSTANCE_ID = "argo-rollouts.argoproj.io/controller-instance-id"
"""Argo Rollouts' controller handles only Rollouts of its own instance id (none, by default):
the test plays the controller of this one, writing its status."""
ROLLOUT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web", "labels": {INSTANCE_ID: "manual"}},
    "spec": {"replicas": 1, "strategy": {"canary": {"steps": [{"setWeight": 20}]}}},
}


def test_status_is_patched_through_its_subresource_only(api: httpx.Client, tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/rollout.yaml", ROLLOUT)
    repo.write("app/cm.yaml", configmap("settings", greeting="hello"))
    repo.commit()
    manifest = app_manifest("actions", repo.url, automated={"prune": True})
    api.post("/api/v1/applications", json=manifest).raise_for_status()
    wait_app(
        api, "actions",
        lambda a: (a["status"].get("operationState") or {}).get("phase") == "Succeeded",
        what="the first sync",
    )  # fmt: skip
    rollout = {"kind": "Rollout", "resourceName": "web", "group": "argoproj.io"}

    aborted = api.post(
        "/api/v1/applications/actions/resource",
        params={**rollout, "subresource": "status"},
        json={"status": {"abort": True}},
    )
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["manifest"]["status"] == {"abort": True}
    assert aborted.json()["manifest"]["spec"]["replicas"] == 1
    live = api.get("/api/v1/applications/actions/manifests", params={"source": "live"}).json()
    [stored] = [m for m in live["manifests"] if m["kind"] == "Rollout"]
    assert stored["status"] == {"abort": True}

    sneaky = api.post(
        "/api/v1/applications/actions/resource",
        params=rollout,
        json={"spec": {"replicas": 3}, "status": {"abort": False}},
    )
    assert sneaky.status_code == 400 and "subresource" in sneaky.json()["message"]
    no_status = api.post(
        "/api/v1/applications/actions/resource",
        params={"kind": "ConfigMap", "resourceName": "settings", "subresource": "status"},
        json={"status": {"x": "y"}},
    )
    assert no_status.status_code == 404
    scale = api.post(
        "/api/v1/applications/actions/resource",
        params={**rollout, "subresource": "scale"},
        json={"spec": {"replicas": 3}},
    )
    assert scale.status_code == 400
    live = api.get("/api/v1/applications/actions/manifests", params={"source": "live"}).json()
    [stored] = [m for m in live["manifests"] if m["kind"] == "Rollout"]
    assert (stored["spec"]["replicas"], stored["status"]) == (1, {"abort": True})
