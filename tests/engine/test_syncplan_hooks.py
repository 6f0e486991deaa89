"""The sync plan with Helm hooks and sync options: which tasks, in which order."""

from __future__ import annotations

from typing import Any

from conveyor.engine.syncplan import PlanOptions, plan_sync, sync_fail_hooks
from conveyor.model.objects import ObjectKey
from conveyor.model.syncoptions import SyncOptions


def obj(kind: str, name: str, api: str = "v1", **notes: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "demo"}
    if notes:
        meta["annotations"] = dict(notes)
    return {"apiVersion": api, "kind": kind, "metadata": meta}


def plan(desired: list[dict[str, Any]], live: dict[ObjectKey, Any] | None = None, **kw: Any):
    return plan_sync(desired, live or {}, set(), PlanOptions(**kw), namespace="demo")


def test_helm_hooks_run_in_argo_phases_ordered_by_hook_weight() -> None:
    desired = [
        obj("Job", "migrate", "batch/v1", **{"helm.sh/hook": "pre-install,pre-upgrade",
                                             "helm.sh/hook-weight": "5"}),
        obj("Job", "seed", "batch/v1", **{"helm.sh/hook": "pre-upgrade",
                                          "helm.sh/hook-weight": "-1"}),
        obj("Job", "smoke", "batch/v1", **{"helm.sh/hook": "post-install"}),
        obj("ConfigMap", "settings"),
    ]  # fmt: skip
    order = [(t.phase, t.key.name, t.action) for t in plan(desired)]
    assert order == [
        ("PreSync", "seed", "hook"),
        ("PreSync", "migrate", "hook"),
        ("Sync", "settings", "apply"),
        ("PostSync", "smoke", "hook"),
    ]


def test_helm_test_and_delete_hooks_get_no_task_and_are_never_pruned() -> None:
    test = obj("Pod", "web-test", **{"helm.sh/hook": "test"})
    cleanup = obj("Job", "cleanup", "batch/v1", **{"helm.sh/hook": "pre-delete"})
    live = {ObjectKey.of(test): test}
    assert plan([test, cleanup], live, prune=True) == []


def test_a_crd_install_crd_is_an_ordinary_resource() -> None:
    crd = obj("CustomResourceDefinition", "widgets.example.com", "apiextensions.k8s.io/v1",
              **{"helm.sh/hook": "crd-install"})  # fmt: skip
    crd["metadata"].pop("namespace")
    tasks = plan([crd])
    assert [(t.phase, t.action) for t in tasks] == [("Sync", "apply")]


def test_sync_fail_hooks_are_planned_apart() -> None:
    fail = obj("Job", "notify", "batch/v1", **{"argocd.argoproj.io/hook": "SyncFail"})
    assert plan([fail]) == []
    assert [t.key.name for t in sync_fail_hooks([fail], "demo")] == ["notify"]


def test_each_task_carries_its_resources_options() -> None:
    a = obj("ConfigMap", "a", **{"argocd.argoproj.io/sync-options": "Replace=true"})
    b = obj("ConfigMap", "b")
    tasks = {t.key.name: t for t in plan([a, b], sync=SyncOptions.parse(["Validate=false"]))}
    assert tasks["a"].options.replace and not tasks["b"].options.replace
    assert not tasks["a"].options.validate and not tasks["b"].options.validate


def test_prune_last_and_prune_false_given_for_the_app() -> None:
    old = obj("ConfigMap", "old")
    live = {ObjectKey.of(old): old}
    last = plan([], live, prune=True, sync=SyncOptions.parse(["PruneLast=true"]))
    assert last[0].prune_last and last[0].skip_reason is None
    kept = plan([], live, prune=True, sync=SyncOptions.parse(["Prune=false"]))
    assert kept[0].skip_reason == "ignored (no prune: Prune=false)"
