"""An Application synced from Git with a Rollout and its Services: the selectors the Rollout
controller injects make no difference to Argo CD's view (Synced, no self-heal fight), and the
app's health follows the Rollout (Suspended at a pause)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ConfigRepo, application

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import engine, local_target
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.target import LocalTarget
from support.rollout_helpers import HASH, rollout
from support.runtime_helpers import make_app_repo, service

pytestmark = [pytest.mark.slow, pytest.mark.processes]

FAST = KubeletOptions(backoff_base=0.5, backoff_cap=2.0, image_retry_base=0.5)
QUICK = ControllerOptions(poll_interval=1.0, self_heal_backoff=0.2, step_timeout=60.0)
STRATEGY = {
    "canary": {
        "canaryService": "shop-canary",
        "stableService": "shop",
        "trafficRouting": {"istio": {"virtualService": {"name": "shop"}}},
        "steps": [{"setWeight": 50}, {"pause": {}}],
    }
}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> ArtifactStore:
    root = tmp_path_factory.mktemp("artifacts")
    repo, shas = make_app_repo(root, ["v1", "v2"])
    store = ArtifactStore(root / "store")

    async def build() -> None:
        for version, sha in zip(["v1", "v2"], shas, strict=True):
            await store.build("hello", source=str(repo), revision=sha, tag=version)

    asyncio.run(build())
    return store


@pytest.fixture
async def env(
    tmp_path: Path, artifacts: ArtifactStore
) -> AsyncIterator[tuple[ConfigRepo, LocalTarget, Controller]]:
    settings = Settings.from_env(home=tmp_path / "home")
    async with (
        local_target(settings, FAST, artifacts) as target,
        engine(settings, target, options=QUICK) as controller,
    ):
        yield ConfigRepo(tmp_path / "config"), target, controller


def manifests(image: str) -> list[dict[str, Any]]:
    ro = rollout("shop", image, STRATEGY)
    ro["metadata"]["namespace"] = "demo"
    canary = service("shop-canary", namespace="demo")
    canary["spec"]["selector"] = {"app": "shop"}
    return [service("shop", namespace="demo"), canary, ro]


def state(app: dict[str, Any]) -> tuple[str, str]:
    status = app.get("status") or {}
    return status.get("sync", {}).get("status", ""), status.get("health", {}).get("status", "")


async def wait_until(controller: Controller, check: Any, what: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90.0
    app = controller.application("shop")
    while loop.time() < deadline:
        app = controller.application("shop")
        if await check(app):
            return app
        await controller.wait_changed("shop", timeout=0.3)
    comparison = controller.comparison("shop")
    diff = comparison.diff.out_of_sync if comparison else ()
    reasons = [(str(r.key), r.reason) for r in diff]
    raise AssertionError(
        f"timed out waiting for {what}; out of sync: {reasons}; {app.get('status')}"
    )


async def selectors(target: LocalTarget) -> dict[str, str | None]:
    out = {}
    for name in ("shop", "shop-canary"):
        svc = await target.get(ObjectKey("", "Service", "demo", name))
        out[name] = None if svc is None else svc["spec"]["selector"].get(HASH)
    return out


async def rollout_status(target: LocalTarget) -> dict[str, Any]:
    ro = await target.get(ObjectKey("argoproj.io", "Rollout", "demo", "shop"))
    return dict((ro or {}).get("status") or {})


async def test_injected_selectors_keep_the_app_synced_through_a_canary(
    env: tuple[ConfigRepo, LocalTarget, Controller],
) -> None:
    repo, target, controller = env
    repo.write("app/shop.yaml", *manifests("hello:v1"))
    repo.commit()
    await controller.apply_application(application("shop", repo, "app"))

    async def healthy_with_selectors(app: dict[str, Any]) -> bool:
        stable = (await rollout_status(target)).get("stableRS")
        injected = await selectors(target)
        return state(app) == ("Synced", "Healthy") and bool(stable) and injected == {
            "shop": stable, "shop-canary": stable}  # fmt: skip

    await wait_until(controller, healthy_with_selectors, "v1 Synced, Healthy, selectors injected")

    repo.write("app/shop.yaml", *manifests("hello:v2"))
    repo.commit()

    async def paused_with_canary_selector(app: dict[str, Any]) -> bool:
        st = await rollout_status(target)
        injected = await selectors(target)
        canary, stable = st.get("currentPodHash"), st.get("stableRS")
        return (
            state(app) == ("Synced", "Suspended")
            and canary != stable
            and injected == {"shop": stable, "shop-canary": canary}
        )

    await wait_until(controller, paused_with_canary_selector, "v2 paused at 50%")
    operations = len(await controller.history("shop"))
    for _ in range(2):  # two more full comparisons: no drift found, nothing synced again
        controller.refresh("shop")
        assert await controller.wait_reconciled("shop")
    app = controller.application("shop")
    assert state(app) == ("Synced", "Suspended")
    assert len(await controller.history("shop")) == operations
    resources = app["status"]["resources"]
    assert {r["kind"]: r["status"] for r in resources if r["kind"] == "Service"} == {
        "Service": "Synced"}  # fmt: skip
    assert all(r["status"] == "Synced" for r in resources)
