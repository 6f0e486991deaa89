"""What the browser tests of the UI share: Debian's Chromium through Playwright, a live server,
apps in git repos, and a screenshot of each page kept with the test output.

The browser is the system's ``/usr/bin/chromium`` (never a browser Playwright downloads). A
machine without it skips these tests with the reason, except in CI, where they fail.
Screenshots go to ``test-artifacts/ui/`` at the repository's root (git-ignored; set
``CONVEYOR_TEST_ARTIFACTS`` to put them elsewhere) and each path is printed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.api_helpers import Live, app_manifest, synced_healthy, wait_app
from engine.engine_helpers import ConfigRepo

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
WAIT = 60_000
"""Milliseconds for waits on the engine and the runtime (a loaded machine is slow)."""
ARTIFACTS = Path(os.environ.get("CONVEYOR_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "ui"


def require_chromium() -> None:
    """Skip (fail in CI) when the browser or its driver is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian's package `chromium`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install -e '.[dev]')")
    if not missing:
        return
    reason = "the UI's browser tests need " + " and ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must install it (.ci/run)")
    pytest.skip(reason)


def run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to its end on a loop of its own thread (Playwright's sync API holds a
    loop in the test's thread)."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot in the test's tmp dir, copied to test-artifacts/ui/NAME.png."""
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kept = ARTIFACTS / f"{name}.png"
    shutil.copyfile(shot, kept)
    print(f"screenshot: {kept}")
    return kept


TICKER = (
    "import time\n"
    "i = 0\n"
    "while True:\n"
    "    print(f'tick {i}', flush=True)\n"
    "    i += 1\n"
    "    time.sleep(0.3)\n"
)


def ticker_deployment(name: str, image: str, namespace: str) -> dict[str, Any]:
    """A Deployment of one Pod that writes ``tick N`` lines, N counting up."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": image,
                            "command": ["python", "-u", "-c", TICKER],
                        }
                    ],
                    "terminationGracePeriodSeconds": 2,
                },
            },
        },
    }


def live_object(api: httpx.Client, app: str, kind: str, name: str) -> dict[str, Any]:
    items = api.get(f"/api/v1/applications/{app}/manifests", params={"source": "live"}).json()
    for obj in items["manifests"]:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return dict(obj)
    raise AssertionError(f"{app} has no live {kind} {name}")


INSTANCE_ID = "argo-rollouts.argoproj.io/controller-instance-id"
"""A Rollout of another controller instance: the runtime leaves it alone, the test writes its
status (as tests/api/test_api_rollouts.py does)."""
STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "1m"}}]
PAUSED = {
    "phase": "Paused",
    "message": "CanaryPauseStep",
    "currentStepIndex": 1,
    "stableRS": "aaa111",
    "currentPodHash": "bbb222",
    "canary": {"weights": {"canary": {"weight": 20}, "stable": {"weight": 80}}},
    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}],
}


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


def set_status(api: httpx.Client, app: str, status: dict[str, Any]) -> None:
    api.post(
        f"/api/v1/applications/{app}/resource",
        params={"kind": "Rollout", "resourceName": "web", "subresource": "status"},
        json={"status": status},
    ).raise_for_status()


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def new_app(api: httpx.Client, live: Live, name: str, *docs: dict[str, Any]) -> ConfigRepo:
    repo = ConfigRepo(live.repos / name)
    repo.write("app/objects.yaml", *docs)
    repo.commit()
    api.post("/api/v1/applications", json=app_manifest(name, repo.url)).raise_for_status()
    return repo


def out_of_sync(app: dict[str, Any]) -> bool:
    return (app["status"].get("sync") or {}).get("status") == "OutOfSync"


def sync_and_wait(api: httpx.Client, name: str) -> dict[str, Any]:
    api.post(f"/api/v1/applications/{name}/sync", json={}).raise_for_status()
    return wait_app(api, name, synced_healthy, what=f"{name} Synced and Healthy", timeout=90)
