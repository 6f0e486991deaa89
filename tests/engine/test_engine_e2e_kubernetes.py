"""The engine's end-to-end tests on the Kubernetes target, through an API server over HTTP.

The tests below are the local target's own (``test_engine_e2e``), imported unchanged: the
same flows and assertions (create and sync, prune with PruneLast and Prune=false, cascade
delete, automated sync that never empties an app, one broken app beside a good one), with
the engine talking to a Kubernetes API server (kmock on 127.0.0.1) through the Kubernetes
target instead of the local runtime. The tests of that module that need workloads running
as processes (serving HTTP, hooks as Jobs, kill -9) stay local-only.

Then what only a cluster does: a field changed behind Conveyor's back is healed by a new
server-side apply, and the API server's refusals show on the app.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kmock
import pytest
from engine_helpers import ConfigRepo, application, configmap
from test_engine_e2e import (
    QUICK,
    Env,
    op_phase,
    synced_healthy,
    test_a_broken_manifest_fails_one_app_and_the_other_keeps_syncing,
    test_a_push_notice_refreshes_only_the_apps_of_that_repo,
    test_automated_sync_never_empties_an_app_unless_allow_empty,
    test_deleting_an_app_deletes_its_objects_unless_asked_not_to,
    test_objects_removed_from_git_are_pruned_unless_prune_false,
    wait_app,
)

from conveyor.bootstrap import engine
from conveyor.settings import Settings
from conveyor.targets.kubernetes import destinations
from conveyor.targets.kubernetes.api import KubeApi
from conveyor.targets.kubernetes.credentials import ClusterCredentials
from conveyor.targets.kubernetes.target import KubernetesTarget
from support.kube_api import KubeApiServer, error

pytestmark = pytest.mark.slow

__all__ = [
    "test_a_broken_manifest_fails_one_app_and_the_other_keeps_syncing",
    "test_a_push_notice_refreshes_only_the_apps_of_that_repo",
    "test_automated_sync_never_empties_an_app_unless_allow_empty",
    "test_deleting_an_app_deletes_its_objects_unless_asked_not_to",
    "test_objects_removed_from_git_are_pruned_unless_prune_false",
]


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with kmock.KubernetesScaffold() as handler, kmock.Server(handler):
        yield KubeApiServer(handler)


@pytest.fixture
async def env(tmp_path: Path, api: KubeApiServer) -> AsyncIterator[Env]:
    settings = Settings.from_env(home=tmp_path / "home")
    repo = ConfigRepo(tmp_path / "config")
    credentials = ClusterCredentials("mock", str(api.kmock.url).rstrip("/"))
    target = KubernetesTarget(KubeApi(credentials))
    # As when Conveyor runs in a Pod of that cluster: https://kubernetes.default.svc is it.
    check = destinations.serves(credentials, lambda: [], lambda: credentials)
    await target.start()
    try:
        async with engine(settings, target, options=QUICK, destination_check=check) as controller:
            yield Env(repo, target, controller, tmp_path)  # type: ignore[arg-type]
    finally:
        await target.stop()


def condition_messages(app: dict[str, Any]) -> str:
    state = app["status"].get("operationState") or {}
    texts = [c.get("message", "") for c in app["status"].get("conditions", [])]
    texts.append(str(state.get("message", "")))
    texts += [
        str(r.get("message", "")) for r in (state.get("syncResult") or {}).get("resources", [])
    ]
    return "\n".join(texts)


async def test_a_field_changed_behind_conveyors_back_is_healed(
    env: Env, api: KubeApiServer
) -> None:
    env.repo.write("app/cm.yaml", configmap("settings", {"mode": "safe"}))
    env.repo.commit()
    await env.controller.apply_application(application("cfg", env.repo, "app"))
    await wait_app(env.controller, "cfg", synced_healthy, what="Synced and Healthy")
    live = api.get("configmaps", "demo", "settings")
    assert live is not None
    await api.write({**live, "data": {"mode": "unsafe"}})  # kubectl edit
    await wait_app(
        env.controller,
        "cfg",
        lambda a: (
            synced_healthy(a)
            and len(a["status"].get("history", [])) >= 1
            and a["status"]["operationState"]["operation"].get("initiatedBy") == {"automated": True}
            and api.get("configmaps", "demo", "settings")["data"] == {"mode": "safe"}
        ),  # type: ignore[index]
        what="healed",
    )
    applies = [r for r in api.kmock["patch"] if r.url.path.endswith("/configmaps/settings")]
    assert applies[-1].params["fieldManager"] == "conveyor"


@pytest.mark.parametrize(
    ("code", "reason", "message", "shown"),
    [
        (403, "Forbidden",
         'configmaps "settings" is forbidden: User "conveyor" cannot patch resource "configmaps"',
         "forbidden by the cluster's RBAC"),
        (422, "Invalid", 'ConfigMap "settings" is invalid', "refused the object as invalid"),
    ],
    ids=["403-rbac", "422-invalid"],
)  # fmt: skip
async def test_an_api_refusal_shows_on_the_app(
    env: Env, api: KubeApiServer, code: int, reason: str, message: str, shown: str
) -> None:
    path = re.compile(r"^/api/v1/namespaces/demo/configmaps/settings$")
    api.kmock["patch", path] << (lambda: error(code, reason, message))
    env.repo.write("app/cm.yaml", configmap("settings", {"k": "1"}))
    env.repo.commit()
    await env.controller.apply_application(application("cfg", env.repo, "app"))
    app = await wait_app(env.controller, "cfg", lambda a: op_phase(a) == "Failed", what="failed")
    text = condition_messages(app)
    assert shown in text and message in text, text


async def test_a_conflict_names_the_manager_that_owns_the_field(
    env: Env, api: KubeApiServer
) -> None:
    env.repo.write("app/cm.yaml", configmap("settings", {"k": "1"}))
    env.repo.commit()
    await env.controller.apply_application(application("cfg", env.repo, "app"))
    await wait_app(env.controller, "cfg", synced_healthy, what="Synced")
    api.own("configmaps", "demo", "settings", ".data.k", "helm")
    env.repo.write("app/cm.yaml", configmap("settings", {"k": "2"}))
    env.repo.commit()
    app = await wait_app(env.controller, "cfg", lambda a: op_phase(a) == "Failed", what="failed")
    text = condition_messages(app)
    assert ".data.k (owned by 'helm')" in text, text


async def test_an_app_for_another_cluster_is_refused_with_a_condition(
    env: Env, api: KubeApiServer
) -> None:
    env.repo.write("app/cm.yaml", configmap("settings", {"k": "1"}))
    env.repo.commit()
    manifest = application("elsewhere", env.repo, "app")
    manifest["spec"]["destination"] = {"name": "staging", "namespace": "demo"}
    await env.controller.apply_application(manifest)
    app = await wait_app(
        env.controller,
        "elsewhere",
        lambda a: any(c["type"] == "ComparisonError" for c in a["status"].get("conditions", [])),
        what="a ComparisonError",
    )
    assert "there are no clusters with this name: staging" in condition_messages(app)
    assert api.get("configmaps", "demo", "settings") is None


async def test_an_app_moved_from_argo_cd_keeps_its_objects_and_prunes_the_stale_one(
    env: Env, api: KubeApiServer
) -> None:
    for name in ("kept", "stale"):  # what Argo CD 3 left: annotation tracking, no label
        obj = {**configmap(name, {"k": "1"}), "metadata": {
            "name": name, "namespace": "demo",
            "annotations": {"argocd.argoproj.io/tracking-id": f"moved:/ConfigMap:demo/{name}"},
        }}  # fmt: skip
        await api.write(obj, manager="argocd-controller")
    uid = api.get("configmaps", "demo", "kept")["metadata"]["uid"]  # type: ignore[index]
    env.repo.write("app/cm.yaml", configmap("kept", {"k": "1"}))
    env.repo.commit()
    await env.controller.apply_application(application("moved", env.repo, "app"))
    await wait_app(
        env.controller,
        "moved",
        lambda a: synced_healthy(a) and api.get("configmaps", "demo", "stale") is None,
        what="Synced, the stale object pruned",
    )
    kept = api.get("configmaps", "demo", "kept")
    assert kept is not None and kept["metadata"]["uid"] == uid  # the same object, adopted
    assert kept["metadata"]["labels"]["app.kubernetes.io/instance"] == "moved"
