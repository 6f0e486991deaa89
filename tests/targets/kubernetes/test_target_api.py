"""The Kubernetes target over HTTP: discovery, server-side apply, patch, delete, reads."""

from __future__ import annotations

import asyncio
import json

import pytest
from k8s_helpers import configmap, deployment

from conveyor.model import rollout_actions
from conveyor.model.objects import ObjectKey
from conveyor.model.syncoptions import PropagationPolicy
from conveyor.targets.kubernetes.errors import ApplyConflictError
from conveyor.targets.kubernetes.target import KubernetesTarget
from conveyor.targets.protocol import (
    STATUS_SUBRESOURCE,
    ApplyOptions,
    LogOptions,
    PatchType,
    Target,
    UnknownKindError,
)
from support.kube_api import KubeApiServer, Res


async def test_discovery_reads_scope_and_verbs_and_finds_a_new_crd_on_a_miss(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    assert isinstance(target, Target)
    deployments = await target.discovery.find("apps", "Deployment")
    assert (deployments.plural, deployments.namespaced) == ("deployments", True)
    assert {"patch", "watch"} <= deployments.verbs
    cluster_role = await target.discovery.find("rbac.authorization.k8s.io", "ClusterRole")
    assert cluster_role.namespaced is False
    with pytest.raises(UnknownKindError, match="CustomResourceDefinition installed"):
        await target.discovery.find("example.com", "Widget", "v1")
    api.serve(Res("example.com", "v1", "widgets", "Widget", namespaced=False))
    target.discovery._min_refresh = 0.0  # the next miss reads the list again at once
    widget = await target.discovery.find("example.com", "Widget", "v1")
    assert (widget.plural, widget.namespaced) == ("widgets", False)


async def test_apply_is_a_server_side_apply_patch_by_conveyor_without_force(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    stored = await target.apply(deployment("web"))
    request = api.kmock["patch"][-1]
    assert request.url.path == "/apis/apps/v1/namespaces/shop/deployments/web"
    assert request.headers["Content-Type"] == "application/apply-patch+yaml"
    assert dict(request.params) == {"fieldManager": "conveyor", "force": "false"}
    assert json.loads(request.body) == deployment("web")
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert stored["metadata"]["uid"] and stored["metadata"]["resourceVersion"]
    assert api.get("deployments", "shop", "web") is not None


async def test_a_dry_run_stores_nothing_and_validate_false_skips_it(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    await target.apply(configmap("settings"), ApplyOptions(dry_run=True))
    assert api.kmock["patch"][-1].params["dryRun"] == "All"
    assert api.get("configmaps", "shop", "settings") is None
    patches = len(api.kmock["patch"])
    result = await target.apply(configmap("settings"), ApplyOptions(dry_run=True, validate=False))
    assert result["metadata"]["name"] == "settings"
    assert len(api.kmock["patch"]) == patches  # no request at all


async def test_replace_puts_the_whole_object_and_creates_it_when_absent(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    await target.apply(configmap("settings", {"a": "1"}), ApplyOptions(replace=True))
    assert api.kmock["post"][-1].url.path == "/api/v1/namespaces/shop/configmaps"
    await target.apply(configmap("settings", {"b": "2"}), ApplyOptions(replace=True))
    put = api.kmock["put"][-1]
    assert put.url.path == "/api/v1/namespaces/shop/configmaps/settings"
    assert put.data["metadata"]["resourceVersion"]  # optimistic concurrency, as kubectl replace
    assert api.get("configmaps", "shop", "settings")["data"] == {"b": "2"}  # type: ignore[index]


@pytest.mark.parametrize(
    ("policy", "sent", "child_kept"),
    [
        (PropagationPolicy.FOREGROUND, "Foreground", False),
        (PropagationPolicy.ORPHAN, "Orphan", True),
    ],
    ids=["foreground", "orphan"],
)
async def test_delete_passes_the_propagation_policy(
    api: KubeApiServer,
    target: KubernetesTarget,
    policy: PropagationPolicy,
    sent: str,
    child_kept: bool,
) -> None:
    web = await target.apply(deployment("web"))
    child = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-1", "namespace": "shop", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
             "uid": web["metadata"]["uid"]}]},
    }  # fmt: skip
    await api.write(child, manager="kube-controller-manager")
    key = ObjectKey("apps", "Deployment", "shop", "web")
    assert await target.delete(key, propagation_policy=policy) is True
    assert api.deletes[-1] == ("/apis/apps/v1/namespaces/shop/deployments/web", sent)
    assert (api.get("replicasets", "shop", "web-1") is not None) is child_kept
    assert await target.delete(key) is False  # already gone


