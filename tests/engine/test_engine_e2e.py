"""The GitOps engine end to end: real git repos, real artifacts, the local runtime.

Each test drives the engine through its own API (the controller) as the server will: a
commit is deployed, drift is reverted, objects leaving Git are pruned, rollback serves the
old version, waves and hooks run in order, one broken app does not stop another.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from engine_helpers import ConfigRepo, application, configmap, hook_job

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import engine, local_target
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.store import EngineStore, open_database
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.target import LocalTarget
from support.helm import needs_helm
from support.runtime_helpers import READY_PROBE, deployment, make_app_repo, service, service_port

pytestmark = pytest.mark.slow

FAST = KubeletOptions(backoff_base=0.5, backoff_cap=2.0, image_retry_base=0.5)
QUICK = ControllerOptions(poll_interval=1.0, self_heal_backoff=0.2, step_timeout=60.0)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> ArtifactStore:
    """hello:v1 and hello:v2, built once for the module."""
    root = tmp_path_factory.mktemp("artifacts")
    repo, shas = make_app_repo(root, ["v1", "v2"])
    store = ArtifactStore(root / "store")

    async def build() -> None:
        for version, sha in zip(["v1", "v2"], shas, strict=True):
            await store.build("hello", source=str(repo), revision=sha, tag=version)

    asyncio.run(build())
    return store


@dataclass
class Env:
    repo: ConfigRepo
    target: LocalTarget
    controller: Controller
    tmp: Path


@pytest.fixture
async def env(tmp_path: Path, artifacts: ArtifactStore) -> AsyncIterator[Env]:
    settings = Settings.from_env(home=tmp_path / "home")
    repo = ConfigRepo(tmp_path / "config")
    async with (
        local_target(settings, FAST, artifacts) as target,
        engine(settings, target, options=QUICK) as controller,
    ):
        yield Env(repo, target, controller, tmp_path)


async def wait_app(
    controller: Controller,
    name: str,
    check: Callable[[dict[str, Any]], bool],
    *,
    what: str,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Wait until the Application satisfies ``check``; fail naming ``what`` and its status."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    app = controller.application(name)
    while loop.time() < deadline:
        app = controller.application(name)
        if check(app):
            return app
        await controller.wait_changed(name, timeout=0.3)
    raise AssertionError(f"timed out waiting for {what}; status: {app.get('status')}")


def synced_healthy(app: dict[str, Any]) -> bool:
    status = app.get("status") or {}
    return (
        status.get("sync", {}).get("status") == "Synced"
        and status.get("health", {}).get("status") == "Healthy"
    )


def op_phase(app: dict[str, Any]) -> str:
    return str((app.get("status") or {}).get("operationState", {}).get("phase", ""))


def web_app(image: str, replicas: int = 2) -> list[dict[str, Any]]:
    return [
        deployment("hello", image, replicas=replicas, probes=READY_PROBE, namespace="demo"),
        service("hello", namespace="demo"),
    ]


async def version_served(target: LocalTarget) -> str | None:
    svc = await target.get(ObjectKey("", "Service", "demo", "hello"))
    port = service_port(svc) if svc else None
    if port is None:
        return None
    async with httpx.AsyncClient() as client:
        try:
            reply = await client.get(f"http://127.0.0.1:{port}/", timeout=2.0)
        except httpx.HTTPError:
            return None
    return str(reply.json()["version"]) if reply.status_code == 200 else None


async def wait_version(target: LocalTarget, version: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = None
    while loop.time() < deadline:
        seen = await version_served(target)
        if seen == version:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the Service never served {version}; last answer: {seen}")


async def test_a_commit_that_changes_the_image_is_synced_and_served(env: Env) -> None:
    env.repo.write("app/web.yaml", *web_app("hello:v1"))
    first = env.repo.commit("hello v1")
    await env.controller.apply_application(application("web", env.repo, "app"))
    app = await wait_app(env.controller, "web", synced_healthy, what="Synced and Healthy")
    assert app["status"]["sync"]["revision"] == first
    await wait_version(env.target, "v1")

    env.repo.write("app/web.yaml", *web_app("hello:v2"))
    second = env.repo.commit("hello v2")
    app = await wait_app(
        env.controller,
        "web",
        lambda a: synced_healthy(a) and a["status"]["sync"]["revision"] == second,
        what="the new commit synced",
    )
    await wait_version(env.target, "v2")
    history = await env.controller.history("web")
    assert [h["revision"] for h in history] == [first, second]
    assert history[-1]["initiatedBy"] == {"automated": True}
    assert app["status"]["summary"]["images"] == ["hello:v2"]
    assert app["status"]["summary"]["externalURLs"][0].startswith("http://127.0.0.1:")


@needs_helm
async def test_a_helm_chart_is_rendered_by_helm_synced_and_follows_its_values(env: Env) -> None:
    chart = web_app("hello:{{ .Values.tag }}")
    env.repo.write_text("chart/Chart.yaml", "apiVersion: v2\nname: hello\nversion: 0.1.0\n")
    env.repo.write_text("chart/values.yaml", "tag: v1\n")
    env.repo.write("chart/templates/web.yaml", *chart)
    env.repo.write_text("chart/values-dev.yaml", "tag: v1\n")
    env.repo.commit("chart")
    manifest = application("charted", env.repo, "chart")
    manifest["spec"]["source"]["helm"] = {"valueFiles": ["values-dev.yaml"]}
    await env.controller.apply_application(manifest)
    app = await wait_app(env.controller, "charted", synced_healthy, what="Synced and Healthy")
    assert app["status"]["sourceType"] == "Helm"
    await wait_version(env.target, "v1")

    env.repo.write_text("chart/values-dev.yaml", "tag: v2\n")  # the value file, not the chart
    bumped = env.repo.commit("dev runs v2")
    await wait_app(
        env.controller,
        "charted",
        lambda a: synced_healthy(a) and a["status"]["sync"]["revision"] == bumped,
        what="the values change synced",
    )
    await wait_version(env.target, "v2")


async def test_scaling_behind_conveyors_back_is_reverted_by_self_heal(env: Env) -> None:
    env.repo.write("app/web.yaml", *web_app("hello:v1", replicas=1))
    env.repo.commit()
    await env.controller.apply_application(application("web", env.repo, "app"))
    await wait_app(env.controller, "web", synced_healthy, what="Synced and Healthy")
    key = ObjectKey("apps", "Deployment", "demo", "hello")

    def scale(obj: dict[str, Any]) -> None:
        obj["spec"]["replicas"] = 3

    env.target.runtime.store.update(key, scale)  # another writer, as `kubectl scale` would

    async def replicas() -> int:
        obj = await env.target.get(key)
        assert obj is not None
        return int(obj["spec"]["replicas"])

    for _ in range(300):
        if await replicas() == 1:
            break
        await asyncio.sleep(0.1)
    assert await replicas() == 1
    app = await wait_app(env.controller, "web", synced_healthy, what="healed")
    assert app["status"]["operationState"]["operation"]["initiatedBy"] == {"automated": True}


async def test_objects_removed_from_git_are_pruned_unless_prune_false(env: Env) -> None:
    env.repo.write("app/a.yaml", configmap("a", {"k": "1"}))
    env.repo.write(
        "app/b.yaml",
        configmap("b", {"k": "1"}, **{"argocd.argoproj.io/sync-options": "Prune=false"}),
    )
    env.repo.write("app/c.yaml", configmap("c", {"k": "1"}))
    env.repo.commit()
    manifest = application(
        "cfg", env.repo, "app", options=("CreateNamespace=true", "PruneLast=true")
    )
    await env.controller.apply_application(manifest)
    await wait_app(env.controller, "cfg", synced_healthy, what="Synced")

    env.repo.remove("app/b.yaml")
    env.repo.remove("app/c.yaml")
    env.repo.write("app/d.yaml", configmap("d", {"k": "1"}))
    env.repo.commit("drop b and c, add d")
    app = await wait_app(
        env.controller,
        "cfg",
        lambda a: (
            op_phase(a) == "Succeeded"
            and {r["name"] for r in a["status"]["operationState"]["syncResult"]["resources"]}
            >= {"c", "d"}
        ),
        what="the prune sync",
    )
    get = env.target.get
    assert await get(ObjectKey("", "ConfigMap", "demo", "c")) is None
    assert await get(ObjectKey("", "ConfigMap", "demo", "b")) is not None  # Prune=false
    assert await get(ObjectKey("", "ConfigMap", "demo", "d")) is not None
    results = app["status"]["operationState"]["syncResult"]["resources"]
    order = [(r["name"], r["status"]) for r in results]
    assert order.index(("c", "Pruned")) > order.index(("d", "Synced"))  # PruneLast
    assert ("b", "PruneSkipped") in order
    app = await wait_app(
        env.controller,
        "cfg",
        lambda a: any(r.get("requiresPruning") for r in a["status"].get("resources", [])),
        what="b reported as requiring pruning",
    )
    assert app["status"]["sync"]["status"] == "OutOfSync"


async def test_rollback_serves_the_old_version_and_turns_automated_sync_off(env: Env) -> None:
    env.repo.write("app/web.yaml", *web_app("hello:v1", replicas=1))
    env.repo.commit("v1")
    await env.controller.apply_application(application("web", env.repo, "app"))
    await wait_app(env.controller, "web", synced_healthy, what="v1 synced")
    env.repo.write("app/web.yaml", *web_app("hello:v2", replicas=1))
    second = env.repo.commit("v2")
    await wait_app(
        env.controller,
        "web",
        lambda a: synced_healthy(a) and a["status"]["sync"]["revision"] == second,
        what="v2 synced",
    )
    await wait_version(env.target, "v2")

    result = await env.controller.rollback("web", 0)
    assert "automated sync was disabled" in result["message"]
    assert "automated" not in env.controller.application("web")["spec"]["syncPolicy"]
    await wait_app(env.controller, "web", lambda a: op_phase(a) == "Succeeded", what="rollback")
    await wait_version(env.target, "v1")
    app = await wait_app(
        env.controller,
        "web",
        lambda a: a["status"].get("sync", {}).get("status") == "OutOfSync",
        what="OutOfSync against Git after the rollback",
    )
    assert len(app["status"]["history"]) == 3


async def test_waves_and_hooks_run_in_order(env: Env) -> None:
    log = env.tmp / "order.log"
    env.repo.write("app/pre.yaml", hook_job("pre", "PreSync", f"echo pre >> {log}"))
    cm = configmap("config", {"k": "v"}, **{"argocd.argoproj.io/sync-wave": "-1"})
    env.repo.write("app/config.yaml", cm)
    worker = hook_job("worker", "Sync", f"echo wave1 >> {log}", wave=1)
    del worker["metadata"]["annotations"]["argocd.argoproj.io/hook"]  # an ordinary Job
    env.repo.write("app/worker.yaml", worker)
    env.repo.write(
        "app/post.yaml", hook_job("post", "PostSync", f"echo post >> {log}", policy="HookSucceeded")
    )
    for doc in ("pre", "worker", "post"):
        text = (env.repo.path / "app" / f"{doc}.yaml").read_text()
        (env.repo.path / "app" / f"{doc}.yaml").write_text(
            text.replace("image: ''", "image: hello:v1")
        )
    env.repo.commit()
    await env.controller.apply_application(application("jobs", env.repo, "app"))
    app = await wait_app(
        env.controller, "jobs", lambda a: op_phase(a) in ("Succeeded", "Failed"), what="the sync"
    )
    assert op_phase(app) == "Succeeded", app["status"]["operationState"]["message"]
    assert log.read_text().split() == ["pre", "wave1", "post"]
    hooks = {
        r["name"]: r.get("hookPhase")
        for r in app["status"]["operationState"]["syncResult"]["resources"]
        if r.get("hookType")
    }
    assert hooks == {"pre": "Succeeded", "post": "Succeeded"}
    # HookSucceeded deleted the PostSync Job; the PreSync one (BeforeHookCreation) remains.
    assert await env.target.get(ObjectKey("batch", "Job", "demo", "post")) is None
    assert await env.target.get(ObjectKey("batch", "Job", "demo", "pre")) is not None


async def test_a_broken_manifest_fails_one_app_and_the_other_keeps_syncing(env: Env) -> None:
    env.repo.write_text("broken/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n")
    env.repo.write("good/cm.yaml", configmap("good", {"k": "1"}))
    env.repo.commit()
    await env.controller.apply_application(application("broken", env.repo, "broken"))
    await env.controller.apply_application(application("good", env.repo, "good", namespace="other"))
    broken = await wait_app(
        env.controller,
        "broken",
        lambda a: any(c["type"] == "ComparisonError" for c in a["status"].get("conditions", [])),
        what="a ComparisonError",
    )
    message = next(
        c["message"] for c in broken["status"]["conditions"] if c["type"] == "ComparisonError"
    )
    assert re.search(r"bad\.yaml:\d+: YAML syntax error", message), message
    await wait_app(env.controller, "good", synced_healthy, what="the good app synced")
    env.repo.write("good/cm.yaml", configmap("good", {"k": "2"}))
    env.repo.commit()
    await wait_app(
        env.controller,
        "good",
        lambda a: synced_healthy(a) and len(a["status"].get("history", [])) == 2,
        what="the good app's second sync",
    )


async def test_kill_9_during_a_sync_then_restart_leaves_one_consistent_history(
    tmp_path: Path, artifacts: ArtifactStore
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    slow = hook_job("migrate", "PreSync", "sleep 4")
    slow["spec"]["template"]["spec"]["containers"][0]["image"] = "hello:v1"
    repo.write("app/hook.yaml", slow)
    repo.write("app/cm.yaml", configmap("settings", {"k": "1"}))
    revision = repo.commit()
    manifest = tmp_path / "app.json"
    manifest.write_text(json.dumps(application("crashy", repo, "app")))
    home = tmp_path / "home"
    script = Path(__file__).with_name("engine_process.py")
    args = [sys.executable, str(script), str(home), str(artifacts.root), str(manifest)]

    async def running_operation() -> list[Any]:
        async with await open_database(
            Settings(home, f"sqlite+aiosqlite:///{home}/conveyor.db")
        ) as db:
            return await EngineStore(db).running_operations()

    first = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(300):
            if (home / "conveyor.db").exists() and await running_operation():
                break
            await asyncio.sleep(0.1)
        assert await running_operation(), "the sync never started"
        await asyncio.sleep(1.0)  # the PreSync hook is running
    finally:
        first.kill()  # SIGKILL: no cleanup at all
        await first.wait()

    second = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL)
    try:
        settings = Settings(home, f"sqlite+aiosqlite:///{home}/conveyor.db")
        for _ in range(600):
            async with await open_database(settings) as db:
                store = EngineStore(db)
                last = await store.last_operation("crashy")
                if last is not None and last.phase not in ("Running", "Terminating"):
                    break
            await asyncio.sleep(0.1)
        async with await open_database(settings) as db:
            store = EngineStore(db)
            last = await store.last_operation("crashy")
            history = await store.history("crashy")
            assert await store.running_operations() == []
    finally:
        second.kill()
        await second.wait()
    assert last is not None and last.phase == "Succeeded", last
    assert [(h.revision, h.operation_id) for h in history] == [(revision, last.id)]


async def test_dry_run_changes_nothing_and_terminate_stops_a_running_sync(env: Env) -> None:
    slow = hook_job("migrate", "PreSync", "sleep 30")
    slow["spec"]["template"]["spec"]["containers"][0]["image"] = "hello:v1"
    env.repo.write("app/hook.yaml", slow)
    env.repo.write("app/cm.yaml", configmap("settings", {"k": "1"}))
    env.repo.commit()
    await env.controller.apply_application(application("manual", env.repo, "app", automated=False))
    await wait_app(
        env.controller,
        "manual",
        lambda a: a["status"].get("sync", {}).get("status") == "OutOfSync",
        what="OutOfSync",
    )
    await env.controller.sync("manual", dry_run=True)
    app = await wait_app(
        env.controller, "manual", lambda a: op_phase(a) == "Succeeded", what="dry run"
    )
    assert "dry run" in app["status"]["operationState"]["message"]
    assert await env.target.get(ObjectKey("", "ConfigMap", "demo", "settings")) is None
    assert await env.target.get(ObjectKey("batch", "Job", "demo", "migrate")) is None

    await env.controller.sync("manual")
    await wait_app(
        env.controller,
        "manual",
        lambda a: any(
            r.get("hookPhase") == "Running"
            for r in (a["status"]["operationState"].get("syncResult") or {}).get("resources", [])
        ),
        what="the PreSync hook running",
    )
    assert await env.controller.terminate("manual") is True
    app = await wait_app(
        env.controller, "manual", lambda a: op_phase(a) == "Failed", what="terminated"
    )
    assert app["status"]["operationState"]["message"] == "Operation terminated"
    assert await env.target.get(ObjectKey("", "ConfigMap", "demo", "settings")) is None
    assert await env.controller.history("manual") == []


async def test_a_failing_sync_is_retried_with_backoff(env: Env) -> None:
    failing = hook_job("check", "PreSync", "exit 3")
    failing["spec"]["template"]["spec"]["containers"][0]["image"] = "hello:v1"
    env.repo.write("app/hook.yaml", failing)
    env.repo.write("app/cm.yaml", configmap("settings", {"k": "1"}))
    env.repo.commit()
    manifest = application("retry", env.repo, "app")
    manifest["spec"]["syncPolicy"]["retry"] = {
        "limit": 1,
        "backoff": {"duration": "1s", "factor": 2, "maxDuration": "5s"},
    }
    await env.controller.apply_application(manifest)
    app = await wait_app(env.controller, "retry", lambda a: op_phase(a) == "Failed", what="failure")
    state = app["status"]["operationState"]
    assert state["retryCount"] == 1
    assert "check" in state["message"] and "failed" in state["message"]
    assert await env.controller.history("retry") == []


async def test_deleting_an_app_deletes_its_objects_unless_asked_not_to(env: Env) -> None:
    env.repo.write("one/cm.yaml", configmap("one", {"k": "1"}))
    env.repo.write("two/cm.yaml", configmap("two", {"k": "1"}))
    env.repo.commit()
    await env.controller.apply_application(application("one", env.repo, "one"))
    await env.controller.apply_application(application("two", env.repo, "two"))
    await wait_app(env.controller, "one", synced_healthy, what="one synced")
    await wait_app(env.controller, "two", synced_healthy, what="two synced")
    await env.controller.delete_application("one")
    await env.controller.delete_application("two", cascade=False)
    assert env.controller.names() == []
    assert await env.target.get(ObjectKey("", "ConfigMap", "demo", "one")) is None
    assert await env.target.get(ObjectKey("", "ConfigMap", "demo", "two")) is not None


async def test_a_push_notice_refreshes_only_the_apps_of_that_repo(env: Env) -> None:
    other = ConfigRepo(env.tmp / "other")
    other.write("app/cm.yaml", configmap("other", {"k": "1"}))
    other.commit()
    env.repo.write("app/cm.yaml", configmap("mine", {"k": "1"}))
    env.repo.commit()
    await env.controller.apply_application(application("mine", env.repo, "app"))
    await env.controller.apply_application(application("theirs", other, "app", namespace="x"))
    assert env.controller.notify_push(env.repo.url + ".git", "refs/heads/main") == ["mine"]
    assert env.controller.notify_push(env.repo.url, "refs/heads/feature") == []


async def test_automated_sync_never_empties_an_app_unless_allow_empty(env: Env) -> None:
    env.repo.write("app/cm.yaml", configmap("keep", {"k": "1"}))
    env.repo.write("other/.keep.txt", "")
    env.repo.commit()
    await env.controller.apply_application(application("guarded", env.repo, "app"))
    await wait_app(env.controller, "guarded", synced_healthy, what="synced")
    env.repo.remove("app/cm.yaml")
    env.repo.write_text("app/README.md", "nothing to deploy\n")
    emptied = env.repo.commit("remove everything")
    app = await wait_app(
        env.controller,
        "guarded",
        lambda a: a["status"]["sync"]["revision"] == emptied,
        what="the empty commit compared",
    )
    assert {
        "type": "SyncError",
        "message": f"Skipping sync attempt to {emptied}: auto-sync will wipe out all resources",
    }.items() <= next(
        c for c in app["status"]["conditions"] if c["type"] == "SyncError"
    ).items()  # the decision is shown, as Argo CD shows it
    # The reconcile that compared the empty commit decided against an automated sync; the next
    # one (a refresh: a git fetch and a compare) would have seen it launched, had it been.
    env.controller.refresh("guarded")
    await env.controller.settle()
    assert not env.controller.operation_running("guarded")
    assert env.controller.application("guarded")["status"]["sync"]["status"] == "OutOfSync"
    assert await env.target.get(ObjectKey("", "ConfigMap", "demo", "keep")) is not None

    manifest = application("guarded", env.repo, "app")
    manifest["spec"]["syncPolicy"]["automated"]["allowEmpty"] = True
    await env.controller.apply_application(manifest)
    app = await wait_app(env.controller, "guarded", synced_healthy, what="emptied with allowEmpty")
    assert app["status"]["resources"] == []
    assert await env.target.get(ObjectKey("", "ConfigMap", "demo", "keep")) is None
