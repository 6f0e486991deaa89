"""A field the local runtime accepts but does not honour reaches the user: the app's events
list a ``FieldNotHonoured`` Warning on the Deployment that set it, once per pod template."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from api_helpers import app_manifest

from engine.engine_helpers import ConfigRepo


def _deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "nodeSelector": {"disktype": "ssd"},
                    "containers": [
                        {
                            "name": "web",
                            "image": "not-built:1",
                            "resources": {"requests": {"cpu": "100m"}},
                        }
                    ],
                },
            },
        },
    }


def _warnings(api: httpx.Client, app: str, want: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = api.get(f"/api/v1/applications/{app}/events").raise_for_status().json()["items"]
        found = [e for e in items if e["reason"] == "FieldNotHonoured"]
        if len(found) >= want:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {want} FieldNotHonoured events: {found}")


def test_unhonoured_fields_show_as_warnings_on_the_apps_deployment(
    api: httpx.Client, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/deploy.yaml", _deployment(1))
    repo.commit("first")
    api.post(
        "/api/v1/applications", json=app_manifest("fields", repo.url, automated={})
    ).raise_for_status()

    found = _warnings(api, "fields", 2)
    assert {e["involvedObject"]["kind"] for e in found} == {"Deployment"}
    assert {e["type"] for e in found} == {"Warning"}
    messages = sorted(e["message"] for e in found)
    assert messages == [
        "spec.template.spec.containers[0].resources.requests: the local runtime has no "
        "scheduler and reserves nothing for requests (they only feed resourceFieldRef)",
        "spec.template.spec.nodeSelector: the local runtime has one node and no scheduler; "
        "it is not applied",
    ]

    # A scale is a new generation with the same template: nothing is said again.
    repo.write("app/deploy.yaml", _deployment(2))
    repo.commit("scale")
    _observed(api, "fields", generation=2)  # the runtime has reconciled the scaled Deployment
    again = _warnings(api, "fields", 2)
    assert len(again) == 2 and {e["count"] for e in again} == {1}


def _observed(api: httpx.Client, app: str, generation: int) -> None:
    deadline = time.monotonic() + 60
    live: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        live = (
            api.get(f"/api/v1/applications/{app}/manifests", params={"source": "live"})
            .raise_for_status()
            .json()["manifests"]
        )
        status = next((m.get("status") or {} for m in live if m["kind"] == "Deployment"), {})
        if int(status.get("observedGeneration") or 0) >= generation:
            return
        api.get(f"/api/v1/applications/{app}", params={"refresh": "normal"})  # auto-sync
        time.sleep(0.2)
    raise AssertionError(f"the Deployment never reached generation {generation}: {live}")
