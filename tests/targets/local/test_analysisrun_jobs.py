"""An AnalysisRun with a job metric on the local runtime: the controller creates a real Job,
looks at it again on the work queue's timer until the Job ends, and the Job's exit decides
the run; a terminated run deletes the Job it was waiting for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import local_target
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import Selector
from support.runtime_helpers import make_app_repo, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> ArtifactStore:
    root = tmp_path_factory.mktemp("artifacts")
    repo, shas = make_app_repo(root, ["v1"])
    store = ArtifactStore(root / "store")
    asyncio.run(store.build("hello", source=str(repo), revision=shas[0], tag="v1"))
    return store


@pytest.fixture
async def target(tmp_path: Path, artifacts: ArtifactStore) -> AsyncIterator[LocalTarget]:
    settings = Settings.from_env(home=tmp_path / "home")
    async with local_target(settings, KubeletOptions(backoff_base=0.5), artifacts) as t:
        yield t


def job_run(name: str, script: str) -> dict[str, Any]:
    container = {"name": "check", "image": "hello:v1", "command": ["python", "-c", script]}
    job = {"backoffLimit": 0,
           "template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}  # fmt: skip
    metric = {"name": "smoke", "provider": {"job": {"spec": job}}}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"metrics": [metric]}}  # fmt: skip


async def phase(target: LocalTarget, name: str) -> str:
    run = await target.get(ObjectKey("argoproj.io", "AnalysisRun", "default", name))
    return str(((run or {}).get("status") or {}).get("phase") or "")


async def ended(target: LocalTarget, name: str) -> str:
    async def done() -> str | None:
        value = await phase(target, name)
        return value if value not in ("", "Pending", "Running") else None

    result: str = await wait_for(done, timeout=90, what=f"{name} to end")
    return result


async def test_the_jobs_exit_decides_the_run(target: LocalTarget) -> None:
    await target.apply(job_run("passes", "print('ok')"))
    await target.apply(job_run("fails", "import sys; sys.exit(3)"))
    assert await ended(target, "passes") == "Successful"
    assert await ended(target, "fails") == "Failed"
    jobs = await target.list(Selector(kind="Job"))
    names = {j["metadata"]["labels"]["analysisrun.argoproj.io/name"] for j in jobs}
    assert names == {"passes", "fails"}


async def test_deleting_the_run_deletes_its_job(target: LocalTarget) -> None:
    await target.apply(job_run("owner", "import time; time.sleep(300)"))

    async def job() -> list[Any]:
        return await target.list(Selector(kind="Job", namespace="default"))

    [created] = await wait_for(job, timeout=60, what="the Job")
    [ref] = created["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"]) == ("AnalysisRun", "owner")
    assert await target.delete(ObjectKey("argoproj.io", "AnalysisRun", "default", "owner"))

    async def gone() -> bool:
        return await target.get(ObjectKey.of(created)) is None

    await wait_for(gone, timeout=60, what="the Job to be deleted with its run")


async def test_terminating_the_run_deletes_its_job(target: LocalTarget) -> None:
    await target.apply(job_run("long", "import time; time.sleep(300)"))

    async def job() -> list[Any]:
        return await target.list(Selector(kind="Job", namespace="default"))

    [created] = await wait_for(job, timeout=60, what="the Job")
    key = ObjectKey("argoproj.io", "AnalysisRun", "default", "long")
    await target.patch(key, {"spec": {"terminate": True}})
    assert await ended(target, "long") == "Successful"

    async def terminated() -> dict[str, Any] | None:
        run = await target.get(key)
        [measurement] = (run or {})["status"]["metricResults"][0]["measurements"]
        return measurement if measurement.get("finishedAt") else None

    measurement = await wait_for(terminated, timeout=30, what="the measurement terminated")
    assert (measurement["phase"], measurement["message"]) == ("Successful", "Metric Terminated")

    async def gone() -> bool:
        return await target.get(ObjectKey.of(created)) is None

    await wait_for(gone, timeout=60, what="the Job to be deleted")
