"""diff_app: an application's objects paired by key, with its status and the reason."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import conveyor.diff
from conveyor.diff import AppDiff, diff_app
from conveyor.errors import ValidationError
from conveyor.model.merge import three_way_apply
from conveyor.model.objects import ObjectKey
from conveyor.model.status import SyncStatus


def config_map(name: str, namespace: str | None = None, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": name}}


def as_live(obj: dict[str, Any], namespace: str = "prod") -> dict[str, Any]:
    live = three_way_apply(None, obj)
    if obj["kind"] != "Namespace":
        live["metadata"]["namespace"] = namespace
    live["metadata"]["uid"] = f"uid-{obj['metadata']['name']}"
    return live


def job_hook(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
        "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "migrate"}]}}},
    }


def app_diff(desired: list[dict[str, Any]], live: list[dict[str, Any]], **kw: Any) -> AppDiff:
    return diff_app(desired, live, namespace="prod", **kw)


def test_everything_live_is_synced(desired: dict[str, Any], live: dict[str, Any]) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
    objs = [desired, config_map("a"), namespace]
    result = app_diff(objs, [live, as_live(config_map("a")), as_live(namespace)])
    assert result.status is SyncStatus.SYNCED
    assert result.reason == "3 resources match Git"
    assert [str(r.key) for r in result.resources] == [
        "ConfigMap/prod/a",
        "Namespace/prod",
        "Deployment.apps/prod/web",
    ]


def test_missing_live_object_makes_app_out_of_sync(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    result = app_diff([desired, config_map("a")], [live])
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert result.reason == "1 of 2 out of sync: ConfigMap/prod/a: missing from the target"
    [bad] = result.out_of_sync
    assert bad.key == ObjectKey("", "ConfigMap", "prod", "a")


def test_extra_live_object_requires_pruning(desired: dict[str, Any], live: dict[str, Any]) -> None:
    result = app_diff([desired], [live, as_live(config_map("old"))])
    assert result.status is SyncStatus.OUT_OF_SYNC
    [extra] = result.out_of_sync
    assert extra.requires_pruning and extra.reason == "not in Git; will be pruned"


def test_changed_object_reason_names_the_field(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    live["spec"]["replicas"] = 5
    result = app_diff([desired], [live])
    assert result.reason == "1 of 1 out of sync: Deployment.apps/prod/web: spec.replicas: 5 → 2"


def test_ignore_rules_apply_to_the_app(desired: dict[str, Any], live: dict[str, Any]) -> None:
    live["spec"]["replicas"] = 5
    rules = conveyor.diff.compile_ignore_rules(
        [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]
    )
    assert app_diff([desired], [live], ignore_rules=rules).status is SyncStatus.SYNCED


def test_hooks_are_excluded_from_sync_status(desired: dict[str, Any], live: dict[str, Any]) -> None:
    leftover = as_live(job_hook("old-migration"))
    result = app_diff([desired, job_hook("migrate")], [live, leftover])
    assert result.status is SyncStatus.SYNCED
    assert [str(k) for k in result.hooks] == [
        "Job.batch/prod/migrate",
        "Job.batch/prod/old-migration",
    ]
    assert all(r.key.kind != "Job" for r in result.resources)
    helm_hook = config_map("test", **{"helm.sh/hook": "test"})
    assert app_diff([desired, helm_hook], [live]).status is SyncStatus.SYNCED


def test_ignore_extraneous_does_not_affect_app_status(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    generated = as_live(
        config_map("generated", **{"argocd.argoproj.io/compare-options": "IgnoreExtraneous"})
    )
    result = app_diff([desired], [live, generated])
    assert result.status is SyncStatus.SYNCED
    [extra] = [r for r in result.resources if r.key.name == "generated"]
    assert extra.requires_pruning and not extra.affects_app_status
    assert "IgnoreExtraneous" in extra.reason


def test_children_of_live_objects_are_not_extraneous(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-5d8f",
            "namespace": "prod",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
        },
    }
    assert app_diff([desired], [live, replica_set]).status is SyncStatus.SYNCED


def test_unknown_when_live_state_cannot_be_read(desired: dict[str, Any]) -> None:
    result = app_diff([desired], [], live_error="connection refused")
    assert result.status is SyncStatus.UNKNOWN
    assert result.reason == "live state could not be read: connection refused"
    assert [r.status for r in result.resources] == [SyncStatus.UNKNOWN]


def test_namespaces_pair_desired_with_live() -> None:
    explicit = config_map("a", namespace="other")
    result = app_diff([config_map("a"), explicit], [as_live(config_map("a"))])
    assert [str(r.key) for r in result.out_of_sync] == ["ConfigMap/other/a"]


def test_repeated_resource_is_a_warning() -> None:
    result = app_diff([config_map("a"), config_map("a")], [as_live(config_map("a"))])
    assert result.warnings == (
        "ConfigMap/prod/a appears more than once in Git; the last one is used",
    )


def test_desired_object_without_name_is_an_error() -> None:
    with pytest.raises(
        ValidationError, match=r"desired object #2: .*metadata.name: field required"
    ):
        app_diff([config_map("a"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}], [])


def test_many_resources_reason_is_short() -> None:
    desired = [config_map(f"c{i}") for i in range(6)]
    result = app_diff(desired, [])
    assert result.reason.startswith(
        "6 of 6 out of sync: ConfigMap/prod/c0: missing from the target;"
    )
    assert result.reason.endswith("; and 3 more")


def test_no_resources_is_synced() -> None:
    assert app_diff([], []).status is SyncStatus.SYNCED


def test_input_objects_are_not_changed(desired: dict[str, Any], live: dict[str, Any]) -> None:
    before = copy.deepcopy((desired, live))
    live["spec"]["replicas"] = 3
    before[1]["spec"]["replicas"] = 3
    app_diff([desired], [live]).resources[0].unified_diff  # noqa: B018
    assert (desired, live) == before


def test_public_api_is_sorted_and_complete() -> None:
    assert conveyor.diff.__all__ == sorted(
        conveyor.diff.__all__, key=lambda n: (not n.isupper(), n)
    )
    for name in conveyor.diff.__all__:
        assert hasattr(conveyor.diff, name)
