"""App of apps: Application and AppProject manifests a parent app syncs into Conveyor's own
namespace (``argocd``) become registered apps and projects, synced by their own policies; the
parent is Synced and Healthy; deleting the parent cascades to children that carry the
resources finalizer.

Real git repositories and the local runtime (ConfigMaps only: no process is started).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ConfigRepo, application, configmap

from conveyor.bootstrap import engine, local_target
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings

OPTIONS = ControllerOptions(poll_interval=1.0, self_heal_backoff=0.2, step_timeout=60.0)
FINALIZER = "resources-finalizer.argocd.argoproj.io"


@pytest.fixture
async def controller(tmp_path: Path) -> AsyncIterator[Controller]:
    settings = Settings.from_env(home=tmp_path / "home")
    async with local_target(settings) as target, engine(settings, target, options=OPTIONS) as c:
        yield c


async def until(controller: Controller, check: Any, what: str) -> None:
    for _ in range(300):
        if check():
            return
        await controller.settle()
        await controller.live.wait_for_change(0.1)
    raise AssertionError(f"timed out waiting for {what}: {controller.applications()}")


def state(controller: Controller, name: str) -> tuple[str, str, str]:
    if name not in controller.names():
        return ("", "", "")
    status = controller.application(name)["status"]
    return (
        (status.get("sync") or {}).get("status", ""),
        (status.get("health") or {}).get("status", ""),
        (status.get("operationState") or {}).get("phase", ""),
    )


def child(name: str, repo: ConfigRepo, *, project: str = "default", finalizer: bool = True) -> Any:
    app = application(name, repo, name, namespace=name, project=project)
    if finalizer:
        app["metadata"]["finalizers"] = [FINALIZER]
    return app


async def test_applications_synced_into_the_conveyor_namespace_are_registered_and_cascade(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    team = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "team", "namespace": "argocd"},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "*"}],
        },
    }
    # "api" sorts before its project "team": the project must be registered first all the same
    repo.write("apps/apps.yaml", team, child("api", repo, project="team"),
               child("kept", repo, finalizer=False))  # fmt: skip
    repo.write("api/cm.yaml", configmap("api-settings", {"k": "v"}))
    repo.write("kept/cm.yaml", configmap("kept-settings", {"k": "v"}))
    repo.commit()
    root = application("root", repo, "apps", namespace="argocd", options=())
    root["metadata"]["finalizers"] = [FINALIZER]
    await controller.apply_application(root)

    await until(
        controller,
        lambda: (
            state(controller, "api") == ("Synced", "Healthy", "Succeeded")
            and state(controller, "kept")[0] == "Synced"
        ),
        "the children synced by their own policies",
    )
    assert await controller.target.get(ObjectKey("", "ConfigMap", "api", "api-settings"))
    assert controller.application("api")["spec"]["project"] == "team"
    await until(
        controller,
        lambda: state(controller, "root")[:2] == ("Synced", "Healthy"),
        "the parent Synced and Healthy",
    )

    await controller.delete_application("root")
    await until(
        controller,
        lambda: "api" not in controller.names() and "kept" not in controller.names(),
        "the children gone with their parent",
    )
    assert await controller.target.get(ObjectKey("", "ConfigMap", "api", "api-settings")) is None
    # without the resources finalizer, the child's resources are left (orphaned)
    assert await controller.target.get(ObjectKey("", "ConfigMap", "kept", "kept-settings"))


async def test_conveyors_namespace_is_configurable_and_created_on_demand(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings.from_env(home=tmp_path / "home"), namespace="platform")
    repo = ConfigRepo(tmp_path / "config")
    elsewhere = child("elsewhere", repo)  # in "argocd": an object like any other here
    mine = child("mine", repo)
    mine["metadata"]["namespace"] = "platform"
    argocd = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}
    repo.write("apps/apps.yaml", argocd, elsewhere, mine)
    repo.write("mine/cm.yaml", configmap("mine", {"k": "v"}))
    repo.commit()
    async with local_target(settings) as target, engine(settings, target, options=OPTIONS) as c:
        await c.apply_application(application("root", repo, "apps", namespace="platform",
                                               options=()))  # fmt: skip
        await until(c, lambda: state(c, "mine")[2] == "Succeeded", "the child in platform")
        await until(c, lambda: state(c, "root")[:2] == ("Synced", "Healthy"), "the parent")
        assert c.names() == ["mine", "root"]
        assert await c.target.get(ObjectKey("", "Namespace", "", "platform")) is not None
