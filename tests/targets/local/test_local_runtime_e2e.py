"""The local runtime end to end: real artifacts, real processes, real Service listeners.

These are the issue's acceptance checks: replicas behind a Service, a rolling update under
load with no failed request and no lost capacity, restarts, probes, ImagePullBackOff with
Degraded health, Secret values kept out of logs, and state that survives a restart.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import local_target
from conveyor.health import assess
from conveyor.model.health import HealthStatus
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.network.services import pod_is_ready
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import Selector, WatchEvent
from support.runtime_helpers import (
    READY_PROBE,
    deployment,
    make_app_repo,
    service,
    service_port,
    wait_for,
)

pytestmark = pytest.mark.slow

FAST = KubeletOptions(backoff_base=0.5, backoff_cap=2.0, image_retry_base=0.5)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ArtifactStore, list[str]]:
    """One artifact store with hello:v1 and hello:v2 (built once for the module)."""
    root = tmp_path_factory.mktemp("artifacts")
    repo, shas = make_app_repo(root, ["v1", "v2"])
    store = ArtifactStore(root / "store")

    async def build() -> None:
        for version, sha in zip(["v1", "v2"], shas, strict=True):
            await store.build("hello", source=str(repo), revision=sha, tag=version)

    asyncio.run(build())
    return store, shas


@pytest.fixture
async def target(
    tmp_path: Path, artifacts: tuple[ArtifactStore, list[str]]
) -> AsyncIterator[LocalTarget]:
    settings = Settings.from_env(home=tmp_path / "home")
    async with local_target(settings, FAST, artifacts[0]) as t:
        yield t


async def get(
    target: LocalTarget, kind: str, name: str, group: str = "", ns: str = "default"
) -> dict[str, Any]:
    obj = await target.get(ObjectKey(group, kind, ns, name))
    assert obj is not None, f"{kind}/{name} not found"
    return obj


async def ready_pods(target: LocalTarget, app: str) -> list[dict[str, Any]]:
    pods = await target.list(Selector(kind="Pod", labels={"app": app}))
    return [p for p in pods if pod_is_ready(p)]


async def serving_port(target: LocalTarget, name: str) -> int:
    svc = await get(target, "Service", name)
    port = service_port(svc)
    assert port is not None
    return port


async def test_three_replicas_answer_through_the_service(target: LocalTarget) -> None:
    await target.apply(deployment("web", "hello:v1", replicas=3, probes=READY_PROBE))
    await target.apply(service("web"))
    await wait_for(lambda: _count(ready_pods(target, "web"), 3), what="3 ready pods")
    port = await serving_port(target, "web")
    seen = set()
    async with httpx.AsyncClient() as client:
        for _ in range(30):
            body = (await client.get(f"http://127.0.0.1:{port}/")).json()
            assert body["version"] == "v1"
            seen.add(body["pod"])
    assert len(seen) == 3
    dep = await get(target, "Deployment", "web", "apps")
    await wait_for(lambda: _healthy(target, "Deployment", "web", "apps"), what="Deployment Healthy")
    assert dep["status"]["replicas"] == 3


async def test_rolling_update_under_load_loses_no_request_and_keeps_capacity(
    target: LocalTarget,
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await target.apply(
        deployment("roll", "hello:v1", replicas=3, probes=READY_PROBE, strategy=strategy)
    )
    await target.apply(service("roll"))
    await wait_for(lambda: _count(ready_pods(target, "roll"), 3), what="3 ready pods")
    port = await serving_port(target, "roll")

    min_ready = 3
    watching = True

    async def watch_capacity() -> None:
        nonlocal min_ready
        async for _ in _events(target, Selector(kind="Pod", labels={"app": "roll"})):
            if not watching:
                return
            min_ready = min(min_ready, len(await ready_pods(target, "roll")))

    watcher = asyncio.create_task(watch_capacity())
    served: list[int] = [0]
    load = asyncio.create_task(
        _steady_load(port, rate=200, until=lambda: not watching, served=served)
    )

    async def served_at_least(count: int) -> bool:
        return served[0] >= count

    await wait_for(lambda: served_at_least(250), what="250 requests served before the update")
    await target.apply(
        deployment("roll", "hello:v2", replicas=3, probes=READY_PROBE, strategy=strategy)
    )
    await wait_for(
        lambda: _all_versions(target, "roll", port, "v2"), timeout=60, what="every pod serving v2"
    )
    await wait_for(
        lambda: _count(_pods(target, "roll"), 3, exact=True), timeout=30, what="old pods gone"
    )
    after = served[0] + 250
    await wait_for(lambda: served_at_least(after), what="250 requests served after the update")
    watching = False
    ok, failed = await load
    watcher.cancel()
    assert ok > 500
    assert failed == [], f"{len(failed)} failed requests during the update: {failed[:5]}"
    assert min_ready >= 3


async def test_killed_process_is_restarted_and_counted(target: LocalTarget) -> None:
    await target.apply(deployment("crash", "hello:v1", probes=READY_PROBE))
    [pod] = await wait_for(lambda: ready_pods(target, "crash"), what="a ready pod")
    pid = _pid_listening(target, pod)
    os.kill(pid, signal.SIGKILL)

    async def restarted() -> Any:
        current = await target.get(ObjectKey.of(pod))
        statuses = (current or {}).get("status", {}).get("containerStatuses") or [{}]
        return statuses[0].get("restartCount", 0) >= 1 and pod_is_ready(current or {}) and current

    current = await wait_for(restarted, what="restartCount 1 and Ready again")
    last = current["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert last["exitCode"] != 0


async def test_failing_liveness_probe_restarts_the_container(target: LocalTarget) -> None:
    probes = {
        **READY_PROBE,
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": "http"},
            "periodSeconds": 1,
            "failureThreshold": 2,
        },
    }
    env = [{"name": "FAIL_HEALTH_AFTER", "value": "2"}]
    await target.apply(deployment("sick", "hello:v1", probes=probes, env=env))
    [pod] = await wait_for(lambda: _pods(target, "sick"), what="a pod")

    async def restarted() -> bool:
        current = await target.get(ObjectKey.of(pod))
        statuses = (current or {}).get("status", {}).get("containerStatuses") or [{}]
        return bool(statuses[0].get("restartCount", 0) >= 1)

    await wait_for(restarted, timeout=30, what="a liveness restart")
    reasons = {e.reason for e in await target.events(ObjectKey.of(pod))}
    assert {"Unhealthy", "Killing"} <= reasons


async def test_failing_readiness_takes_the_pod_out_of_the_service(
    target: LocalTarget, tmp_path: Path
) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    env = [{"name": "NOT_READY_FILE", "value": f"{flags}/$(POD_NAME)"}]
    await target.apply(deployment("half", "hello:v1", replicas=2, probes=READY_PROBE, env=env))
    await target.apply(service("half"))
    pods = await wait_for(lambda: _count(ready_pods(target, "half"), 2), what="2 ready pods")
    sick, well = pods[0]["metadata"]["name"], pods[1]["metadata"]["name"]
    (flags / sick).touch()
    await wait_for(
        lambda: _count(ready_pods(target, "half"), 1, exact=True), what="one pod unready"
    )
    port = await serving_port(target, "half")
    async with httpx.AsyncClient() as client:
        served = {(await client.get(f"http://127.0.0.1:{port}/")).json()["pod"] for _ in range(20)}
    assert served == {well}
    pod = await get(target, "Pod", sick)
    assert pod["status"]["phase"] == "Running"


async def test_missing_image_backs_off_and_degrades_after_the_deadline(target: LocalTarget) -> None:
    await target.apply(deployment("ghost", "nothere:v1", progressDeadlineSeconds=2))

    async def backing_off() -> bool:
        pods = await _pods(target, "ghost")
        waiting = [
            cs.get("state", {}).get("waiting", {}).get("reason")
            for p in pods
            for cs in (p.get("status") or {}).get("containerStatuses") or []
        ]
        return "ImagePullBackOff" in waiting

    await wait_for(backing_off, what="ImagePullBackOff")
    await wait_for(
        lambda: _health_is(target, "Deployment", "ghost", "apps", HealthStatus.DEGRADED),
        timeout=20,
        what="Degraded health after progressDeadlineSeconds",
    )


async def test_secret_values_never_appear_in_logs(
    target: LocalTarget, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    value = "hunter2-very-secret-value"
    await target.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default"},
            "stringData": {"password": value},
        }
    )
    expected = tmp_path / "expected"
    expected.write_text(value)
    env = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}
    ]
    check = f'test "$DB_PASSWORD" = "$(cat {expected})"'
    probes = {"readinessProbe": {"exec": {"command": ["sh", "-c", check]}, "periodSeconds": 1}}
    await target.apply(deployment("secretive", "hello:v1", env=env, probes=probes))
    await wait_for(
        lambda: ready_pods(target, "secretive"), what="ready pod (the probe saw the value)"
    )
    await target.apply(
        deployment("secretive", "hello:v1", env=[*env, {"name": "X", "value": "1"}], probes=probes)
    )
    await wait_for(lambda: _count(ready_pods(target, "secretive"), 1, exact=True), what="rolled")
    captured = capfd.readouterr()
    texts = [captured.out, captured.err]
    texts += [f"{e.reason} {e.message}" for e in await target.events()]
    for path in (tmp_path / "home").rglob("*.log"):
        texts.append(path.read_text(errors="replace"))
    for text in texts:
        assert value not in text


async def test_state_survives_a_restart_of_conveyor(
    tmp_path: Path, artifacts: tuple[ArtifactStore, list[str]]
) -> None:
    settings = Settings.from_env(home=tmp_path / "home")
    async with local_target(settings, FAST, artifacts[0]) as first:
        await first.apply(deployment("again", "hello:v1", replicas=2, probes=READY_PROBE))
        await first.apply(service("again"))
        pods = await wait_for(lambda: _count(ready_pods(first, "again"), 2), what="2 ready pods")
        names = sorted(p["metadata"]["name"] for p in pods)
        port = await serving_port(first, "again")
    async with local_target(settings, FAST, artifacts[0]) as second:
        again = await wait_for(lambda: _count(ready_pods(second, "again"), 2), what="pods back")
        assert sorted(p["metadata"]["name"] for p in again) == names
        assert await serving_port(second, "again") == port
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).json()["version"] == "v1"


# -- helpers ---------------------------------------------------------------------------------


async def test_service_splits_by_replicaset_weight_and_measures_each(
    target: LocalTarget,
) -> None:
    # two Deployments behind one Service, as stable and canary: two pod-template-hashes
    for name, image in (("web-stable", "hello:v1"), ("web-canary", "hello:v2")):
        manifest = deployment(name, image, probes=READY_PROBE)
        manifest["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
        await target.apply(manifest)
    svc = service("web")
    svc["spec"]["selector"] = {"tier": "web"}
    await target.apply(svc)
    for name in ("web-stable", "web-canary"):
        await wait_for(lambda n=name: _count(ready_pods(target, n), 1), what=f"{name} ready")
    pods = [p for p in await target.list(Selector(kind="Pod")) if pod_is_ready(p)]
    hashes = {
        p["metadata"]["labels"]["app"]: p["metadata"]["labels"]["pod-template-hash"] for p in pods
    }
    stable, canary = hashes["web-stable"], hashes["web-canary"]
    url = f"http://127.0.0.1:{await serving_port(target, 'web')}/"

    async def both_served() -> bool:
        async with httpx.AsyncClient() as client:
            return {(await client.get(url)).json()["version"] for _ in range(6)} == {"v1", "v2"}

    await wait_for(both_served, what="both ReplicaSets behind the Service")

    def served() -> dict[str, int]:
        stats = target.runtime.service_stats("default", "web")
        return {rs: s.requests_by_class()["2xx"] for rs, s in stats.items()}

    before = served()
    target.runtime.set_weights("default", "web", {stable: 90, canary: 10})
    versions: dict[str, int] = {}
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            version = (await client.get(url)).json()["version"]
            versions[version] = versions.get(version, 0) + 1
    assert versions == {"v1": 90, "v2": 10}
    after = served()
    assert {rs: after[rs] - before.get(rs, 0) for rs in after} == {stable: 90, canary: 10}
    target.runtime.set_weights("default", "web", {stable: 0, canary: 100})
    async with httpx.AsyncClient() as client:
        for _ in range(5):
            assert (await client.get(url)).json()["version"] == "v2"


async def _count(pods_coro: Any, n: int, *, exact: bool = False) -> list[dict[str, Any]] | None:
    pods = await pods_coro
    ok = len(pods) == n if exact else len(pods) >= n
    return pods if ok else None


async def _pods(target: LocalTarget, app: str) -> list[dict[str, Any]]:
    return await target.list(Selector(kind="Pod", labels={"app": app}))


async def _health_is(
    target: LocalTarget, kind: str, name: str, group: str, status: HealthStatus
) -> bool:
    obj = await target.get(ObjectKey(group, kind, "default", name))
    return obj is not None and assess(obj).status == status


async def _healthy(target: LocalTarget, kind: str, name: str, group: str) -> bool:
    return await _health_is(target, kind, name, group, HealthStatus.HEALTHY)


async def _all_versions(target: LocalTarget, app: str, port: int, version: str) -> bool:
    async with httpx.AsyncClient() as client:
        seen = {
            (await client.get(f"http://127.0.0.1:{port}/")).json()["version"] for _ in range(12)
        }
    return seen == {version}


async def _events(target: LocalTarget, selector: Selector) -> AsyncIterator[WatchEvent]:
    async for event in target.watch(selector):
        yield event


async def _steady_load(
    port: int, *, rate: float, until: Any, served: list[int]
) -> tuple[int, list[str]]:
    """Send ``rate`` requests per second over keep-alive connections until ``until()``.

    ``served[0]`` counts the successful answers as they come, for the test to wait on.
    """
    ok = 0
    failed: list[str] = []
    interval = 1.0 / rate
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def one() -> None:
            nonlocal ok
            try:
                response = await client.get(f"http://127.0.0.1:{port}/")
                if response.status_code == 200:
                    ok += 1
                    served[0] = ok
                else:
                    failed.append(f"HTTP {response.status_code}")
            except httpx.HTTPError as err:
                failed.append(repr(err))

        tasks = set()
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not until():
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        if tasks:
            await asyncio.gather(*tasks)
    return ok, failed


def _pid_listening(target: LocalTarget, pod: dict[str, Any]) -> int:
    port = target.runtime.kubelet.host_port(ObjectKey.of(pod), "http")
    assert port is not None
    for conn in psutil.net_connections(kind="tcp"):
        if (
            conn.laddr
            and conn.laddr.port == port
            and conn.status == psutil.CONN_LISTEN
            and conn.pid
        ):
            return conn.pid
    raise AssertionError(f"no process listens on {port}")
