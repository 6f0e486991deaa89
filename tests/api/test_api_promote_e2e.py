"""The whole promotion path on a live server: CI write-back puts a built tag into dev, dev
serves it, ``conveyor promote`` moves the same tag into staging through its gates, the server
records the promotion, and staging's deployment record names the app commit carried over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from api_helpers import Live, app_manifest, revision, synced_healthy, wait_app

from conveyor.artifacts import ArtifactStore
from conveyor.settings import Settings
from engine.engine_helpers import ConfigRepo
from support.ci_repos import conveyor
from support.runtime_helpers import READY_PROBE, deployment, git, make_app_repo

pytestmark = pytest.mark.slow

PIPELINES = """\
pipelines:
  - name: hello
    image: hello
    environments:
      - {name: dev, application: e2e-dev}
      - {name: staging, application: e2e-staging}
"""
ANNOTATIONS = {
    "argocd-image-updater.argoproj.io/image-list": "web=hello",
    "argocd-image-updater.argoproj.io/write-back-method": "git",
}
VETTED = {  # what the default policy bundle asks of a container
    **READY_PROBE,
    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
    "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
}


def _records(api: httpx.Client, app: str, done: Callable[[list[Any]], bool]) -> list[Any]:
    deadline = time.monotonic() + 90
    items: list[Any] = []
    while time.monotonic() < deadline:
        items = api.get("/api/v1/deployments", params={"app": app}).json()["items"]
        if done(items):
            return items
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {app}'s deployment record: {items}")


def _sync_to_head(api: httpx.Client, app: str, repo: ConfigRepo) -> None:
    head = repo.git("rev-parse", "main")
    api.get(f"/api/v1/applications/{app}", params={"refresh": "normal"}).raise_for_status()
    api.post(f"/api/v1/applications/{app}/sync", json={}).raise_for_status()
    wait_app(
        api, app, lambda a: synced_healthy(a) and revision(a) == head, what=f"{app} at {head}",
        timeout=120,
    )  # fmt: skip


def test_a_built_tag_is_promoted_recorded_and_traced_to_its_app_commit(
    live: Live, api: httpx.Client, tmp_path: Path
) -> None:
    source, (sha,) = make_app_repo(tmp_path, ["v1"])
    committed_at = git(source, "show", "-s", "--format=%cI", sha)
    store = ArtifactStore(Settings.from_env(home=live.home).artifacts_dir)
    asyncio.run(store.build("hello", source=str(source), revision=sha, tag=sha))
    repo = ConfigRepo(tmp_path / "cfg")
    repo.git("config", "receive.denyCurrentBranch", "updateInstead")  # write-back pushes here
    repo.write_text(".conveyor/promotion.yaml", PIPELINES)
    for env in ("dev", "staging"):
        repo.write(f"envs/{env}/deploy.yaml", deployment(
            "web", "hello:seed", probes=VETTED, namespace=f"e2e-{env}"
        ))  # fmt: skip
        kustomization = {
            "resources": ["deploy.yaml"],
            "images": [{"name": "hello", "newTag": "seed"}],
        }
        repo.write_text(f"envs/{env}/kustomization.yaml", yaml.safe_dump(kustomization))
    repo.commit("seed")
    for env in ("dev", "staging"):
        manifest = app_manifest(f"e2e-{env}", repo.url, path=f"envs/{env}")
        manifest["metadata"]["annotations"] = ANNOTATIONS
        api.post("/api/v1/applications", json=manifest).raise_for_status()
    cli = {"CONVEYOR_SERVER": live.url, "CONVEYOR_AUTH_TOKEN": live.token}

    # CI's write-back hook: dev gets the tag, the commit names the app commit
    code, out, err = conveyor(
        "image", "set", "e2e-dev", f"hello={sha}", "--app-commit", sha,
        "--app-commit-date", committed_at, env=cli,
    )  # fmt: skip
    assert code == 0, out + err
    _sync_to_head(api, "e2e-dev", repo)
    (dev,) = _records(api, "e2e-dev", lambda i: len(i) == 1 and bool(i[0]["servedAt"]))
    assert dev["appCommit"] == sha and dev["leadTimeSeconds"] > 0

    code, out, err = conveyor(
        "promote", "hello", "--to", "staging", "--user", "carol",
        "--pipeline-file", str(repo.path / ".conveyor/promotion.yaml"), env=cli,
    )  # fmt: skip

    assert code == 0, out + err
    assert f"promoted hello:{sha} from dev to staging" in out
    assert "recorded as promotion" in err
    promoted = repo.git("rev-parse", "main")
    assert f"newTag: {sha}" in repo.git("show", "main:envs/staging/kustomization.yaml")
    (record,) = api.get("/api/v1/promotions", params={"app": "hello"}).json()["items"]
    assert (record["outcome"], record["tag"], record["commit"]) == ("promoted", sha, promoted)
    assert (record["promotedBy"], record["appCommit"], record["app"]) == (
        "carol", sha, "e2e-staging",
    )  # fmt: skip
    assert [g["name"] for g in record["gates"] if g["held"]] == [
        "source-healthy", "soak", "analysis", "policy",
    ]  # fmt: skip

    _sync_to_head(api, "e2e-staging", repo)
    (staging,) = _records(api, "e2e-staging", lambda i: len(i) == 1 and bool(i[0]["servedAt"]))
    assert staging["revision"] == promoted and staging["appCommit"] == sha
    assert staging["leadTimeSeconds"] >= dev["leadTimeSeconds"]

    code, out, err = conveyor("promotions", "hello", "--status", "--repo", str(repo.path), env=cli)
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert sha[:12] in rows["dev"] and sha[:12] in rows["staging"]
