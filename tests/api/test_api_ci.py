"""``/api/v1/ci/runs``: a run submitted to the server is recorded and listed; the CLI submits
to a running server and waits for the result."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx
from api_helpers import Live, app_manifest

from support.ci_repos import GOOD_APP, conveyor, make_repo, pipeline


def _finished(api: httpx.Client, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run: dict[str, Any] = api.get(f"/api/v1/ci/runs/{run_id}").raise_for_status().json()
        if run["status"] in ("passed", "warned", "failed"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_submitted_run_is_recorded_and_listed(live: Live, api: httpx.Client) -> None:
    repo = make_repo(live.repos / "ci-listed", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})

    started = api.post("/api/v1/ci/runs", json={"path": str(repo)})

    assert started.status_code == 202, started.text
    run = _finished(api, started.json()["id"])
    assert run["status"] == "passed"
    assert run["artifact"] == f"ci-listed:{run['commit']}"
    listed = api.get("/api/v1/ci/runs", params={"name": "ci-listed"}).json()["items"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert "log" not in listed[0]["stages"][0]  # the list is a summary
    missing = api.post("/api/v1/ci/runs", json={"path": str(live.repos / "nothing")})
    assert missing.status_code == 404
    assert httpx.get(f"{live.url}/api/v1/ci/runs").status_code == 401


def test_the_cli_submits_to_the_running_server(live: Live, api: httpx.Client) -> None:
    repo = make_repo(live.repos / "ci-cli", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})

    code, _, err = conveyor(
        "ci", "run", str(repo), env={"CONVEYOR_SERVER": live.url, "CONVEYOR_AUTH_TOKEN": live.token}
    )

    assert code == 0, err
    assert f"submitted to {live.url}" in err
    listed = api.get("/api/v1/ci/runs", params={"name": "ci-cli"}).json()["items"]
    assert len(listed) == 1 and listed[0]["status"] == "passed"


OVERLAY = """\
# dev overlay, written by hand
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: ci-wb   # the artifact
    newTag: old   # set by CI
"""


def test_a_submitted_run_writes_the_tag_back_for_a_server_application(
    live: Live, api: httpx.Client
) -> None:
    config = make_repo(live.repos / "ci-wb-config", {"dev/kustomization.yaml": OVERLAY})
    bare = live.repos / "ci-wb-config.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(config), str(bare)], check=True)
    manifest = app_manifest("ci-wb-dev", f"file://{bare}", path="dev")
    manifest["metadata"]["annotations"] = {
        "argocd-image-updater.argoproj.io/image-list": "ci-wb",
        "argocd-image-updater.argoproj.io/write-back-method": "git",
    }
    api.post("/api/v1/applications", json=manifest).raise_for_status()
    repo = make_repo(live.repos / "ci-wb", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})

    unknown = api.post("/api/v1/ci/runs", json={"path": str(repo), "writeBack": ["nope"]})
    assert unknown.status_code == 404
    started = api.post("/api/v1/ci/runs", json={"path": str(repo), "writeBack": ["ci-wb-dev"]})

    assert started.status_code == 202, started.text
    run = _finished(api, started.json()["id"])
    assert run["status"] == "passed", run
    assert run["stages"][-1]["name"] == "write-back"
    shown = subprocess.run(
        ["git", "show", "main:dev/kustomization.yaml"],
        cwd=bare, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert shown == OVERLAY.replace("newTag: old ", f"newTag: {run['commit']} ")
