"""The job provider with real Jobs on the local runtime: the Job's exit decides the
measurement, a terminated run deletes its Job, and the planner drives a job metric from
start to a final phase."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.analysis.planner import plan, record
from conveyor.analysis.providers import RunContext, default_providers, measure, resume, terminate
from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import local_target
from conveyor.clock import SystemClock
from conveyor.model.analysis.kinds import AnalysisRunSpec, Metric
from conveyor.model.analysis.status import AnalysisPhase, AnalysisRunStatus, Measurement
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.target import LocalTarget
from support.runtime_helpers import make_app_repo, wait_for

pytestmark = pytest.mark.slow

CLOCK = SystemClock()
FAST = KubeletOptions(backoff_base=0.5, backoff_cap=2.0, image_retry_base=0.5)


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
    async with local_target(settings, FAST, artifacts) as t:
        yield t


def job_metric(script: str, **fields: Any) -> Metric:
    spec = {
        "backoffLimit": 0,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {"name": "check", "image": "hello:v1", "command": ["python", "-c", script]}
                ],
            }
        },
    }
    return Metric.model_validate(
        {"name": "smoke-test", "provider": {"job": {"spec": spec}}, **fields}
    )


async def finish(metric: Metric, target: LocalTarget, context: RunContext) -> Measurement:
    providers = default_providers(jobs=target)
    measurement = await measure(metric, providers, CLOCK, context)
    assert measurement.phase is AnalysisPhase.RUNNING
    assert measurement.metadata and measurement.metadata["job-name"]

    async def done() -> Measurement | None:
        nonlocal measurement
        measurement = await resume(metric, measurement, providers, CLOCK, context)
        return measurement if measurement.finished_at else None

    result = await wait_for(done, timeout=60, what="the Job to finish")
    assert isinstance(result, Measurement)
    return result


async def test_the_jobs_exit_decides(target: LocalTarget) -> None:
    context = RunContext(namespace="default", run_name="canary-1", attempt=1)
    passed = await finish(job_metric("import sys; sys.exit(0)"), target, context)
    assert passed.phase is AnalysisPhase.SUCCESSFUL
    job = await target.get(ObjectKey("batch", "Job", "default", "canary-1.smoke-test.1"))
    assert job is not None
    assert job["metadata"]["labels"]["analysisrun.argoproj.io/metric-name"] == "smoke-test"
    failed = await finish(
        job_metric("import sys; sys.exit(3)"), target, RunContext(run_name="canary-1", attempt=2)
    )
    assert failed.phase is AnalysisPhase.FAILED


async def test_terminate_deletes_the_job(target: LocalTarget) -> None:
    metric = job_metric("import time; time.sleep(300)")
    providers = default_providers(jobs=target)
    context = RunContext(run_name="long")
    running = await measure(metric, providers, CLOCK, context)
    key = ObjectKey("batch", "Job", "default", "long.smoke-test.1")
    assert await target.get(key) is not None
    stopped = await terminate(metric, running, providers, CLOCK, context)
    assert (stopped.phase, stopped.message) == (AnalysisPhase.SUCCESSFUL, "Metric Terminated")

    async def gone() -> bool:
        return await target.get(key) is None

    await wait_for(gone, timeout=60, what="the Job to be deleted")


async def test_planner_drives_a_job_metric_to_its_phase(target: LocalTarget) -> None:
    spec = AnalysisRunSpec.model_validate(
        {"metrics": [job_metric("print('ok')").model_dump(by_alias=True, exclude_unset=True)]}
    )
    providers = default_providers(jobs=target)
    status = AnalysisRunStatus()
    for _ in range(600):
        current = plan(spec, status, CLOCK.now())
        status = current.status
        if status.phase.completed:
            break
        for task in current.tasks:
            result = status.result(task.metric.name)
            context = RunContext(run_name="driven", attempt=(result.count if result else 0) + 1)
            if task.resume is None:
                m = await measure(task.metric, providers, CLOCK, context)
            else:
                m = await resume(task.metric, task.resume, providers, CLOCK, context)
            status = record(spec, status, task.metric.name, m, resumed=task.resume is not None)
        if not current.tasks and current.wake_at is not None:  # sleep until the planner's time
            await asyncio.sleep(max(0.0, (current.wake_at - CLOCK.now()).total_seconds()))
    assert status.phase is AnalysisPhase.SUCCESSFUL
    result = status.result("smoke-test")
    assert result is not None and (result.count, result.successful) == (1, 1)
