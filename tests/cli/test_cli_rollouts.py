"""``conveyor rollouts`` and ``conveyor app actions`` against a real ``conveyor server``: a
Rollout (with two ReplicaSets and an AnalysisRun it owns) deployed by an app, its status
written by the test as a controller would, every verb's output and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_helpers import conveyor, ok

from engine.engine_helpers import ConfigRepo
from support.server_helpers import CONVEYOR, ServerProcess

pytestmark = pytest.mark.slow

NS = "shop"
INSTANCE_ID = "argo-rollouts.argoproj.io/controller-instance-id"
"""Argo Rollouts' controller handles only Rollouts of its own instance id (none, by default):
the test plays the controller of this one, writing its status."""
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {"duration": "30s"}}]
STABLE, CANARY = "5d8f7c9b4a", "6c4b8d7f9e"
PAUSED = {
    "phase": "Paused",
    "message": "CanaryPauseStep",
    "currentStepIndex": 1,
    "stableRS": STABLE,
    "currentPodHash": CANARY,
    "canary": {"weights": {"canary": {"weight": 20}, "stable": {"weight": 80}}},
    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-12-05T09:00:00Z"}],
    "replicas": 3,
    "updatedReplicas": 1,
    "readyReplicas": 3,
    "availableReplicas": 3,
}


def template(image: str, pod_hash: str | None = None) -> dict[str, Any]:
    labels = {"app": "web", **({"rollouts-pod-template-hash": pod_hash} if pod_hash else {})}
    return {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": image}]}}  # fmt: skip


ROLLOUT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web", "labels": {INSTANCE_ID: "manual"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": template("hello:v2"),
        "strategy": {"canary": {"steps": STEPS}},
    },
}


def owned(uid: str) -> list[dict[str, Any]]:
    """Revision 1 (stable, hello:v1) and 2 (canary, hello:v2), and the canary's analysis."""
    owner = [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web",
              "uid": uid, "controller": True}]  # fmt: skip
    sets = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"web-{pod_hash}",
                "annotations": {"rollout.argoproj.io/revision": str(revision)},
                "labels": {"app": "web", "rollouts-pod-template-hash": pod_hash},
                "ownerReferences": owner,
            },
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web", "rollouts-pod-template-hash": pod_hash}},
                "template": template(image, pod_hash),
            },
        }
        for revision, pod_hash, image in ((1, STABLE, "hello:v1"), (2, CANARY, "hello:v2"))
    ]
    run = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": f"web-{CANARY}-2",
            "annotations": {"rollout.argoproj.io/revision": "2"},
            "ownerReferences": owner,
        },
        "spec": {"metrics": [{"name": "success-rate", "provider": {"web": {"url": "http://x"}}}]},
    }
    return [*sets, run]


@dataclass
class Deployed:
    home: Path
    url: str
    token: str

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30.0
        )

    def set_status(self, status: dict[str, Any], kind: str = "Rollout", name: str = "web") -> None:
        with self.api() as api:
            api.post(
                "/api/v1/applications/shop/resource",
                params={"kind": kind, "resourceName": name, "subresource": "status"},
                json={"status": status},
            ).raise_for_status()

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return conveyor(self.home, *args)

    def live(self) -> dict[str, Any]:
        """The Rollout as stored (status included)."""
        with self.api() as api:
            found = api.get("/api/v1/applications/shop/manifests", params={"source": "live"})
        return next(m for m in found.json()["manifests"] if m["kind"] == "Rollout")

    def info(self) -> dict[str, Any]:
        return dict(json.loads(ok(self.run("rollouts", "get", "web", "-n", NS, "-o", "json"))))


