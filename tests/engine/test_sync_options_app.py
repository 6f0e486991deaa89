"""Sync options through the controller: the conditions an app shows, Delete=false on delete.

Real git repos and the local runtime (ConfigMaps only: no process is started).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ConfigRepo, application, configmap

from conveyor.bootstrap import engine, local_target
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings


@pytest.fixture
async def controller(tmp_path: Path) -> AsyncIterator[Controller]:
    settings = Settings.from_env(home=tmp_path / "home")
    async with (
        local_target(settings) as target,
        engine(settings, target, options=ControllerOptions(poll_interval=1.0)) as ctl,
    ):
        yield ctl


async def status_where(controller: Controller, name: str, check: Any) -> dict[str, Any]:
    for _ in range(150):
        status = controller.application(name)["status"]
        if check(status):
            return status
        await controller.wait_reconciled(name, timeout=0.2)
    raise AssertionError(controller.application(name)["status"])


def conditions(status: dict[str, Any], kind: str) -> list[str]:
    return [c["message"] for c in status.get("conditions") or [] if c["type"] == kind]


async def test_an_unsupported_option_shows_a_warning_condition_and_the_app_still_syncs(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/cm.yaml", configmap("settings", {"k": "v"}))
    repo.commit()
    options = ("CreateNamespace=true", "ServerSideApply=true")
    await controller.apply_application(application("ssa", repo, "app", options=options))
    status = await status_where(
        controller, "ssa", lambda s: s.get("sync", {}).get("status") == "Synced"
    )
    [warning] = conditions(status, "SyncOptionWarning")
    assert "ServerSideApply=true is not supported" in warning


async def test_a_resource_of_another_app_gives_a_shared_resource_warning_and_can_fail_the_sync(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.write("web/cm.yaml", configmap("settings", {"owner": "web"}))
    repo.write("api/cm.yaml", configmap("settings", {"owner": "api"}))
    repo.commit()
    await controller.apply_application(application("web", repo, "web"))
    await status_where(controller, "web", lambda s: s.get("sync", {}).get("status") == "Synced")

    options = ("CreateNamespace=true", "FailOnSharedResource=true")
    await controller.apply_application(application("api", repo, "api", options=options))
    status = await status_where(controller, "api", lambda s: conditions(s, "SharedResourceWarning"))
    assert conditions(status, "SharedResourceWarning") == [
        "ConfigMap/settings is part of applications api and web"
    ]
    failed = await status_where(
        controller, "api", lambda s: s.get("operationState", {}).get("phase") == "Failed"
    )
    assert failed["operationState"]["message"] == (
        "Shared resource found: ConfigMap/settings is part of applications api and web"
    )
    owner = controller.live.get(ObjectKey("", "ConfigMap", "demo", "settings"))
    assert owner is not None and owner["data"] == {"owner": "web"}


async def test_delete_false_keeps_a_resource_when_its_app_is_deleted(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    keep = configmap("data", {"k": "v"}, **{"argocd.argoproj.io/sync-options": "Delete=false"})
    repo.write("app/cm.yaml", keep, configmap("scratch", {"k": "v"}))
    repo.commit()
    await controller.apply_application(application("store", repo, "app"))
    await status_where(controller, "store", lambda s: s.get("sync", {}).get("status") == "Synced")

    await controller.delete_application("store")
    assert await controller.target.get(ObjectKey("", "ConfigMap", "demo", "data")) is not None
    assert await controller.target.get(ObjectKey("", "ConfigMap", "demo", "scratch")) is None
