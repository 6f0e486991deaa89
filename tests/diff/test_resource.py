"""diff_object: status, reason and a lazily built unified YAML diff for one resource."""

from __future__ import annotations

from typing import Any

from conveyor.diff import MISSING_FROM_TARGET, NOT_IN_GIT, diff_object
from conveyor.model.objects import ObjectKey
from conveyor.model.status import SyncStatus


def test_replicas_change_is_out_of_sync_naming_the_field(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    live["spec"]["replicas"] = 5
    result = diff_object(desired, live, namespace="prod")
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert result.reason == "spec.replicas: 5 → 2"
    assert result.key == ObjectKey("apps", "Deployment", "prod", "web")
    assert not result.requires_pruning
    assert [str(d) for d in result.differences] == ["spec.replicas: 5 → 2"]


def test_unified_diff_is_yaml_from_live_to_desired(
    desired: dict[str, Any], live: dict[str, Any]
) -> None:
    live["spec"]["replicas"] = 5
    result = diff_object(desired, live, namespace="prod")
    assert "unified_diff" not in result.__dict__  # built only when asked
    text = result.unified_diff
    assert text.startswith(
        "--- live/Deployment.apps/prod/web\n+++ desired/Deployment.apps/prod/web"
    )
    assert "-  replicas: 5\n+  replicas: 2\n" in text
    assert "uid" not in text and "status" not in text


def test_several_differences_are_counted(desired: dict[str, Any], live: dict[str, Any]) -> None:
    live["spec"]["replicas"] = 5
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.local/web:old"
    result = diff_object(desired, live, namespace="prod")
    assert result.reason == "spec.replicas: 5 → 2 (and 1 more difference)"
    assert result.differences[1].path == "spec.template.spec.containers[name=web].image"


def test_synced_resource(desired: dict[str, Any], live: dict[str, Any]) -> None:
    result = diff_object(desired, live, namespace="prod")
    assert result.synced and result.reason == "matches Git"
    assert result.unified_diff == "" and result.differences == ()


def test_missing_live_object_is_out_of_sync(desired: dict[str, Any]) -> None:
    result = diff_object(desired, None, namespace="prod")
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert result.reason == MISSING_FROM_TARGET == "missing from the target"
    assert not result.requires_pruning
    assert result.normalized_live is None
    assert "+  replicas: 2" in result.unified_diff


def test_live_object_not_in_git_requires_pruning(live: dict[str, Any]) -> None:
    result = diff_object(None, live)
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert result.reason == NOT_IN_GIT == "not in Git; will be pruned"
    assert result.requires_pruning
    assert result.key.namespace == "prod"
    assert result.normalized_live is not None and "status" not in result.normalized_live


def test_label_keys_with_dots_are_quoted_in_paths() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"app.kubernetes.io/name": "a"}},
    }
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n", "labels": {"app.kubernetes.io/name": "b"}},
    }
    result = diff_object(desired, live, namespace="n")
    assert result.reason == 'metadata.labels["app.kubernetes.io/name"]: b → a'


def test_cluster_scoped_objects_have_no_namespace() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
    assert diff_object(ns, None, namespace="prod").key == ObjectKey("", "Namespace", "", "prod")
