"""What real Argo CD repositories contain works: kinds the local runtime only stores reach
Synced and stay there, a resource of another app is never taken over, pruned or deleted, and
hooks named by ``generateName`` run.

Real git repositories and the local runtime; nothing here runs a process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ConfigRepo, application, configmap

from conveyor.bootstrap import engine, local_target
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings

OPTIONS = ControllerOptions(poll_interval=1.0, self_heal_backoff=0.2, step_timeout=60.0)


@pytest.fixture
async def controller(tmp_path: Path) -> AsyncIterator[Controller]:
    settings = Settings.from_env(home=tmp_path / "home")
    async with local_target(settings) as target, engine(settings, target, options=OPTIONS) as c:
        yield c


async def status_where(
    controller: Controller, name: str, check: Any, what: str = ""
) -> dict[str, Any]:
    for _ in range(300):
        status = controller.application(name)["status"]
        if check(status):
            return status
        await controller.wait_reconciled(name, timeout=0.2)
    raise AssertionError(f"{what}: {controller.application(name)['status']}")


def synced(status: dict[str, Any]) -> bool:
    return (status.get("sync") or {}).get("status") == "Synced"


def succeeded(status: dict[str, Any]) -> bool:
    op = status.get("operationState") or {}
    return synced(status) and op.get("phase") == "Succeeded"


def conditions(status: dict[str, Any], kind: str) -> list[str]:
    return [c["message"] for c in status.get("conditions") or [] if c["type"] == kind]


def _obj(api_version: str, kind: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **fields}


STORED_ONLY = [
    _obj("v1", "ServiceAccount", "guestbook"),
    _obj("rbac.authorization.k8s.io/v1", "Role", "reader",
         rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
    _obj("rbac.authorization.k8s.io/v1", "RoleBinding", "reader",
         roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
         subjects=[{"kind": "ServiceAccount", "name": "guestbook"}]),
    _obj("networking.k8s.io/v1", "Ingress", "guestbook",
         spec={"rules": [{"host": "guestbook.example.com"}]}),
    _obj("networking.k8s.io/v1", "NetworkPolicy", "deny",
         spec={"podSelector": {}, "policyTypes": ["Ingress"]}),
    _obj("policy/v1", "PodDisruptionBudget", "guestbook",
         spec={"minAvailable": 1, "selector": {"matchLabels": {"app": "guestbook"}}}),
    _obj("autoscaling/v2", "HorizontalPodAutoscaler", "guestbook",
         spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                  "name": "guestbook"}, "minReplicas": 1, "maxReplicas": 3}),
    _obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com",
         spec={"group": "example.com", "scope": "Namespaced",
               "names": {"kind": "Widget", "plural": "widgets"},
               "versions": [{"name": "v1", "served": True, "storage": True}]}),
    _obj("example.com/v1", "Widget", "blue", spec={"colour": "blue"}),
]  # fmt: skip


async def test_kinds_the_runtime_only_stores_reach_synced_and_stay_synced(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/all.yaml", *STORED_ONLY)
    repo.commit()
    await controller.apply_application(application("stored", repo, "app"))
    await status_where(controller, "stored", succeeded, "the first sync")
    # Several reconciles later (selfHeal on), still Synced, and that one sync was the only one.
    for _ in range(3):
        controller.refresh("stored")
        await controller.wait_reconciled("stored", timeout=10)
    status = controller.application("stored")["status"]
    assert synced(status) and status["health"]["status"] == "Healthy"
    assert len(await controller.history("stored")) == 1
    events = await controller.target.events(ObjectKey("", "ServiceAccount", "demo", "guestbook"))
    assert [e.reason for e in events] == ["NoLocalBehaviour"]


async def test_a_resource_of_another_app_is_never_taken_over_pruned_or_deleted(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
              "stringData": {"password": "first"}}  # fmt: skip
    theirs = {**secret, "stringData": {"password": "second"}}
    repo.write("first/all.yaml", secret, configmap("first-only", {"k": "v"}))
    repo.write("second/all.yaml", theirs, configmap("second-only", {"k": "v"}))
    repo.commit()
    await controller.apply_application(application("first", repo, "first"))
    await status_where(controller, "first", succeeded, "first synced")
    key = ObjectKey("", "Secret", "demo", "db")
    owned = await controller.target.get(key)
    assert owned is not None

    await controller.apply_application(application("second", repo, "second"))
    status = await status_where(
        controller, "second", lambda s: (s.get("operationState") or {}).get("phase")
        in ("Succeeded", "Failed"), "second's sync",
    )  # fmt: skip
    assert conditions(status, "SharedResourceWarning") == [
        "Secret/db is part of applications second and first"
    ]
    live = await controller.target.get(key)
    assert live is not None
    assert live["metadata"]["labels"]["app.kubernetes.io/instance"] == "first"
    assert live["data"] == owned["data"]
    [result] = [r for r in status["operationState"]["syncResult"]["resources"] if r["name"] == "db"]
    assert "part of application first" in result["message"]

    await controller.delete_application("second")
    assert await controller.target.get(ObjectKey("", "ConfigMap", "demo", "second-only")) is None
    still = await controller.target.get(key)
    assert still is not None and still["data"] == owned["data"]
    first = controller.application("first")["status"]
    assert synced(first)


async def test_hooks_named_by_generate_name_run_under_a_new_name_each_sync(
    controller: Controller, tmp_path: Path
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    # Hooks of a kind that runs nothing are done once created: no image is needed here.
    before = configmap("", {"step": "before"}, **{"argocd.argoproj.io/hook": "PreSync"})
    del before["metadata"]["name"]
    before["metadata"]["generateName"] = "before-"
    after = configmap("", {"step": "after"}, **{"argocd.argoproj.io/hook": "PostSync"})
    del after["metadata"]["name"]
    after["metadata"]["generateName"] = "after-"
    repo.write("app/all.yaml", before, after, configmap("settings", {"k": "v"}))
    sha = repo.commit()
    await controller.apply_application(application("hooks", repo, "app", automated=False))
    status = await status_where(controller, "hooks", lambda s: s.get("sync"), "compared")
    assert status["sync"]["status"] == "OutOfSync"
    assert not conditions(status, "ComparisonError")

    await controller.sync("hooks")
    status = await status_where(controller, "hooks", succeeded, "the sync")
    hooks = {
        r["hookType"]: r["name"]
        for r in status["operationState"]["syncResult"]["resources"]
        if r.get("hookType")
    }
    assert hooks["PreSync"] == f"before-{sha[:7]}-presync-" + hooks["PreSync"].rsplit("-", 1)[1]
    assert hooks["PostSync"].startswith(f"after-{sha[:7]}-postsync-")
    assert await controller.target.get(ObjectKey("", "ConfigMap", "demo", hooks["PreSync"]))
    assert synced(controller.application("hooks")["status"])  # hooks are never compared
