"""``conveyor rollouts retry`` on a canary aborted by its analysis, end to end: a real
``conveyor server`` runs the Rollout (its controller, its AnalysisRuns measuring a web metric
served by this test), the analysis fails and aborts the update, and a retry through the CLI
starts the steps again from the first one, with a fresh run, to a completed update."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import build_hello, conveyor, ok

from engine.engine_helpers import ConfigRepo
from support.rollout_helpers import rollout
from support.runtime_helpers import service
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.slow

NS = "web"
STEPS = [{"setWeight": 50}, {"pause": {}}]


class Gate:
    """A web metric's endpoint: ``{"ok": 1}`` or ``{"ok": 0}``, as the test sets it."""

    def __init__(self) -> None:
        self.value = 0
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"ok": gate.value}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                del args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def gate() -> Iterator[Gate]:
    running = Gate()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


def manifests(image: str, gate_url: str) -> list[dict[str, Any]]:
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "gate", "namespace": NS},
        "spec": {
            "metrics": [
                {
                    "name": "gate",
                    "interval": "1s",
                    "failureLimit": 0,
                    "successCondition": "result >= 1",
                    "provider": {"web": {"url": gate_url, "jsonPath": "{$.ok}"}},
                }
            ]
        },
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
    keys = ("status", "message", "step", "abort", "setWeight")
    raise AssertionError(f"timed out waiting for {what}: { ({k: current.get(k) for k in keys}) }")


def test_retry_restarts_a_canary_aborted_by_its_analysis(tmp_path: Path, gate: Gate) -> None:
    home = tmp_path / "home"
    first, second = build_hello(home, tmp_path)
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/hello.yaml", *manifests(f"hello:{first}", gate.url))
    repo.commit("hello v1")
    with ServerProcess(home, "--poll-interval", "2"):
        ok(conveyor(
            home, "app", "create", "hello", "--repo", repo.url, "--path", "app",
            "--revision", "main", "--dest-namespace", NS, "--sync-policy", "automated",
            "--sync-option", "CreateNamespace=true",
        ))  # fmt: skip
        stable = wait_info(home, lambda i: i["status"] == "Healthy", "v1 Healthy")["stableRS"]

        repo.write("app/hello.yaml", *manifests(f"hello:{second}", gate.url))
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
