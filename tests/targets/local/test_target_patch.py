"""LocalTarget.patch: the resource or its status subresource, never another object's identity,
never a Secret's values. A runtime with an in-memory journal; no processes start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.errors import NotFoundError, ValidationError
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.images import ArtifactImages
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import TRACKING_LABEL, PatchType, WatchEventType

# A custom resource with a status subresource that no controller writes (a Rollout's status
# is its controller's on the local runtime), so that every status seen is the test's own.
EXPERIMENT = ObjectKey("argoproj.io", "Experiment", "default", "web")
SECRET = ObjectKey("", "Secret", "default", "creds")


def experiment() -> Object:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "web", "namespace": "default", "labels": {TRACKING_LABEL: "shop"}},
        "spec": {"replicas": 2, "strategy": {"canary": {"steps": [{"setWeight": 20}]}}},
    }


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[LocalTarget]:
    runtime = LocalRuntime(
        runtime_dir=tmp_path / "runtime",
        journal=MemoryJournal(),
        images=ArtifactImages(ArtifactStore(tmp_path / "artifacts")),
    )
    await runtime.start()
    target = LocalTarget(runtime)
    await target.apply(experiment())
    meta = {"name": "creds", "namespace": "default"}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta}
    await target.apply({**secret, "stringData": {"password": "hunter2"}})
    yield target
    await runtime.stop()


async def live(target: LocalTarget, key: ObjectKey = EXPERIMENT) -> Object:
    obj = await target.get(key)
    assert obj is not None
    return obj


async def test_the_status_subresource_writes_the_status_only(target: LocalTarget) -> None:
    before = await live(target)
    events: asyncio.Queue[Any] = asyncio.Queue()
    target.runtime.store.add_listener(events.put_nowait)
    result = await target.patch(EXPERIMENT, {"status": {"abort": True}}, subresource="status")
    assert result["status"] == {"abort": True}
    stored = await live(target)
    assert stored == result
    assert stored["spec"] == before["spec"]
    assert stored["metadata"]["generation"] == before["metadata"]["generation"]
    assert stored["metadata"]["labels"] == {TRACKING_LABEL: "shop"}
    assert stored["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]
    event = events.get_nowait()  # watchers see it, as the engine's live state does
    assert (event.type, event.object["status"]) == (WatchEventType.MODIFIED, {"abort": True})

    ops = [{"op": "add", "path": "/status/pauseConditions", "value": [{"reason": "x"}]}]
    result = await target.patch(EXPERIMENT, ops, patch_type=PatchType.JSON, subresource="status")
    assert result["status"] == {"abort": True, "pauseConditions": [{"reason": "x"}]}


async def test_a_patch_of_the_resource_keeps_status_and_refuses_to_change_it(
    target: LocalTarget,
) -> None:
    await target.patch(EXPERIMENT, {"status": {"abort": True}}, subresource="status")
    result = await target.patch(EXPERIMENT, {"spec": {"replicas": 3}})
    assert result["spec"]["replicas"] == 3 and result["status"] == {"abort": True}
    with pytest.raises(ValidationError, match="status is a subresource"):
        await target.patch(EXPERIMENT, {"spec": {"replicas": 4}, "status": {"abort": False}})
    with pytest.raises(ValidationError, match="may change only status"):
        await target.patch(
            EXPERIMENT, {"spec": {"replicas": 5}, "status": {"abort": False}}, subresource="status"
        )
    stored = await live(target)
    assert (stored["spec"]["replicas"], stored["status"]) == (3, {"abort": True})


@pytest.mark.parametrize("subresource", [None, "status"], ids=["resource", "status"])
async def test_no_patch_turns_an_object_into_another(
    target: LocalTarget, subresource: str | None
) -> None:
    for ops in (
        [{"op": "replace", "path": "/metadata/namespace", "value": "other"}],
        [{"op": "replace", "path": "/metadata/name", "value": "api"}],
        [{"op": "replace", "path": "/kind", "value": "Deployment"}],
    ):
        with pytest.raises(ValidationError, match="may not change"):
            await target.patch(EXPERIMENT, ops, patch_type=PatchType.JSON, subresource=subresource)
    assert await target.get(ObjectKey("argoproj.io", "Rollout", "default", "api")) is None
    assert await target.get(ObjectKey("argoproj.io", "Rollout", "other", "web")) is None


async def test_a_secrets_values_cannot_be_read_through_a_patch(target: LocalTarget) -> None:
    leak = [{"op": "copy", "from": "/data/password", "path": "/metadata/annotations"}]
    with pytest.raises(ValidationError, match="Secret's data"):
        await target.patch(SECRET, leak, patch_type=PatchType.JSON)
    probe = [{"op": "test", "path": "/data/password", "value": "aHVudGVyMg=="}]
    with pytest.raises(ValidationError, match="Secret's data"):
        await target.patch(SECRET, probe, patch_type=PatchType.JSON)
    wrong = [{"op": "test", "path": "/kind", "value": "Nope"}]
    with pytest.raises(ValidationError) as info:
        await target.patch(SECRET, wrong, patch_type=PatchType.JSON)
    assert "hunter2" not in str(info.value) and "aHVudGVyMg" not in str(info.value)
    with pytest.raises(NotFoundError, match="no status subresource"):
        await target.patch(SECRET, {"status": {"x": "y"}}, subresource="status")


async def test_what_cannot_be_patched_is_refused(target: LocalTarget) -> None:
    with pytest.raises(ValidationError, match="subresource must be"):
        await target.patch(EXPERIMENT, {"spec": {"replicas": 1}}, subresource="scale")
    with pytest.raises(NotFoundError):
        await target.patch(ObjectKey("argoproj.io", "Rollout", "default", "nope"), {})
    with pytest.raises(ValidationError, match="merge patch must be a JSON object"):
        await target.patch(EXPERIMENT, [{"op": "add", "path": "/x", "value": 1}])
