"""Sync options as a user sees them: each one changes what the sync leaves on the target.

The executor runs against the local runtime's object store (see ``sync_fixture``): no
process, no git. Each test syncs, then reads what the target holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sync_fixture import NAMESPACE, Harness, harness

from conveyor.model.objects import ObjectKey


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async for item in harness(tmp_path):
        yield item


def configmap(name: str, data: dict[str, str], **notes: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if notes:
        meta["annotations"] = dict(notes)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def deployment(name: str, *, replicas: int = 1, image: str = "web:v1", app: str = "web") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def set_by_hand(h: Harness, kind: str, name: str, change: Any, group: str = "") -> None:
    """Another field manager (a person, an HPA) changes the live object."""
    h.runtime.store.update(ObjectKey(group, kind, NAMESPACE, name), change)


async def test_replace_drops_a_field_another_manager_set_and_apply_keeps_it(h: Harness) -> None:
    assert (await h.sync("web", [configmap("settings", {"a": "1"})])).phase == "Succeeded"
    set_by_hand(h, "ConfigMap", "settings", lambda o: o["data"].update(extra="by-hand"))

    await h.sync("web", [configmap("settings", {"a": "2"})])
    merged = h.get("ConfigMap", "settings")
    assert merged is not None and merged["data"] == {"a": "2", "extra": "by-hand"}

    outcome = await h.sync("web", [configmap("settings", {"a": "3"})], ["Replace=true"])
    assert outcome.phase == "Succeeded"
    replaced = h.get("ConfigMap", "settings")
    assert replaced is not None and replaced["data"] == {"a": "3"}
    assert replaced["metadata"]["uid"] == merged["metadata"]["uid"]  # replaced, not re-created


async def test_replace_on_one_resource_through_its_annotation(h: Harness) -> None:
    notes = {"argocd.argoproj.io/sync-options": "Replace=true"}
    await h.sync("web", [configmap("a", {"k": "1"}, **notes), configmap("b", {"k": "1"})])
    for name in ("a", "b"):
        set_by_hand(h, "ConfigMap", name, lambda o: o["data"].update(extra="x"))
    await h.sync("web", [configmap("a", {"k": "2"}, **notes), configmap("b", {"k": "2"})])
    assert h.get("ConfigMap", "a")["data"] == {"k": "2"}  # type: ignore[index]
    assert h.get("ConfigMap", "b")["data"] == {"k": "2", "extra": "x"}  # type: ignore[index]


async def test_force_recreates_an_object_whose_immutable_field_changed(h: Harness) -> None:
    await h.sync("web", [deployment("web", app="web")])
    before = h.get("Deployment", "web", "apps")
    assert before is not None

    refused = await h.sync("web", [deployment("web", app="web2")])
    assert refused.phase == "Failed" and "spec.selector is immutable" in refused.message

    forced = await h.sync("web", [deployment("web", app="web2")], ["Force=true", "Replace=true"])
    assert forced.phase == "Succeeded", forced.message
    after = h.get("Deployment", "web", "apps")
    assert after is not None and after["spec"]["selector"] == {"matchLabels": {"app": "web2"}}
    assert after["metadata"]["uid"] != before["metadata"]["uid"]


async def test_an_unknown_field_fails_the_sync_unless_validate_is_false(h: Harness) -> None:
    typo = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "date": {}}
    refused = await h.sync("web", [typo, configmap("other", {"k": "v"})])
    assert refused.phase == "Failed"
    assert 'unknown field "date"' in refused.message
    assert h.get("ConfigMap", "other") is None  # the dry run stopped everything

    typo["metadata"]["annotations"] = {"argocd.argoproj.io/sync-options": "Validate=false"}
    accepted = await h.sync("web", [typo])
    assert accepted.phase == "Succeeded", accepted.message
    assert h.get("ConfigMap", "cfg") is not None


async def test_an_unknown_container_field_is_refused_with_its_path(h: Harness) -> None:
    bad = deployment("web")
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    refused = await h.sync("web", [bad])
    assert 'unknown field "spec.template.spec.containers[0].imagePullPolicyy"' in refused.message
    assert (await h.sync("web", [bad], ["Validate=false"])).phase == "Succeeded"


def _with_replicaset(h: Harness) -> ObjectKey:
    """A live Deployment of app web and a ReplicaSet it owns (as its controller makes)."""
    owner = h.get("Deployment", "web", "apps")
    assert owner is not None
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-abc12",
            "namespace": NAMESPACE,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                 "uid": owner["metadata"]["uid"], "controller": True}
            ],
        },
        "spec": {"replicas": 1},
    }  # fmt: skip
    h.runtime.store.create(rs)
    return ObjectKey("apps", "ReplicaSet", NAMESPACE, "web-abc12")


async def test_orphan_propagation_prunes_the_deployment_and_leaves_its_replicasets(
    h: Harness,
) -> None:
    await h.sync("web", [deployment("web"), configmap("keep", {"k": "v"})])
    rs_key = _with_replicaset(h)

    outcome = await h.sync(
        "web", [configmap("keep", {"k": "v"})], ["PrunePropagationPolicy=orphan"]
    )
    assert outcome.phase == "Succeeded", outcome.message
    assert h.get("Deployment", "web", "apps") is None
    orphan = h.runtime.store.get(rs_key)
    assert orphan is not None and "ownerReferences" not in orphan["metadata"]


@pytest.mark.parametrize("policy", ["foreground", "background"])
async def test_other_propagation_policies_take_the_replicasets_along(
    h: Harness, policy: str
) -> None:
    await h.sync("web", [deployment("web"), configmap("keep", {"k": "v"})])
    rs_key = _with_replicaset(h)
    options = [f"PrunePropagationPolicy={policy}"]
    assert (await h.sync("web", [configmap("keep", {"k": "v"})], options)).phase == "Succeeded"
    assert h.get("Deployment", "web", "apps") is None
    assert h.runtime.store.get(rs_key) is None


async def test_respect_ignore_differences_keeps_the_replicas_an_autoscaler_set(
    h: Harness,
) -> None:
    ignore = [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]
    await h.sync("web", [deployment("web", replicas=2)], ignore_differences=ignore)
    set_by_hand(h, "Deployment", "web", lambda o: o["spec"].update(replicas=5), "apps")

    options = ["RespectIgnoreDifferences=true"]
    new = deployment("web", replicas=2, image="web:v2")
    outcome = await h.sync("web", [new], options, ignore_differences=ignore)
    assert outcome.phase == "Succeeded", outcome.message
    live = h.get("Deployment", "web", "apps")
    assert live is not None and live["spec"]["replicas"] == 5
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "web:v2"

    await h.sync("web", [new], ignore_differences=ignore)  # without the option: Git's value
    assert h.get("Deployment", "web", "apps")["spec"]["replicas"] == 2  # type: ignore[index]


async def test_respect_ignore_differences_with_a_jq_expression(h: Harness) -> None:
    ignore = [{"kind": "ConfigMap", "jqPathExpressions": [".data.token"]}]
    await h.sync("web", [configmap("cfg", {"token": "git", "k": "1"})], ignore_differences=ignore)
    set_by_hand(h, "ConfigMap", "cfg", lambda o: o["data"].update(token="rotated"))
    options = ["RespectIgnoreDifferences=true"]
    desired = [configmap("cfg", {"token": "git", "k": "2"})]
    await h.sync("web", desired, options, ignore_differences=ignore)
    assert h.get("ConfigMap", "cfg")["data"] == {"token": "rotated", "k": "2"}  # type: ignore[index]


async def test_fail_on_shared_resource_fails_with_argo_cds_message(h: Harness) -> None:
    await h.sync("web", [configmap("settings", {"owner": "web"})])

    outcome = await h.sync(
        "api", [configmap("settings", {"owner": "api"})], ["FailOnSharedResource=true"]
    )
    assert outcome.phase == "Failed"
    assert outcome.message == (
        "Shared resource found: ConfigMap/settings is part of applications api and web"
    )
    live = h.get("ConfigMap", "settings")
    assert live is not None and live["data"] == {"owner": "web"}  # untouched

    # Without the option the resource is still never taken over (issue 12): left as it is,
    # and the sync fails naming it.
    left = await h.sync("api", [configmap("settings", {"owner": "api"})])
    assert left.phase == "Failed"
    assert "ConfigMap/settings is part of application web" in left.message
    assert h.get("ConfigMap", "settings")["data"] == {"owner": "web"}  # type: ignore[index]


def widget(name: str, **notes: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if notes:
        meta["annotations"] = dict(notes)
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta, "spec": {}}


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"},
             "scope": "Namespaced"},
}  # fmt: skip


async def test_a_custom_resource_without_its_crd_fails_the_dry_run(h: Harness) -> None:
    outcome = await h.sync("web", [configmap("first", {"k": "v"}), widget("w")])
    assert outcome.phase == "Failed"
    assert "could not find the requested resource" in outcome.message
    assert h.get("ConfigMap", "first") is None  # nothing applied


async def test_a_crd_in_the_same_sync_skips_the_dry_run_of_its_resources(h: Harness) -> None:
    outcome = await h.sync("web", [widget("w"), WIDGET_CRD])
    assert outcome.phase == "Succeeded", outcome.message
    assert h.get("Widget", "w", "example.com") is not None


async def test_skip_dry_run_on_missing_resource_lets_earlier_waves_run(h: Harness) -> None:
    wave1 = {"argocd.argoproj.io/sync-wave": "1"}
    desired = [configmap("first", {"k": "v"}), widget("w", **wave1)]
    outcome = await h.sync("web", desired, ["SkipDryRunOnMissingResource=true"])
    # No dry run for the Widget: wave 0 is applied, then the Widget's apply meets the same
    # refusal an API server gives until something creates its CRD.
    assert outcome.phase == "Failed" and "could not find the requested resource" in outcome.message
    assert h.get("ConfigMap", "first") is not None

    h.runtime.store.apply(WIDGET_CRD)  # a controller creates the CRD, as gatekeeper does
    again = await h.sync("web", desired, ["SkipDryRunOnMissingResource=true"])
    assert again.phase == "Succeeded", again.message


async def test_prune_false_for_the_whole_app_keeps_everything(h: Harness) -> None:
    await h.sync("web", [configmap("a", {"k": "v"}), configmap("b", {"k": "v"})])
    outcome = await h.sync("web", [configmap("a", {"k": "v"})], ["Prune=false"])
    assert outcome.phase == "Succeeded"
    assert h.get("ConfigMap", "b") is not None
    skipped = [r for r in outcome.resources if r["name"] == "b"]
    assert skipped[0]["status"] == "PruneSkipped" and "Prune=false" in skipped[0]["message"]


async def test_prune_confirm_leaves_the_resource_and_says_why(h: Harness) -> None:
    await h.sync("web", [configmap("a", {"k": "v"}), configmap("b", {"k": "v"})])
    outcome = await h.sync("web", [configmap("a", {"k": "v"})], ["Prune=confirm"])
    assert h.get("ConfigMap", "b") is not None
    skipped = [r for r in outcome.resources if r["name"] == "b"]
    assert skipped[0]["status"] == "PruneSkipped" and "Prune=confirm" in skipped[0]["message"]


async def test_helm_test_hooks_are_never_applied_and_crd_install_is(h: Harness) -> None:
    test_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-test", "annotations": {"helm.sh/hook": "test"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "t", "image": "busybox"}]},
    }
    crd = {**WIDGET_CRD, "metadata": {**WIDGET_CRD["metadata"],  # type: ignore[dict-item]
                                      "annotations": {"helm.sh/hook": "crd-install"}}}  # fmt: skip
    outcome = await h.sync("web", [test_pod, crd, widget("w")])
    assert outcome.phase == "Succeeded", outcome.message
    assert h.get("Pod", "web-test") is None
    assert h.get("CustomResourceDefinition", "widgets.example.com", "apiextensions.k8s.io")
    assert h.get("Widget", "w", "example.com") is not None
