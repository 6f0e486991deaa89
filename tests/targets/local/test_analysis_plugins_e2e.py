"""Conveyor's plugins through a real Service: two Deployments behind one Service (stable and
canary), real requests through the runtime's proxy, and AnalysisRuns whose
``conveyor/builtin`` and ``conveyor/judge`` metrics read what the proxy recorded per
ReplicaSet. The canary answers /health with 500 after its first call (FAIL_HEALTH_AFTER)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import local_target
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.network.services import pod_is_ready
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import Selector
from support.runtime_helpers import (
    READY_PROBE,
    deployment,
    make_app_repo,
    service,
    service_port,
    wait_for,
)

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


def analysis_run(name: str, plugin: dict[str, Any], **fields: Any) -> dict[str, Any]:
    metric = {"name": "m", "provider": {"plugin": plugin}, **fields}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"metrics": [metric]}}  # fmt: skip


async def ended(target: LocalTarget, name: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        run = await target.get(ObjectKey("argoproj.io", "AnalysisRun", "default", name))
        status = (run or {}).get("status") or {}
        return status if status.get("phase") not in (None, "Pending", "Running") else None

    result: dict[str, Any] = await wait_for(done, timeout=60, what=f"{name} to end")
    return result


async def test_plugins_read_the_proxys_numbers_per_replicaset(target: LocalTarget) -> None:
    for name, env in (("web-stable", []), ("web-canary", [{"name": "FAIL_HEALTH_AFTER",
                                                          "value": "1"}])):  # fmt: skip
        manifest = deployment(name, "hello:v1", probes=READY_PROBE, env=env)
        manifest["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
        await target.apply(manifest)
    svc = service("web")
    svc["spec"]["selector"] = {"tier": "web"}
    await target.apply(svc)

    async def both_ready() -> dict[str, str] | None:
        pods = [p for p in await target.list(Selector(kind="Pod")) if pod_is_ready(p)]
        hashes = {p["metadata"]["labels"]["app"]: p["metadata"]["labels"]["pod-template-hash"]
                  for p in pods}  # fmt: skip
        return hashes if len(hashes) == 2 else None

    hashes = await wait_for(both_ready, timeout=60, what="both Deployments ready")
    stable, canary = hashes["web-stable"], hashes["web-canary"]
    live = await target.get(ObjectKey("", "Service", "default", "web"))
    port = service_port(live or {})
    target.runtime.set_weights("default", "web", {stable: 50, canary: 50})
    async with httpx.AsyncClient() as client:
        codes = [(await client.get(f"http://127.0.0.1:{port}/health")).status_code
                 for _ in range(400)]  # fmt: skip
    assert codes.count(500) >= 150

    rate = {"service": "web", "measure": "successRate", "window": "5m"}
    ok = "result[0] >= 0.95"
    by_name = {**rate, "replicaSet": f"web-stable-{stable}"}  # a ReplicaSet's name
    by_hash = {**rate, "replicaSet": canary}  # or its pod-template-hash
    await target.apply(
        analysis_run("stable-rate", {"conveyor/builtin": by_name}, successCondition=ok)
    )
    await target.apply(
        analysis_run("canary-rate", {"conveyor/builtin": by_hash}, successCondition=ok)
    )
    judge = {"service": "web", "canary": canary, "stable": stable, "window": "5m"}
    await target.apply(analysis_run("judged", {"conveyor/judge": judge}))

    assert (await ended(target, "stable-rate"))["phase"] == "Successful"
    failed = await ended(target, "canary-rate")
    assert failed["phase"] == "Failed"
    assert float(failed["metricResults"][0]["measurements"][0]["value"].strip("[]")) < 0.1
    judged = await ended(target, "judged")
    assert judged["phase"] == "Failed"
    [measurement] = judged["metricResults"][0]["measurements"]
    assert measurement["metadata"]["errors"].startswith("High")
    # Two metrics, errors High: 50 when the latencies compare equal, 0 when the canary's are
    # also judged higher (its 500s and the stable's 200s take different paths, and a loaded
    # machine can make that difference significant).
    latency_passed = measurement["metadata"]["latency"].startswith("Pass")
    assert measurement["value"] == ("50" if latency_passed else "0")