async def test_get_reads_the_server_and_answers_none_when_absent(
    target: KubernetesTarget,
) -> None:
    assert await target.get(ObjectKey("", "ConfigMap", "shop", "settings")) is None
    await target.apply(configmap("settings"))
    live = await target.get(ObjectKey("", "ConfigMap", "shop", "settings"))
    assert live is not None and live["data"] == {"k": "v"} and live["kind"] == "ConfigMap"


async def test_a_rollout_action_is_sent_as_kubectl_argo_rollouts_sends_it(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}},
    }  # fmt: skip
    await target.apply(rollout)
    await api.write({**rollout, "status": {"phase": "Progressing"}})
    patch = rollout_actions.abort(rollout)
    key = ObjectKey("argoproj.io", "Rollout", "shop", "web")
    stored = await target.patch(
        key, patch.status, subresource=STATUS_SUBRESOURCE, field_manager="argo-rollouts"
    )
    request = api.kmock["patch"][-1]
    assert request.url.path == "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web/status"
    assert request.headers["Content-Type"] == PatchType.MERGE.value
    assert request.params["fieldManager"] == "argo-rollouts"
    assert request.data == {"status": {"abort": True}} == {"status": patch.status["status"]}
    assert stored["status"]["abort"] is True


async def test_pod_logs_and_events_come_from_the_api(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    api.logs[("shop", "web-1")] = ["starting", "listening on :8080"]
    lines = [line async for line in target.logs("shop", "web-1", LogOptions(tail_lines=10))]
    assert lines == ["starting", "listening on :8080"]
    assert api.kmock["get"][-1].params["tailLines"] == "10"
    api.events.append({
        "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop",
                           "name": "web"},
        "reason": "ScalingReplicaSet", "message": "Scaled up replica set web-1 to 2",
        "type": "Normal", "count": 1,
    })  # fmt: skip
    events = await target.events(ObjectKey("apps", "Deployment", "shop", "web"))
    assert [(e.reason, e.involved.name) for e in events] == [("ScalingReplicaSet", "web")]
    request = api.kmock["get"][-1]
    assert request.url.path == "/api/v1/namespaces/shop/events"
    assert (
        request.params["fieldSelector"] == "involvedObject.kind=Deployment,involvedObject.name=web"
    )


async def test_fields_a_client_side_applier_owns_are_taken_over_before_applying(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    await api.write(configmap("settings", {"k": "1"}))
    api.own("configmaps", "shop", "settings", ".data.k", "kubectl-client-side-apply")
    with pytest.raises(ApplyConflictError, match="kubectl-client-side-apply"):
        await target.apply(
            configmap("settings", {"k": "2"}), ApplyOptions(client_side_apply_migration=False)
        )
    stored = await target.apply(configmap("settings", {"k": "2"}))
    assert stored["data"] == {"k": "2"}
    migration = next(
        r for r in api.kmock["patch"]
        if r.headers["Content-Type"] == PatchType.JSON.value
    )  # fmt: skip
    assert migration.data[0]["op"] == "test" and migration.data[0]["path"] == (
        "/metadata/resourceVersion"
    )
    managers = {
        (e["manager"], e["operation"])
        for e in api.get("configmaps", "shop", "settings")["metadata"]["managedFields"]  # type: ignore[index]
    }
    assert ("kubectl-client-side-apply", "Update") not in managers
    assert ("conveyor", "Apply") in managers


async def test_an_apply_waits_for_a_crd_applied_just_before_to_be_served(
    api: KubeApiServer, target: KubernetesTarget
) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w", "namespace": "shop"}}  # fmt: skip
    with pytest.raises(UnknownKindError):
        await target.apply(widget, ApplyOptions(dry_run=True))  # a dry run does not wait
    asyncio.get_running_loop().call_later(
        0.3, api.serve, Res("example.com", "v1", "widgets", "Widget")
    )
    stored = await target.apply(widget)
    assert stored["metadata"]["name"] == "w"
    assert api.get("widgets", "shop", "w") is not None
