"""``conveyor rollouts retry`` on a canary aborted by its analysis, end to end: a real
``conveyor server`` runs the Rollout (its controller, its AnalysisRuns measuring a web metric
served by this test), the analysis fails and aborts the update, and a retry through the CLI
starts the steps again from the first one, with a fresh run, to a completed update."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import build_hello, conveyor, ok

from engine.engine_helpers import ConfigRepo
from support.metric_gate import Gate, serving
from support.rollout_helpers import rollout
from support.runtime_helpers import service
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.slow

NS = "web"
STEPS = [{"setWeight": 50}, {"pause": {}}]


@pytest.fixture
def gate() -> Iterator[Gate]:
    with serving() as running:
        yield running


def manifests(image: str, gate: Gate) -> list[dict[str, Any]]:
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "gate", "namespace": NS},
        "spec": {"metrics": [gate.metric()]},
    }
    strategy = {
        "canary": {
            "canaryService": "hello-canary",
            "stableService": "hello",
            "trafficRouting": {"smi": {}},
            "analysis": {"templates": [{"templateName": "gate"}]},
            "steps": STEPS,
        }
    }
    ro = rollout("hello", image, strategy)
    ro["metadata"]["namespace"] = NS
    canary = service("hello-canary", namespace=NS)
    canary["spec"]["selector"] = {"app": "hello"}
    return [service("hello", namespace=NS), canary, template, ro]


def info(home: Path) -> dict[str, Any]:
    return dict(json.loads(ok(conveyor(home, "rollouts", "get", "hello", "-n", NS, "-o", "json"))))


def wait_info(
    home: Path, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = 120.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    current: dict[str, Any] = {}
    while time.monotonic() < deadline:
        current = info(home)
        if check(current):
            return current
        time.sleep(0.5)
    shown = {k: current.get(k) for k in ("status", "message", "step", "abort", "setWeight")}
    raise AssertionError(f"timed out waiting for {what}: {shown}")


def test_retry_restarts_a_canary_aborted_by_its_analysis(tmp_path: Path, gate: Gate) -> None:
    home = tmp_path / "home"
    first, second = build_hello(home, tmp_path)
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/hello.yaml", *manifests(f"hello:{first}", gate))
    repo.commit("hello v1")
    with ServerProcess(home, "--poll-interval", "2"):
        ok(conveyor(
            home, "app", "create", "hello", "--repo", repo.url, "--path", "app",
            "--revision", "main", "--dest-namespace", NS, "--sync-policy", "automated",
            "--sync-option", "CreateNamespace=true",
        ))  # fmt: skip
        stable = wait_info(home, lambda i: i["status"] == "Healthy", "v1 Healthy")["stableRS"]

        repo.write("app/hello.yaml", *manifests(f"hello:{second}", gate))
        repo.commit("hello v2")  # the poll finds it; the gate says 0: the analysis fails
        aborted = wait_info(home, lambda i: i["abort"], "the analysis aborts the update")
        assert aborted["status"] == "Degraded" and aborted["message"].startswith(
            "RolloutAborted: Rollout aborted update to revision 2"
        )
        canary = aborted["currentPodHash"]
        assert aborted["stableRS"] == stable and aborted["actualWeight"] == "0"
        failed = [r["objectMeta"]["name"] for r in aborted["analysisRuns"]]
        assert [r["status"] for r in aborted["analysisRuns"]] == ["Failed"]

        gate.value = 1  # the cause is fixed: retry (within abortScaleDownDelaySeconds)
        assert ok(conveyor(home, "rollouts", "retry", "hello", "-n", NS)) == (
            "rollout 'hello' retried\n"
        )
        retried = wait_info(
            home, lambda i: i["status"] == "Paused" and i["step"] == "1/2", "the steps again"
        )
        assert not retried["abort"] and retried["setWeight"] == "50"
        runs = {r["objectMeta"]["name"]: r["status"] for r in retried["analysisRuns"]}
        assert runs[failed[0]] == "Failed" and runs[f"{failed[0]}.1"] in ("Running", "Pending")

        assert ok(conveyor(home, "rollouts", "promote", "hello", "-n", NS)) == (
            "rollout 'hello' promoted\n"
        )
        done = wait_info(home, lambda i: i["status"] == "Healthy", "the retried update done")
        assert done["stableRS"] == canary and not done["abort"]
