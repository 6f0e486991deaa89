"""Argo CD's example repositories, registered as a new user would (``app create`` then
``app sync``): each syncs as far as Argo CD would, and health tells the truth about what runs.
None of their images is in the local artifact store, so no process starts, and the reason
(the missing image) is named on the resource, on the app, and in a sync step that waits.

Real git, kustomize and helm, and the local runtime; steps time out after a few seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from example_apps import example_apps

from conveyor.bootstrap import engine, local_target
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.settings import Settings
from engine.engine_helpers import ConfigRepo, application
from support.helm import needs_helm

OPTIONS = ControllerOptions(poll_interval=1.0, self_heal_backoff=0.2, step_timeout=4.0)
MISSING = "not found in the local artifact store"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[Controller, ConfigRepo]]:
    settings = Settings.from_env(home=tmp_path / "home")
    repo = example_apps(tmp_path / "argocd-example-apps")
    async with local_target(settings) as target, engine(settings, target, options=OPTIONS) as c:
        yield c, repo


async def status_where(controller: Controller, name: str, check: Any, what: str) -> Any:
    for _ in range(300):
        status = controller.application(name)["status"]
        if check(status):
            return status
        await controller.wait_reconciled(name, timeout=0.2)
    raise AssertionError(f"{name}: {what}: {controller.application(name)['status']}")


def finished(status: dict[str, Any]) -> bool:
    return (status.get("operationState") or {}).get("phase") in ("Succeeded", "Failed", "Error")


async def create_and_sync(
    controller: Controller, repo: ConfigRepo, name: str, path: str, **extra: Any
) -> dict[str, Any]:
    """``argocd app create NAME --repo URL --path PATH --dest-namespace NAME
    --sync-option CreateNamespace=true`` then ``argocd app sync NAME``."""
    await controller.apply_application(
        application(name, repo, path, namespace=name, automated=False, **extra)
    )
    await status_where(controller, name, lambda s: s.get("sync"), "compared")
    await controller.sync(name)
    status: dict[str, Any] = await status_where(controller, name, finished, "the sync ended")
    return status


def resource(status: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    [found] = [r for r in status["resources"] if r["kind"] == kind and r["name"] == name]
    return found


async def synced_but_not_running(
    controller: Controller, name: str, deployment: str, image: str
) -> None:
    """Synced; the Deployment (so the app) Progressing, its health naming the missing image."""
    status = await status_where(
        controller, name,
        lambda s: image in (resource(s, "Deployment", deployment).get("health") or {}).get(
            "message", ""
        ), "the missing image named",
    )  # fmt: skip
    assert status["operationState"]["phase"] == "Succeeded"
    assert status["sync"]["status"] == "Synced"
    health = resource(status, "Deployment", deployment)["health"]
    assert health["status"] in ("Progressing", "Degraded")
    assert f'image "{image}" {MISSING}' in health["message"]
    assert status["health"]["status"] == health["status"]
    assert image in status["health"]["message"]


async def test_guestbook(env: tuple[Controller, ConfigRepo]) -> None:
    controller, repo = env
    await create_and_sync(controller, repo, "guestbook", "guestbook")
    await synced_but_not_running(
        controller, "guestbook", "guestbook-ui", "gcr.io/heptio-images/ks-guestbook-demo:0.2"
    )


async def test_kustomize_guestbook(env: tuple[Controller, ConfigRepo]) -> None:
    controller, repo = env
    status = await create_and_sync(controller, repo, "kustomize-guestbook", "kustomize-guestbook")
    assert any(r["kind"] == "ConfigMap" for r in status["resources"])
    await synced_but_not_running(
        controller, "kustomize-guestbook", "kustomize-guestbook-ui",
        "gcr.io/heptio-images/ks-guestbook-demo:0.2",
    )  # fmt: skip


@needs_helm
async def test_helm_guestbook(env: tuple[Controller, ConfigRepo]) -> None:
    controller, repo = env
    await create_and_sync(controller, repo, "helm-guestbook", "helm-guestbook")
    await synced_but_not_running(
        controller, "helm-guestbook", "helm-guestbook",
        "gcr.io/heptio-images/ks-guestbook-demo:0.1",
    )  # fmt: skip


@needs_helm
async def test_a_chart_with_a_service_account(env: tuple[Controller, ConfigRepo]) -> None:
    controller, repo = env
    status = await create_and_sync(controller, repo, "web", "web-chart")
    account = resource(status, "ServiceAccount", "web")
    assert account["status"] == "Synced" and account["health"]["status"] == "Healthy"
    await synced_but_not_running(controller, "web", "web", "nginx:1.16.0")


async def test_sync_waves_stop_at_the_first_wave_naming_why(
    env: tuple[Controller, ConfigRepo],
) -> None:
    controller, repo = env
    status = await create_and_sync(controller, repo, "sync-waves", "sync-waves")
    operation = status["operationState"]
    assert operation["phase"] == "Failed"
    # wave 0 never became healthy, so wave 1 was not applied: as Argo CD would do
    assert (
        "waiting for replicaset.apps/backend, replicaset.apps/frontend to become healthy"
    ) in operation["message"]
    assert f'image "nginx:latest" {MISSING}' in operation["message"]
    assert f'image "node:latest" {MISSING}' in operation["message"]
    assert status["sync"]["status"] == "OutOfSync"
    assert resource(status, "Service", "frontend")["health"]["status"] == "Missing"


async def test_a_stuck_pre_sync_hook_names_the_hook_and_why(
    env: tuple[Controller, ConfigRepo],
) -> None:
    controller, repo = env
    await controller.apply_application(
        application("pre-post-sync", repo, "pre-post-sync", namespace="pre-post-sync",
                    automated=False)
    )  # fmt: skip
    await status_where(controller, "pre-post-sync", lambda s: s.get("sync"), "compared")
    await controller.sync("pre-post-sync")

    def hook_says_why(status: dict[str, Any]) -> bool:
        operation = status.get("operationState") or {}
        return operation.get("phase") == "Running" and any(
            r.get("hookPhase") == "Running" and MISSING in r.get("message", "")
            for r in (operation.get("syncResult") or {}).get("resources") or []
        )

    # while it waits, `app get` shows the hook Running and why
    for _ in range(200):
        if hook_says_why(controller.application("pre-post-sync")["status"]):
            break
        await controller.wait_changed("pre-post-sync", timeout=0.5)
    else:
        raise AssertionError(controller.application("pre-post-sync")["status"])
    status = await status_where(controller, "pre-post-sync", finished, "the sync ended")
    message = status["operationState"]["message"]
    assert status["operationState"]["phase"] == "Failed"
    assert "job.batch/pre-post-sync-before" in message
    assert f'image "curlimages/curl" {MISSING}' in message


@needs_helm
async def test_app_of_apps(env: tuple[Controller, ConfigRepo]) -> None:
    controller, repo = env
    await controller.apply_application(
        application("apps", repo, "apps", namespace="argocd", automated=False, options=())
    )
    await status_where(controller, "apps", lambda s: s.get("sync"), "compared")
    await controller.sync("apps")
    status = await status_where(
        controller, "apps",
        lambda s: finished(s) and s["sync"]["status"] == "Synced", "the parent synced",
    )  # fmt: skip
    assert status["health"]["status"] == "Healthy"
    for _ in range(100):
        if {"guestbook", "helm-guestbook", "kustomize-guestbook"} <= set(controller.names()):
            break
        await controller.settle()
        await controller.live.wait_for_change(0.1)
    assert controller.names() == ["apps", "guestbook", "helm-guestbook", "kustomize-guestbook"]
    # the children have no sync policy: compared, not synced, as in Argo CD
    child = await status_where(controller, "guestbook", lambda s: s.get("sync"), "compared")
    assert child["sync"]["status"] == "OutOfSync"
