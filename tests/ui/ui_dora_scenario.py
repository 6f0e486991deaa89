"""Three deploys of an app, one degraded and rolled back: the DORA scenario, for the browser
test that compares the DORA page with ``/api/v1/dora`` and ``/metrics`` (its repo helpers,
``deployment`` and ``commit``, also serve tests/api/test_api_dora.py).

Good revisions scale a Deployment to 0 (Healthy at once); the bad one asks for a Pod of an
image nobody built, with a 2 s progress deadline, so the app turns Degraded; the user rolls
back, then ships a fix. Commits are backdated, so lead times are hours.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api.api_helpers import Live, app_manifest, configmap, revision, synced_healthy, wait_app
from engine.engine_helpers import ConfigRepo


@dataclass(frozen=True)
class Deploys:
    good: str
    bad: str
    fix: str


def deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": f"not-built-here:v{replicas}"}]},
            },
        },
    }


def commit(repo: ConfigRepo, message: str, at: datetime, replicas: int) -> str:
    repo.write("app/cm.yaml", configmap("settings", version=message))
    repo.write("app/deploy.yaml", deployment(replicas))
    repo.git("add", "-A")
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    env = {**os.environ, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo.path, env=env, check=True)
    return repo.git("rev-parse", "HEAD")


def health(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("health") or {}).get("status") or "")


def sync_to_head(api: httpx.Client, app: str) -> None:
    api.get(f"/api/v1/applications/{app}", params={"refresh": "normal"}).raise_for_status()
    api.post(f"/api/v1/applications/{app}/sync", json={"prune": True}).raise_for_status()


def three_deploys(api: httpx.Client, live: Live, app: str, env: str) -> Deploys:
    repo = ConfigRepo(live.repos / app)
    now = datetime.now(UTC).replace(microsecond=0)
    good = commit(repo, "one", now - timedelta(hours=3), replicas=0)
    manifest = app_manifest(app, repo.url)
    manifest["metadata"]["labels"] = {"environment": env}
    api.post("/api/v1/applications", json=manifest).raise_for_status()
    sync_to_head(api, app)
    wait_app(api, app, lambda a: synced_healthy(a) and revision(a) == good, what="deploy 1",
             timeout=90)  # fmt: skip
    bad = commit(repo, "two", now - timedelta(hours=2), replicas=1)
    sync_to_head(api, app)
    wait_app(api, app, lambda a: revision(a) == bad and health(a) == "Degraded",
             what="deploy 2 Degraded", timeout=90)  # fmt: skip
    history = api.get(f"/api/v1/applications/{app}/history").json()["items"]
    first = next(h["id"] for h in history if h["revision"] == good)
    api.post(f"/api/v1/applications/{app}/rollback", json={"id": first}).raise_for_status()
    wait_app(api, app, lambda a: health(a) == "Healthy", what="rolled back", timeout=90)
    fix = commit(repo, "three", now - timedelta(hours=1), replicas=0)
    sync_to_head(api, app)
    wait_app(api, app, lambda a: synced_healthy(a) and revision(a) == fix, what="deploy 3",
             timeout=90)  # fmt: skip
    return Deploys(good, bad, fix)


def wait_dora(api: httpx.Client, app: str) -> dict[str, Any]:
    """``/api/v1/dora``'s figures of ``app`` once they show three deploys, one restored."""
    deadline = time.monotonic() + 60
    answer: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = api.get("/api/v1/dora", params={"app": app, "window": "30d"}).json()
        items = answer["items"]
        if items and items[0]["deployments"] == 3 and items[0]["restored"] == 1:
            return dict(items[0])
        time.sleep(0.2)
    raise AssertionError(f"DORA figures never showed three deploys: {answer}")
