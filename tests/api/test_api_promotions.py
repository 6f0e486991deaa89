"""Promotions kept by the server, and the app commit on the deployment record.

A config commit written by CI write-back names its app commit in trailers: once the engine
syncs it, ``/api/v1/deployments`` shows that commit and the lead time from it. ``conveyor
promote`` records every attempt, a refusal too, naming the gate that failed.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from api_helpers import Live, app_manifest, configmap, revision, synced_healthy, wait_app

from engine.engine_helpers import ConfigRepo
from support.ci_repos import conveyor

APP_COMMIT = "a1" * 20
PIPELINES = """\
pipelines:
  - name: promo
    image: ghcr.io/acme/hello
    environments:
      - {name: dev, application: promo-dev}
      - {name: staging, application: promo-staging}
"""
IMAGE_LIST = {
    "argocd-image-updater.argoproj.io/image-list": "web=ghcr.io/acme/hello",
    "argocd-image-updater.argoproj.io/write-back-method": "git",
}


def _deployments(api: httpx.Client, app: str, done: Any, what: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = api.get("/api/v1/deployments", params={"app": app}).json()["items"]
        if done(items):
            return items
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {items}")


def test_the_deployment_record_names_the_app_commit_of_the_synced_commit(
    api: httpx.Client, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/cm.yaml", configmap("settings", tag="aaa"))
    plain = repo.commit("a person's commit")
    api.post("/api/v1/applications", json=app_manifest("leadtime", repo.url)).raise_for_status()
    api.post("/api/v1/applications/leadtime/sync", json={}).raise_for_status()
    wait_app(api, "leadtime", lambda a: synced_healthy(a) and revision(a) == plain, what="sync")
    repo.write("app/cm.yaml", configmap("settings", tag="bbb"))
    written = repo.commit(
        "chore(ci): hello -> bbb\n\n"
        f"Conveyor-App-Commit: {APP_COMMIT}\n"
        "Conveyor-App-Commit-Date: 2026-12-01T08:00:00+00:00\n"
        "Conveyor-Run: 0123abcd\n"
    )
    api.get("/api/v1/applications/leadtime", params={"refresh": "normal"}).raise_for_status()
    api.post("/api/v1/applications/leadtime/sync", json={}).raise_for_status()

    items = _deployments(
        api, "leadtime", lambda i: len(i) == 2 and i[1]["servedAt"] is not None, "served"
    )
    first, second = items
    assert (first["revision"], first["appCommit"], first["leadTimeSeconds"]) == (plain, None, None)
    assert second["revision"] == written and second["appCommit"] == APP_COMMIT
    assert second["appCommitAt"] == "2026-12-01T08:00:00Z"
    served = second["servedAt"].replace("Z", "+00:00")
    expected = (
        datetime.fromisoformat(served) - datetime.fromisoformat("2026-12-01T08:00:00+00:00")
    ).total_seconds()
    assert second["leadTimeSeconds"] == pytest.approx(expected, abs=1)  # servedAt in s


def _promotion(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pipeline": "promo", "app": "promo-staging", "from": "dev", "to": "staging",
        "image": "ghcr.io/acme/hello:abc1234", "tag": "abc1234", "promotedBy": "alice",
        "promotedAt": "2026-12-05T12:00:00+00:00", "outcome": "promoted", "failedGates": [],
        "message": "", "gates": [{"name": "soak", "held": True, "detail": "served 600s"}],
        "commit": "c" * 40, "branch": "main", "appCommit": APP_COMMIT,
    }  # fmt: skip
    return {**body, **changes}


def test_a_refused_promotion_is_recorded_naming_the_gate(
    live: Live, api: httpx.Client, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("dev/cm.yaml", configmap("settings", env="dev"))
    repo.write("staging/cm.yaml", configmap("settings", env="staging"))
    repo.write_text(".conveyor/promotion.yaml", PIPELINES)
    repo.commit()
    for env in ("dev", "staging"):
        manifest = app_manifest(f"promo-{env}", repo.url, path=env)
        manifest["metadata"]["annotations"] = IMAGE_LIST
        api.post("/api/v1/applications", json=manifest).raise_for_status()
        api.post(f"/api/v1/applications/promo-{env}/sync", json={}).raise_for_status()
        wait_app(api, f"promo-{env}", synced_healthy, what=f"{env} synced")
    _deployments(api, "promo-dev", lambda i: i and i[-1]["servedAt"], "dev served")
    before = repo.git("rev-parse", "main")

    code, out, err = conveyor(
        "promote", "promo", "--to", "staging", "--user", "bob",
        "--pipeline-file", str(repo.path / ".conveyor/promotion.yaml"),
        env={"CONVEYOR_SERVER": live.url, "CONVEYOR_AUTH_TOKEN": live.token},
    )  # fmt: skip

    assert code == 1, out + err
    assert "gate source-healthy failed" in err and "running no ghcr.io/acme/hello image" in err
    assert "recorded as promotion" in err
    assert repo.git("rev-parse", "main") == before  # nothing committed
    items = api.get("/api/v1/promotions", params={"app": "promo", "env": "staging"}).json()
    (refused,) = items["items"]
    assert refused["outcome"] == "refused" and refused["failedGates"] == ["source-healthy"]
    assert (refused["from"], refused["to"], refused["promotedBy"]) == ("dev", "staging", "bob")
    assert refused["app"] == "promo-staging" and refused["commit"] == ""
    assert refused["recordedBy"] == "admin"
    assert [g["name"] for g in refused["gates"]] == [
        "source-healthy", "soak", "analysis", "policy",
    ]  # fmt: skip
    assert "gate source-healthy failed" in refused["message"]

    code, out, err = conveyor(
        "promotions", "promo", env={"CONVEYOR_SERVER": live.url, "CONVEYOR_AUTH_TOKEN": live.token}
    )
    assert code == 0, err
    assert "refused" in out and "failed: source-healthy" in out and "bob" in out


def test_promotions_are_validated_listed_and_guarded(live: Live, api: httpx.Client) -> None:
    stored = api.post("/api/v1/promotions", json=_promotion(app="promo-guarded"))
    assert stored.status_code == 201, stored.text
    assert stored.json()["image"] == "ghcr.io/acme/hello:abc1234"
    # a promotion that went through names its commit; a refusal names the failed gate
    no_commit = api.post("/api/v1/promotions", json=_promotion(commit=""))
    assert no_commit.status_code == 400 and "commit" in no_commit.text
    unnamed = api.post("/api/v1/promotions", json=_promotion(outcome="refused", commit=""))
    assert unnamed.status_code == 400 and "failedGates" in unnamed.text
    assert api.post("/api/v1/promotions", json=_promotion(extra=1)).status_code == 400

    listed = api.get("/api/v1/promotions", params={"app": "promo-guarded"}).json()["items"]
    assert [(p["app"], p["tag"], p["outcome"]) for p in listed] == [
        ("promo-guarded", "abc1234", "promoted")
    ]
    assert api.get("/api/v1/promotions", params={"env": "nowhere"}).json()["items"] == []

    made = api.post("/api/v1/account/token", json={"name": "viewer", "role": "readonly"})
    with live.client(made.raise_for_status().json()["token"]) as viewer:
        assert viewer.get("/api/v1/promotions").status_code == 200
        denied = viewer.post("/api/v1/promotions", json=_promotion(app="promo-guarded"))
        assert denied.status_code == 403
    with httpx.Client(base_url=live.url) as anonymous:
        assert anonymous.get("/api/v1/promotions").status_code == 401
    assert yaml.safe_load(yaml.safe_dump(listed)) == listed  # plain JSON values