def _sync(api: httpx.Client, revision: str) -> None:
    api.get("/api/v1/applications/shop", params={"refresh": "normal"}).raise_for_status()
    api.post("/api/v1/applications/shop/sync", json={}).raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        op = (api.get("/api/v1/applications/shop").json()["status"].get("operationState")) or {}
        if op.get("phase") == "Succeeded" and op.get("syncResult", {}).get("revision") == revision:
            return
        time.sleep(0.2)
    raise AssertionError(f"sync of {revision} did not succeed: {op}")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    home = tmp_path_factory.mktemp("cli-rollouts")
    repo = ConfigRepo(tmp_path_factory.mktemp("rollouts-repo"))
    repo.write("app/rollout.yaml", ROLLOUT)
    first = repo.commit()
    with ServerProcess(home) as server:
        running = Deployed(home, server.url, server.token)
        manifest = {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "shop"},
            "spec": {
                "project": "default",
                "source": {"repoURL": repo.url, "path": "app", "targetRevision": "main"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": NS},
                "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
            },
        }  # fmt: skip
        with running.api() as api:
            api.post("/api/v1/applications", json=manifest).raise_for_status()
            _sync(api, first)
            uid = api.get(f"/api/v1/rollouts/{NS}/web/info").json()["objectMeta"]["uid"]
            repo.write("app/owned.yaml", *owned(uid))
            _sync(api, repo.commit())
        running.set_status(PAUSED)
        running.set_status(
            {"phase": "Running",
             "metricResults": [{"name": "success-rate", "phase": "Running", "successful": 2,
                                "measurements": [{"phase": "Successful", "value": "0.99"}]}]},
            kind="AnalysisRun", name=f"web-{CANARY}-2",
        )  # fmt: skip
        yield running


def test_list_and_get_draw_the_rollout(deployed: Deployed) -> None:
    lines = ok(deployed.run("rollouts", "list", "-n", NS)).splitlines()
    assert lines[0].split() == [
        "NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "READY", "DESIRED", "UP-TO-DATE",
        "AVAILABLE",
    ]  # fmt: skip
    assert lines[1].split() == ["web", "Canary", "Paused", "1/4", "20", "3/3", "3", "1", "3"]

    drawn = ok(deployed.run("rollouts", "get", "web", "-n", NS))
    assert ok(deployed.run("rollouts", "get", "rollout", "web", "-n", NS)) == drawn  # kubectl's
    assert ok(deployed.run("rollouts", "list", "rollouts", "-n", NS)).splitlines() == lines
    assert "Status:" in drawn and "॥ Paused" in drawn
    assert any(line.split() == ["Message:", "CanaryPauseStep"] for line in drawn.splitlines())
    assert "hello:v2 (canary)" in drawn
    assert "  ✔ 0: setWeight: 20" in drawn
    assert "  ▶ 1: pause (until promoted)" in drawn
    assert "    2: setWeight: 60" in drawn and "    3: pause: 30s" in drawn
    rows = {line.split()[1].lstrip("⧉Σ"): line for line in drawn.splitlines() if "web-" in line}
    assert f"web-{CANARY}" in drawn and f"web-{STABLE}" in drawn
    canary_row = next(line for line in drawn.splitlines() if f"⧉ web-{CANARY}" in line)
    stable_row = next(line for line in drawn.splitlines() if f"⧉ web-{STABLE}" in line)
    assert canary_row.split()[-1] == "canary" and stable_row.split()[-1] == "stable"
    assert drawn.index("revision:2") < drawn.index(f"web-{CANARY}") < drawn.index("revision:1")
    run_row = next(line for line in drawn.splitlines() if f"web-{CANARY}-2" in line)
    assert "AnalysisRun" in run_row and "Running" in run_row and "✔ 2" in run_row
    assert rows  # every object of the tree is on its own line

    missing = deployed.run("rollouts", "get", "ghost", "-n", NS)
    assert missing.returncode == 3 and "not found" in missing.stderr


