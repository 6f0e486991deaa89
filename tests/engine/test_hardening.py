"""Odd input and misuse: the app gets a clear condition or refusal, nothing leaks or hangs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ConfigRepo, application, configmap

from conveyor.bootstrap import engine, local_target
from conveyor.engine import views
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.errors import ValidationError
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
    for _ in range(100):
        status = controller.application(name)["status"]
        if check(status):
            return status
        await controller.wait_reconciled(name, timeout=0.2)
    raise AssertionError(controller.application(name)["status"])


async def test_malformed_metadata_gives_a_comparison_error(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.write_text("app/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n")
    repo.commit()
    await controller.apply_application(application("odd", repo, "app"))
    status = await status_where(controller, "odd", lambda s: s.get("conditions"))
    assert status["conditions"][0]["type"] == "ComparisonError"
    assert "metadata" in status["conditions"][0]["message"]


async def test_a_non_string_hook_annotation_fails_the_sync_instead_of_hanging(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    cm = configmap("hooked", {"k": "1"})
    cm["metadata"]["annotations"] = {"argocd.argoproj.io/hook": 5}
    repo.write("app/cm.yaml", cm)
    repo.commit()
    await controller.apply_application(application("hooky", repo, "app", automated=False))
    await status_where(controller, "hooky", lambda s: s.get("sync"))
    await controller.sync("hooky")
    status = await status_where(
        controller,
        "hooky",
        lambda s: s.get("operationState", {}).get("phase") in ("Failed", "Error"),
    )
    assert "must be a string" in status["operationState"]["message"]
    assert not controller.operation_running("hooky")


async def test_patch_resource_cannot_turn_an_object_into_another_or_read_secrets(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/cm.yaml", configmap("cfg", {"k": "1"}))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "stringData": {"password": "hunter2"}}  # fmt: skip
    repo.write("app/secret.yaml", secret)
    repo.commit()
    await controller.apply_application(application("patchy", repo, "app"))
    await status_where(controller, "patchy", lambda s: s.get("sync", {}).get("status") == "Synced")
    escape = [{"op": "replace", "path": "/metadata/namespace", "value": "default"}]
    with pytest.raises(ValidationError, match="may not change"):
        await views.patch_resource(
            controller, "patchy", kind="ConfigMap", resource_name="cfg", patch=escape,
            patch_type=views.JSON_PATCH,
        )  # fmt: skip
    assert await controller.target.get(ObjectKey("", "ConfigMap", "default", "cfg")) is None
    leak = [{"op": "copy", "from": "/data/password", "path": "/metadata/annotations/x"}]
    with pytest.raises(ValidationError, match="Secret's data"):
        await views.patch_resource(
            controller, "patchy", kind="Secret", resource_name="creds", patch=leak,
            patch_type=views.JSON_PATCH,
        )  # fmt: skip
    probe = [{"op": "test", "path": "/kind", "value": "Nope"}]
    with pytest.raises(ValidationError) as info:
        await views.patch_resource(
            controller, "patchy", kind="Secret", resource_name="creds", patch=probe,
            patch_type=views.JSON_PATCH,
        )  # fmt: skip
    assert "aHVudGVyMg" not in str(info.value) and "hunter2" not in str(info.value)
    patched = await views.patch_resource(
        controller, "patchy", kind="Secret", resource_name="creds",
        patch={"metadata": {"labels": {"team": "a"}}},
    )  # fmt: skip
    text = repr(patched) + repr(views.manifests(controller, "patchy", "live"))
    assert "hunter2" not in text and "aHVudGVyMg" not in text


async def test_secrets_of_odd_shape_are_masked_in_git_manifests(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.write_text(
        "app/secret.yaml",
        "apiVersion: v2\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  - password: hunter2\n",
    )
    repo.write("app/cm.yaml", configmap("cfg", {"k": "1"}))
    repo.commit()
    await controller.apply_application(application("shapes", repo, "app", automated=False))
    await status_where(controller, "shapes", lambda s: s.get("sync") or s.get("conditions"))
    await asyncio.sleep(0)
    if controller.comparison("shapes") is not None:
        assert "hunter2" not in repr(views.manifests(controller, "shapes", "git"))
        assert "hunter2" not in repr(views.diff(controller, "shapes"))
