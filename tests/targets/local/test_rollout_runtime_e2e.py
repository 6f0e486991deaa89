"""Rollouts on the local runtime with real processes: canary steps and their traffic, abort,
abort and retry under load, blue-green switching, deletion (the runtime carrying out
``plan_rollout``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import local_target
from conveyor.model.objects import ObjectKey
from conveyor.model.syncoptions import PropagationPolicy
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.network.services import pod_is_ready
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import Selector
from support.rollout_helpers import HASH, act, key, rollout, served, status, versions
from support.runtime_helpers import make_app_repo, service, service_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.processes]

FAST = KubeletOptions(backoff_base=0.5, backoff_cap=2.0, image_retry_base=0.5)
TIMEOUT = 90.0


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> ArtifactStore:
    root = tmp_path_factory.mktemp("artifacts")
    repo, shas = make_app_repo(root, ["v1", "v2"])
    store = ArtifactStore(root / "store")

    async def build() -> None:
        for version, sha in zip(["v1", "v2"], shas, strict=True):
            await store.build("hello", source=str(repo), revision=sha, tag=version)

    asyncio.run(build())
    return store


@pytest.fixture
async def target(tmp_path: Path, artifacts: ArtifactStore) -> AsyncIterator[LocalTarget]:
    async with local_target(Settings.from_env(home=tmp_path / "home"), FAST, artifacts) as t:
        yield t


def named_service(name: str, app: str) -> dict[str, Any]:
    svc = service(name)
    svc["spec"]["selector"] = {"app": app}
    return svc


async def url(target: LocalTarget, svc: str) -> str:
    obj = await target.get(ObjectKey("", "Service", "default", svc))
    port = service_port(obj) if obj is not None else None
    assert port is not None, f"Service {svc} has no port"
    return f"http://127.0.0.1:{port}/"


async def reaches(target: LocalTarget, name: str, check: Any, what: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        current = await status(target, name)
        return current if check(current) else None

    result: dict[str, Any] = await wait_for(probe, timeout=TIMEOUT, what=what)
    return result


def weights(st: dict[str, Any]) -> tuple[int, int]:
    w = (st.get("canary") or {}).get("weights") or {}
    return int((w.get("stable") or {}).get("weight", -1)), int(
        (w.get("canary") or {}).get("weight", -1)
    )


def paused_at(index: int) -> Any:
    return lambda st: st.get("currentStepIndex") == index and bool(st.get("pauseConditions"))


async def ready_replicasets(target: LocalTarget, app: str) -> dict[str, int]:
    pods = await target.list(Selector(kind="Pod", labels={"app": app}))
    out: dict[str, int] = {}
    for pod in pods:
        if pod_is_ready(pod):
            rs = pod["metadata"]["labels"][HASH]
            out[rs] = out.get(rs, 0) + 1
    return out


async def replicas_of(target: LocalTarget, rs_hash: str) -> int:
    for rs in await target.list(Selector(kind="ReplicaSet")):
        if rs["metadata"]["labels"].get(HASH) == rs_hash:
            return int(rs["spec"]["replicas"])
    raise AssertionError(f"no ReplicaSet {rs_hash}")


CANARY = {
    "canaryService": "shop-canary",
    "stableService": "shop",
    "trafficRouting": {"nginx": {"stableIngress": "shop"}},
    "scaleDownDelaySeconds": 2,
}


async def deploy_stable(target: LocalTarget, strategy: dict[str, Any], *services: str) -> str:
    for svc in services:
        await target.apply(named_service(svc, "shop"))
    await target.apply(rollout("shop", "hello:v1", strategy))
    st = await reaches(
        target, "shop", lambda s: s.get("phase") == "Healthy" and s.get("stableRS"), "v1 Healthy"
    )
    return str(st["stableRS"])


async def test_canary_steps_traffic_by_weight_and_promotes(target: LocalTarget) -> None:
    steps = [{"setWeight": 20}, {"pause": {}}, {"pause": {"duration": "1s"}},
             {"setWeight": 50}, {"pause": {}}]  # fmt: skip
    strategy = {"canary": {**CANARY, "steps": steps}}
    stable = await deploy_stable(target, strategy, "shop", "shop-canary")
    await target.apply(rollout("shop", "hello:v2", strategy))
    st = await reaches(target, "shop", paused_at(1), "the pause after setWeight 20")
    canary = st["currentPodHash"]
    assert weights(st) == (80, 20) and st["phase"] == "Paused"
    await wait_for(lambda: _has(ready_replicasets(target, "shop"), canary), what="canary ready")
    shop = await url(target, "shop")
    before = served(target, "shop")
    assert await versions(shop, 100) == {"v1": 80, "v2": 20}
    after = served(target, "shop")
    assert {rs: n - before.get(rs, 0) for rs, n in after.items()} == {stable: 80, canary: 20}
    assert await versions(await url(target, "shop-canary"), 5) == {"v2": 5}
    svc = await target.get(ObjectKey("", "Service", "default", "shop"))
    assert svc is not None and svc["spec"]["selector"][HASH] == stable

    await act(target, "shop", "promote")  # the timed pause ends on its own, then setWeight 50
    st = await reaches(target, "shop", paused_at(4), "the pause after setWeight 50")
    assert weights(st) == (50, 50)
    await wait_for(lambda: _has(ready_replicasets(target, "shop"), canary, 1), what="canary")
    assert await versions(shop, 100) == {"v1": 50, "v2": 50}

    await act(target, "shop", "promote")
    st = await reaches(
        target, "shop", lambda s: s.get("stableRS") == canary and s["phase"] == "Healthy", "done"
    )
    assert await versions(shop, 10) == {"v2": 10}
    await wait_for(lambda: _zero(target, stable), timeout=TIMEOUT, what="old RS scaled down")
    reasons = [e.reason for e in await target.events(key("shop"))]
    assert "TrafficWeightUpdated" in reasons and "TrafficRoutingLocal" in reasons


async def test_abort_sends_traffic_back_to_stable_and_degrades(target: LocalTarget) -> None:
    strategy = {"canary": {**CANARY, "steps": [{"setWeight": 50}, {"pause": {}}]}}
    await deploy_stable(target, strategy, "shop", "shop-canary")
    await target.apply(rollout("shop", "hello:v2", strategy))
    st = await reaches(target, "shop", paused_at(1), "the pause at 50%")
    await wait_for(
        lambda: _has(ready_replicasets(target, "shop"), st["currentPodHash"]), what="canary"
    )
    shop = await url(target, "shop")
    assert await versions(shop, 10) == {"v1": 5, "v2": 5}
    await act(target, "shop", "abort")
    st = await reaches(target, "shop", lambda s: s.get("phase") == "Degraded", "Degraded")
    assert weights(st) == (100, 0)
    assert st["message"] == "RolloutAborted: Rollout aborted update to revision 2"
    assert st["currentStepIndex"] == 0
    assert await versions(shop, 10) == {"v1": 10}


async def test_blue_green_preview_then_active(target: LocalTarget) -> None:
    strategy = {
        "blueGreen": {
            "activeService": "shop-active",
            "previewService": "shop-preview",
            "autoPromotionEnabled": False,
            "scaleDownDelaySeconds": 2,
        }
    }
    blue = await deploy_stable(target, strategy, "shop-active", "shop-preview")
    active = await url(target, "shop-active")
    assert await versions(active, 4) == {"v1": 4}
    await target.apply(rollout("shop", "hello:v2", strategy))
    st = await reaches(target, "shop", lambda s: bool(s.get("pauseConditions")), "BlueGreenPause")
    green = st["currentPodHash"]
    assert green != blue and st["blueGreen"]["previewSelector"] == green
    preview = await url(target, "shop-preview")
    await wait_for(lambda: _all_v2(preview), timeout=TIMEOUT, what="green behind the preview")
    assert await versions(active, 6) == {"v1": 6}
    await act(target, "shop", "promote")
    st = await reaches(
        target, "shop", lambda s: s.get("stableRS") == green and s["phase"] == "Healthy", "done"
    )
    assert st["blueGreen"]["activeSelector"] == green
    assert await versions(active, 6) == {"v2": 6}
    await wait_for(lambda: _zero(target, blue), timeout=TIMEOUT, what="blue scaled down")


async def _has(counts: Any, rs: str, at_least: int = 1) -> bool:
    return int((await counts).get(rs, 0)) >= at_least


async def _zero(target: LocalTarget, rs: str) -> bool:
    return await replicas_of(target, rs) == 0


async def _all_v2(url_: str) -> bool:
    return await versions(url_, 4) == {"v2": 4}


JUDGE = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "judge", "namespace": "default"},
    "spec": {
        "args": [{"name": "canary-hash"}, {"name": "service"}],
        "metrics": [
            {
                "name": "errors",
                "initialDelay": "1h",  # nothing is measured while the test decides the phase
                "successCondition": "result[0] < 1",
                "provider": {
                    "prometheus": {
                        "address": "http://127.0.0.1:9",
                        "query": 'errors{service="{{args.service}}",rs="{{args.canary-hash}}"}',
                    }
                },
            }
        ],
    },
}


async def test_an_analysis_step_creates_its_run_and_a_failed_run_aborts(
    target: LocalTarget,
) -> None:
    analysis = {
        "templates": [{"templateName": "judge"}],
        "args": [
            {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": "service", "value": "shop"},
        ],
    }
    strategy = {"canary": {**CANARY, "steps": [{"setWeight": 50}, {"analysis": analysis}]}}
    await target.apply(JUDGE)
    await deploy_stable(target, strategy, "shop", "shop-canary")
    await target.apply(rollout("shop", "hello:v2", strategy))
    st = await reaches(
        target,
        "shop",
        lambda s: bool((s.get("canary") or {}).get("currentStepAnalysisRunStatus") or {}),
        "the analysis step's run",
    )
    name = st["canary"]["currentStepAnalysisRunStatus"]["name"]
    run_key = ObjectKey("argoproj.io", "AnalysisRun", "default", name)
    run = await target.get(run_key)
    assert run is not None
    assert run["spec"]["args"] == [
        {"name": "canary-hash", "value": st["currentPodHash"]},
        {"name": "service", "value": "shop"},
    ]
    assert [m["name"] for m in run["spec"]["metrics"]] == ["errors"]
    assert run["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    assert run["metadata"]["labels"]["rollout-type"] == "Step"
    # the AnalysisRun controller's verdict, set by hand
    await target.patch(
        run_key,
        {"status": {"phase": "Failed", "message": 'Metric "errors" assessed Failed'}},
        subresource="status",
    )
    st = await reaches(target, "shop", lambda s: s.get("phase") == "Degraded", "aborted")
    assert st["abort"] is True and weights(st) == (100, 0)
    assert 'Metric "errors" assessed Failed' in st["message"]
    assert await versions(await url(target, "shop"), 6) == {"v1": 6}


async def test_deleting_a_rollout_takes_its_weights_out_of_the_proxy(target: LocalTarget) -> None:
    strategy = {"canary": {**CANARY, "steps": [{"setWeight": 50}, {"pause": {}}]}}
    stable = await deploy_stable(target, strategy, "shop", "shop-canary")
    await target.apply(rollout("shop", "hello:v2", strategy))
    st = await reaches(target, "shop", paused_at(1), "the pause at 50%")
    canary = st["currentPodHash"]
    await wait_for(lambda: _has(ready_replicasets(target, "shop"), canary), what="canary ready")
    runtime = target.runtime
    assert runtime.services.weights("default", "shop") == {stable: 50, canary: 50}
    # orphaned: the ReplicaSets and their Pods stay, the stable Service still selects stable
    await target.delete(key("shop"), propagation_policy=PropagationPolicy.ORPHAN)
    assert runtime.services.weights("default", "shop") is None
    async with asyncio.timeout(TIMEOUT):
        await runtime.settle()  # the Service's endpoints follow its selector alone again
    assert await versions(await url(target, "shop"), 10) == {"v1": 10}


class Load:
    """Requests one after another to a URL: (start time, version answered or the error)."""

    def __init__(self, url_: str) -> None:
        self.url = url_
        self.answers: list[tuple[float, str]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(timeout=10.0) as client:
            while True:
                started = loop.time()
                try:
                    reply = await client.get(self.url)
                    said = str(reply.json()["version"]) if reply.status_code == 200 else ""
                    self.answers.append((started, said or f"HTTP {reply.status_code}"))
                except httpx.HTTPError as err:
                    self.answers.append((started, f"error {err!r}"))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def more(self, n: int, what: str) -> None:
        """Until ``n`` more requests were answered."""
        count = len(self.answers) + n

        async def enough() -> bool:
            return len(self.answers) >= count

        await wait_for(enough, timeout=TIMEOUT, what=what)

    def since(self, moment: float) -> dict[str, int]:
        out: dict[str, int] = {}
        for started, said in self.answers:
            if started >= moment:
                out[said] = out.get(said, 0) + 1
        return out


async def test_abort_and_retry_under_load(target: LocalTarget) -> None:
    strategy = {"canary": {**CANARY, "steps": [{"setWeight": 50}, {"pause": {}}]}}
    stable = await deploy_stable(target, strategy, "shop", "shop-canary")
    await target.apply(rollout("shop", "hello:v2", strategy))
    st = await reaches(target, "shop", paused_at(1), "the pause at 50%")
    canary = st["currentPodHash"]
    await wait_for(lambda: _has(ready_replicasets(target, "shop"), canary), what="canary ready")
    runtime, loop = target.runtime, asyncio.get_running_loop()
    load = Load(await url(target, "shop"))
    load.start()
    try:
        await load.more(40, "requests at 50%")
        assert load.since(0.0).keys() == {"v1", "v2"}

        await act(target, "shop", "abort")

        async def aborted() -> bool:  # the status says so and the proxy serves it
            current = await status(target, "shop")
            weighted = runtime.services.weights("default", "shop") or {}
            return bool(current.get("abort")) and weighted.get(canary) == 0

        await wait_for(aborted, timeout=TIMEOUT, what="the abort carried out")
        done = loop.time()
        await load.more(60, "requests after the abort")
        assert set(load.since(done)) == {"v1"}  # stable alone, from the abort on
        assert weights(await status(target, "shop")) == (100, 0)
        assert await replicas_of(target, canary) >= 1  # abortScaleDownDelaySeconds: still up

        await act(target, "shop", "retry")
        st = await reaches(target, "shop", paused_at(1), "the steps again after the retry")
        assert weights(st) == (50, 50) and not st.get("abort")
        assert runtime.services.weights("default", "shop") == {stable: 50, canary: 50}
        retried = loop.time()
        await load.more(60, "requests after the retry")
        after = load.since(retried)
        assert set(after) == {"v1", "v2"}, after  # the canary serves again, nothing failed
    finally:
        await load.stop()
    assert {said for _, said in load.answers} == {"v1", "v2"}  # no request failed