def test_each_verb_and_its_exit_code(deployed: Deployed) -> None:
    def verb(*args: str) -> subprocess.CompletedProcess[str]:
        return deployed.run("rollouts", *args, "-n", NS)

    deployed.set_status(PAUSED)
    promoted = verb("promote", "web")
    assert (promoted.returncode, promoted.stdout) == (0, "rollout 'web' promoted\n")
    assert "pauseConditions" not in deployed.live()["status"]

    refused = verb("retry", "web")
    assert refused.returncode == 4 and "not aborted" in refused.stderr
    assert ok(verb("abort", "web")) == "rollout 'web' aborted\n"
    assert deployed.info()["status"] == "Degraded"
    assert ok(verb("retry", "web")) == "rollout 'web' retried\n"
    assert ok(verb("pause", "web")) == "rollout 'web' paused\n"
    assert deployed.info()["status"] == "Paused"
    assert ok(verb("resume", "web")) == "rollout 'web' resumed\n"
    assert deployed.live()["spec"]["paused"] is False
    assert ok(verb("restart", "web")) == "rollout 'web' restarts\n"
    assert deployed.live()["spec"]["restartAt"].endswith("Z")
    assert ok(verb("promote", "web", "--full")) == "rollout 'web' fully promoted\n"
    assert deployed.live()["status"]["promoteFull"] is True

    assert ok(verb("set", "image", "web", "web=hello:v3")) == "rollout 'web' image updated\n"
    assert deployed.info()["containers"] == [{"name": "web", "image": "hello:v3"}]
    assert verb("set", "image", "web", "nope=hello:v3").returncode == 3
    assert verb("set", "image", "web", "hello:v3").returncode == 2
    assert ok(verb("undo", "web", "--to-revision", "1")) == "rollout 'web' undo\n"
    assert deployed.info()["containers"] == [{"name": "web", "image": "hello:v1"}]
    unknown = verb("undo", "web", "--to-revision", "9")
    assert unknown.returncode == 4 and "no revision 9 (it has 1, 2)" in unknown.stderr
    assert verb("abort", "ghost").returncode == 3


def _watch(deployed: Deployed) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [str(CONVEYOR), "rollouts", "get", "web", "-n", NS, "--watch"],
        env={k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        | {"CONVEYOR_HOME": str(deployed.home)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:  # the first drawing has come once its step list is out
        if line.startswith("Steps:"):
            return proc
    raise AssertionError(f"the watch ended before drawing: {proc.wait()} {proc.stderr}")


def test_watch_ends_when_the_rollout_completes_or_aborts(deployed: Deployed) -> None:
    deployed.set_status({**PAUSED, "abort": False})
    watching = _watch(deployed)
    deployed.set_status({**PAUSED, "pauseConditions": None, "phase": "Healthy", "message": "",
                         "currentStepIndex": 4})  # fmt: skip
    out, _ = watching.communicate(timeout=60)
    assert watching.returncode == 0
    assert "✔ Healthy" in out and "✔ all steps complete" in out

    deployed.set_status({**PAUSED, "phase": "Progressing", "pauseConditions": None})
    watching = _watch(deployed)
    aborted = "RolloutAborted: metric success-rate assessed Failed"
    deployed.set_status({"abort": True, "phase": "Degraded", "message": aborted})
    out, err = watching.communicate(timeout=60)
    assert watching.returncode == 1
    assert "✖ Degraded" in out and "metric success-rate assessed Failed" in err


def test_app_actions_list_and_run(deployed: Deployed) -> None:
    deployed.set_status({**PAUSED, "abort": False})
    where = ("--kind", "Rollout", "--resource-name", "web")
    lines = ok(deployed.run("app", "actions", "list", "shop", *where)).splitlines()
    assert lines[0].split() == ["GROUP", "KIND", "NAME", "ACTION", "DISABLED"]
    assert [line.split()[-2:] for line in lines[1:]] == [
        ["resume", "false"], ["promote-full", "false"], ["abort", "false"], ["retry", "true"],
        ["pause", "false"], ["restart", "false"], ["skip-current-step", "false"],
    ]  # fmt: skip
    assert ok(deployed.run("app", "actions", "run", "shop", "abort", *where)).startswith(
        "Rollout web: abort"
    )
    assert deployed.info()["status"] == "Degraded"
    assert deployed.run("app", "actions", "run", "shop", "explode", *where).returncode == 3
    assert deployed.run("app", "actions", "run", "shop", "abort", "--kind", "Rollout",
                        "--resource-name", "ghost").returncode == 3  # fmt: skip
