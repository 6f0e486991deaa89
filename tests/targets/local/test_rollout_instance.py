"""The runtime's Rollout and AnalysisRun controllers honour Argo's controller-instance-id
label: without an instance id (the default) they run the objects without the label, with one
(CONVEYOR_ROLLOUTS_INSTANCE_ID) only the objects labelled with it; a Rollout's AnalysisRuns
carry its label. No processes start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rollout_sim import canary_rollout, released_canary

from conveyor.artifacts import ArtifactStore
from conveyor.errors import ValidationError
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.images import ArtifactImages
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.rollouts import INSTANCE_ID
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget
from support.rollout_helpers import key

ANALYSIS = {"templates": [{"templateName": "success-rate"}]}


@pytest.fixture(params=["", "blue"], ids=["no-instance-id", "instance-blue"])
async def target(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LocalTarget]:
    runtime = LocalRuntime(
        runtime_dir=tmp_path / "runtime",
        journal=MemoryJournal(),
        images=ArtifactImages(ArtifactStore(tmp_path / "artifacts")),
        rollouts_instance_id=request.param,
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


def labels_of(value: str | None) -> dict[str, str]:
    return {} if value is None else {INSTANCE_ID: value}


def others(instance_id: str) -> list[str | None]:
    """Label values of other instances' objects (None: no label)."""
    return ["manual", ""] if not instance_id else [None, "manual", ""]


async def test_only_rollouts_of_the_runtimes_instance_are_run(target: LocalTarget) -> None:
    instance_id = target.runtime.instance_id
    await target.apply(rollout("mine", labels_of(instance_id or None)))
    for i, value in enumerate(others(instance_id)):
        await target.apply(rollout(f"theirs-{i}", labels_of(value)))
    async with asyncio.timeout(30):
        await target.runtime.settle()
    mine = await target.get(key("mine"))
    assert mine is not None
    assert mine["status"]["phase"] == "Degraded"
    assert mine["status"]["message"].startswith("InvalidSpec: ")
    for i in range(len(others(instance_id))):
        theirs = await target.get(key(f"theirs-{i}"))
        assert theirs is not None and "status" not in theirs


def run(name: str, labels: dict[str, str]) -> dict[str, object]:
    # terminated from the start: its controller ends it at once, without measuring
    metric = {"name": "up", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"metrics": [metric], "terminate": True},
    }


async def test_only_analysis_runs_of_the_runtimes_instance_are_run(target: LocalTarget) -> None:
    instance_id = target.runtime.instance_id
    await target.apply(run("mine", labels_of(instance_id or None)))
    for i, value in enumerate(others(instance_id)):
        await target.apply(run(f"theirs-{i}", labels_of(value)))
    async with asyncio.timeout(30):
        await target.runtime.settle()

    def get(name: str) -> dict[str, object]:
        found = target.runtime.store.get(ObjectKey("argoproj.io", "AnalysisRun", "default", name))
        assert found is not None
        return found

    assert get("mine")["status"]["phase"] == "Successful"  # type: ignore[index]
    for i in range(len(others(instance_id))):
        assert "status" not in get(f"theirs-{i}")


def test_a_rollouts_analysis_runs_carry_its_instance_id() -> None:
    obj = canary_rollout(steps=[{"setWeight": 20}, {"analysis": ANALYSIS}])
    obj["metadata"]["labels"] = {INSTANCE_ID: "blue"}
    cluster, _v1, _v2 = released_canary(obj)
    cluster.settle_rollout()
    assert cluster.requests[cluster.run_of("Step")].labels[INSTANCE_ID] == "blue"
    plain, _v1, _v2 = released_canary(canary_rollout(steps=[{"analysis": ANALYSIS}]))
    plain.settle_rollout()
    assert INSTANCE_ID not in plain.requests[plain.run_of("Step")].labels


@pytest.mark.parametrize(
    ("value", "expected"), [("", ""), ("blue", "blue"), (" canary.v2 ", "canary.v2")]
)
def test_the_instance_id_is_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("CONVEYOR_ROLLOUTS_INSTANCE_ID", value)
    assert Settings.from_env(home=tmp_path).rollouts_instance_id == expected


def test_an_instance_id_that_is_no_label_value_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_ROLLOUTS_INSTANCE_ID", "blue/green")
    with pytest.raises(ValidationError, match="CONVEYOR_ROLLOUTS_INSTANCE_ID='blue/green'"):
        Settings.from_env(home=tmp_path)
