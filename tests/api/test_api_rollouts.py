"""Argo Rollouts' API paths, Argo CD's resource actions and Argo's Rollout metrics, against a
live server with a Rollout an app deployed and a status the test writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import Live, app_manifest, wait_app

from engine.engine_helpers import ConfigRepo

INSTANCE_ID = "argo-rollouts.argoproj.io/controller-instance-id"
"""Argo Rollouts' controller handles only Rollouts of its own instance id (none, by default):
the test plays the controller of this one, writing its status."""
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "1m"}}]


def rollout(name: str = "web") -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "web", "image": "hello:v1"}]},
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "labels": {INSTANCE_ID: "manual"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
            "strategy": {"canary": {"steps": STEPS, "trafficRouting": {"nginx": {}}}},
        },
    }


PAUSED = {
    "phase": "Paused",
    "message": "CanaryPauseStep",
    "currentStepIndex": 1,
    "stableRS": "aaa111",
    "currentPodHash": "bbb222",
    "canary": {"weights": {"canary": {"weight": 20}, "stable": {"weight": 80}}},
    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}],
}


@pytest.fixture
def deployed(api: httpx.Client, live: Live, request: pytest.FixtureRequest) -> str:
    """An app with Rollout ``web`` in the app's namespace, paused at its first pause step
    (each test its own app, named after it; the namespace is the app's name)."""
    name = f"ro-{request.node.name.removeprefix('test_').replace('_', '-')[:20].rstrip('-')}"
    repo = ConfigRepo(live.repos / name)
    repo.write("app/rollout.yaml", rollout())
    repo.commit()
    api.post("/api/v1/applications", json=app_manifest(name, repo.url)).raise_for_status()
    api.post(f"/api/v1/applications/{name}/sync", json={}).raise_for_status()
    wait_app(
        api, name,
        lambda a: (a["status"].get("operationState") or {}).get("phase") == "Succeeded",
        what="the first sync",
    )  # fmt: skip
    set_status(api, name, PAUSED)
    return name


def set_status(api: httpx.Client, app: str, status: dict[str, Any]) -> None:
    api.post(
        f"/api/v1/applications/{app}/resource",
        params={"kind": "Rollout", "resourceName": "web", "subresource": "status"},
        json={"status": status},
    ).raise_for_status()


def live_rollout(api: httpx.Client, app: str) -> dict[str, Any]:
    answer = api.get(f"/api/v1/rollouts/{app}/web/info")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_info_actions_and_refusals(api: httpx.Client, deployed: str, tmp_path: Path) -> None:
    listed = api.get(f"/api/v1/rollouts/{deployed}/info").json()["rollouts"]
    assert [r["objectMeta"]["name"] for r in listed] == ["web"]
    info = live_rollout(api, deployed)
    assert (info["status"], info["strategy"], info["step"]) == ("Paused", "Canary", "1/4")
    assert (info["setWeight"], info["actualWeight"]) == ("20", "20")
    assert info["containers"] == [{"name": "web", "image": "hello:v1"}]
    assert info["steps"] == STEPS

    promoted = api.put(f"/api/v1/rollouts/{deployed}/web/promote", json={})
    assert promoted.status_code == 200, promoted.text
    assert "pauseConditions" not in promoted.json()["status"]

    retry = api.put(f"/api/v1/rollouts/{deployed}/web/retry", json={})
    assert retry.status_code == 409 and "not aborted" in retry.json()["message"]
    aborted = api.put(f"/api/v1/rollouts/{deployed}/web/abort", json={}).json()
    assert aborted["status"]["abort"] is True
    assert live_rollout(api, deployed)["status"] == "Degraded"
    assert (
        api.put(f"/api/v1/rollouts/{deployed}/web/retry", json={}).json()["status"]["abort"]
        is False
    )

    paused = api.put(f"/api/v1/rollouts/{deployed}/web/pause", json={}).json()
    assert paused["spec"]["paused"] is True
    resumed = api.put(f"/api/v1/rollouts/{deployed}/web/resume", json={}).json()
    assert resumed["spec"]["paused"] is False
    restarted = api.put(f"/api/v1/rollouts/{deployed}/web/restart", json={}).json()
    assert restarted["spec"]["restartAt"].endswith("Z")
    full = api.put(f"/api/v1/rollouts/{deployed}/web/promote", json={"full": True}).json()
    assert full["status"]["promoteFull"] is True

    image = api.put(f"/api/v1/rollouts/{deployed}/web/set/web/hello:v2", json={})
    assert image.status_code == 200, image.text
    assert live_rollout(api, deployed)["containers"] == [{"name": "web", "image": "hello:v2"}]
    assert api.put(f"/api/v1/rollouts/{deployed}/web/set/nope/x:1", json={}).status_code == 404
    undo = api.put(f"/api/v1/rollouts/{deployed}/web/undo/0", json={})
    assert undo.status_code == 409 and "no earlier revision" in undo.json()["message"]
    assert api.get(f"/api/v1/rollouts/{deployed}/ghost/info").status_code == 404
    assert api.put(f"/api/v1/rollouts/{deployed}/ghost/abort", json={}).status_code == 404


def test_argo_cd_resource_actions(api: httpx.Client, deployed: str) -> None:
    where = {"kind": "Rollout", "resourceName": "web", "group": "argoproj.io"}
    listed = api.get(f"/api/v1/applications/{deployed}/resource/actions", params=where)
    assert listed.status_code == 200, listed.text
    actions = {a["name"]: a["disabled"] for a in listed.json()["actions"]}
    assert list(actions) == [
        "resume", "promote-full", "abort", "retry", "pause", "restart", "skip-current-step",
    ]  # fmt: skip
    assert (actions["resume"], actions["retry"], actions["abort"]) == (False, True, False)

    ran = api.post(f"/api/v1/applications/{deployed}/resource/actions", params=where, json="abort")
    assert ran.status_code == 200, ran.text
    assert ran.json()["manifest"]["status"]["abort"] is True
    skip = api.post(
        f"/api/v1/applications/{deployed}/resource/actions",
        params=where,
        json={"action": "skip-current-step"},
    )
    assert skip.json()["manifest"]["status"]["currentStepIndex"] == 2
    unknown = api.post(
        f"/api/v1/applications/{deployed}/resource/actions", params=where, json="explode"
    )
    assert unknown.status_code == 404


def test_watch_streams_the_next_change(live: Live, api: httpx.Client, deployed: str) -> None:
    headers = {"Authorization": f"Bearer {live.token}"}
    url = f"{live.url}/api/v1/rollouts/{deployed}/web/info/watch"
    with httpx.stream("GET", url, headers=headers, timeout=30.0) as stream:
        frames = (json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:"))
        assert next(frames)["result"]["status"] == "Paused"
        set_status(
            api, deployed, {**PAUSED, "pauseConditions": None, "phase": "Healthy", "message": ""}
        )
        assert next(frames)["result"]["status"] == "Healthy"


def test_namespace_watch_sends_added_then_modified(
    live: Live, api: httpx.Client, deployed: str
) -> None:
    headers = {"Authorization": f"Bearer {live.token}"}
    url = f"{live.url}/api/v1/rollouts/{deployed}/info/watch"
    with httpx.stream("GET", url, headers=headers, timeout=30.0) as stream:
        frames = (json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:"))
        first = next(frames)["result"]
        assert (first["type"], first["rolloutInfo"]["status"]) == ("ADDED", "Paused")
        api.put(f"/api/v1/rollouts/{deployed}/web/abort", json={}).raise_for_status()
        changed = next(frames)["result"]
        assert (changed["type"], changed["rolloutInfo"]["status"]) == ("MODIFIED", "Degraded")


def test_metrics_have_argo_rollouts_names(live: Live, api: httpx.Client, deployed: str) -> None:
    text = httpx.get(f"{live.url}/metrics").text
    assert (
        f'rollout_info{{name="web",namespace="{deployed}",phase="Paused",strategy="canary",'
        'traffic_router="Nginx"} 1.0' in text
    )
    assert (
        f'rollout_phase{{name="web",namespace="{deployed}",phase="Paused",strategy="canary"}} 1.0'
        in text
    )
    assert (
        f'rollout_phase{{name="web",namespace="{deployed}",phase="Healthy",strategy="canary"}} 0.0'
        in text
    )


def test_actions_follow_argo_cds_rbac(api: httpx.Client, live: Live, deployed: str) -> None:
    policy = (
        "g, role:pager, role:readonly\n"
        "p, role:pager, applications, action/argoproj.io/Rollout/abort, default/*, allow\n"
    )
    made = api.post(
        "/api/v1/account/token", json={"name": "pager", "role": "pager", "policy": policy}
    )
    assert made.status_code == 200, made.text
    viewer = api.post("/api/v1/account/token", json={"name": "ro", "role": "readonly"}).json()
    where = {"kind": "Rollout", "resourceName": "web"}
    actions = f"/api/v1/applications/{deployed}/resource/actions"
    with live.client(viewer["token"]) as readonly:
        assert readonly.get(f"/api/v1/rollouts/{deployed}/web/info").status_code == 200
        assert readonly.put(f"/api/v1/rollouts/{deployed}/web/abort", json={}).status_code == 403
        assert readonly.post(actions, params=where, json="abort").status_code == 403
        assert readonly.get(actions, params=where).status_code == 200
    with live.client(made.json()["token"]) as pager:
        assert pager.put(f"/api/v1/rollouts/{deployed}/web/pause", json={}).status_code == 403
        assert pager.post(actions, params=where, json="retry").status_code == 403
        assert pager.post(actions, params=where, json="abort").status_code == 200
        assert pager.put(f"/api/v1/rollouts/{deployed}/web/abort", json={}).status_code == 200
        image = pager.put(f"/api/v1/rollouts/{deployed}/web/set/web/hello:v9", json={})
        assert image.status_code == 403
    assert live_rollout(api, deployed)["status"] == "Degraded"
    editor_policy = (
        "g, role:editor, role:readonly\n"
        "p, role:editor, applications, update, default/*, allow\n"
        "p, role:editor, applications, action/argoproj.io/Rollout/promote, default/*, allow\n"
    )
    editor = api.post(
        "/api/v1/account/token", json={"name": "ed", "role": "editor", "policy": editor_policy}
    ).json()
    with live.client(editor["token"]) as edits:
        image = edits.put(f"/api/v1/rollouts/{deployed}/web/set/web/hello:v9", json={})
        assert image.status_code == 200, image.text
        assert edits.put(f"/api/v1/rollouts/{deployed}/web/undo/0", json={}).status_code == 409
        promote = f"/api/v1/rollouts/{deployed}/web/promote"
        assert edits.put(promote, json={"full": True}).status_code == 403  # promote-full
        assert edits.put(promote, json={}).status_code == 200
