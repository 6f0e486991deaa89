"""The runtime's Rollout controller is Argo's default instance: it runs the Rollouts without a
controller-instance-id label and leaves the others to their controller. No processes start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.targets.local.images import ArtifactImages
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.rollouts import INSTANCE_ID
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget
from support.rollout_helpers import key


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[LocalTarget]:
    runtime = LocalRuntime(
        runtime_dir=tmp_path / "runtime",
        journal=MemoryJournal(),
        images=ArtifactImages(ArtifactStore(tmp_path / "artifacts")),
    )
    await runtime.start()
    yield LocalTarget(runtime)
    await runtime.stop()


def rollout(name: str, labels: dict[str, str]) -> dict[str, object]:
    # no selector: the controller that runs it says InvalidSpec in its status
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"replicas": 1, "strategy": {"canary": {"steps": [{"setWeight": 20}]}}},
    }


async def test_only_rollouts_of_the_default_instance_are_run(target: LocalTarget) -> None:
    await target.apply(rollout("mine", {}))
    await target.apply(rollout("theirs", {INSTANCE_ID: "manual"}))
    async with asyncio.timeout(30):
        await target.runtime.settle()
    mine, theirs = await target.get(key("mine")), await target.get(key("theirs"))
    assert mine is not None and theirs is not None
    assert mine["status"]["phase"] == "Degraded"
    assert mine["status"]["message"].startswith("InvalidSpec: ")
    assert "status" not in theirs
