"""Which objects a sync touches and in what order: phase, wave, kind, name (Argo CD's order)."""

from __future__ import annotations

from typing import Any

import pytest
from sync_helpers import (
    HOOK,
    NAMESPACE,
    SYNC_OPTIONS,
    annotated,
    configmap,
    deployment,
    in_wave,
    job,
    key,
    namespace,
    plan_options,
    service,
    tracked,
)

from conveyor.engine.syncplan import SyncTask, groups, plan_sync, sync_fail_hooks
from conveyor.model.objects import Object, ObjectKey

HELM_HOOK = "helm.sh/hook"


def plan(
    desired: list[Object],
    live: list[Object] | None = None,
    out_of_sync: set[ObjectKey] | None = None,
    **options: Any,
) -> list[SyncTask]:
    live_objects = {ObjectKey.of(o): o for o in tracked(live or [])}
    return plan_sync(
        tracked(desired),
        live_objects,
        out_of_sync or set(),
        plan_options(**options),
        namespace=NAMESPACE,
    )


def steps(tasks: list[SyncTask]) -> list[list[str]]:
    """The plan as steps of ``action Kind/name``, the form people read it in."""
    return [[f"{t.action} {t.key.kind}/{t.key.name}" for t in step] for step in groups(tasks)]


def widget(name: str) -> Object:
    """An object of a custom kind: ranked after every built-in kind."""
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": NAMESPACE},
    }


def test_tasks_run_by_phase_then_wave_then_kind_then_name() -> None:
    desired = [
        job("smoke", "PostSync"),
        in_wave(configmap("late"), 2),
        widget("w"),
        deployment("web"),
        job("seed", "Sync"),
        service("web"),
        configmap("b"),
        configmap("a"),
        namespace("extra"),
        in_wave(configmap("first"), -1),
        job("migrate", "PreSync"),
    ]
    tasks = plan(desired)
    assert [(t.phase, t.wave) for t in tasks][:2] == [("PreSync", 0), ("Sync", -1)]
    assert steps(tasks) == [
        ["hook Job/migrate"],
        ["apply ConfigMap/first"],
        [
            "apply Namespace/extra",
            "apply ConfigMap/a",
            "apply ConfigMap/b",
            "apply Service/web",
            "apply Deployment/web",
            "hook Job/seed",
            "apply Widget/w",
        ],
        ["apply ConfigMap/late"],
        ["hook Job/smoke"],
    ]


def test_the_plan_does_not_depend_on_the_order_of_the_manifests() -> None:
    desired = [in_wave(configmap("z"), 1), configmap("m"), service("a"), job("p", "PreSync")]
    assert steps(plan(desired)) == steps(plan(list(reversed(desired))))


def test_a_hook_for_two_phases_runs_in_both() -> None:
    tasks = plan([job("check", "PreSync,PostSync"), configmap("a")])
    assert [(t.phase, t.action, t.key.name) for t in tasks] == [
        ("PreSync", "hook", "check"),
        ("Sync", "apply", "a"),
        ("PostSync", "hook", "check"),
    ]


def test_skip_and_sync_fail_hooks_are_never_applied_by_the_plan() -> None:
    desired = [job("cleanup", "SyncFail"), annotated(configmap("manual"), **{HOOK: "Skip"})]
    assert plan(desired) == []
    assert [(t.phase, t.key.name) for t in sync_fail_hooks(tracked(desired), NAMESPACE)] == [
        ("SyncFail", "cleanup")
    ]


def test_a_hook_left_on_the_target_is_not_pruned() -> None:
    assert plan([], live=[job("migrate", "PreSync")], prune=True) == []


def test_hooks_delete_before_creation_unless_told_otherwise() -> None:
    tasks = plan(
        [job("plain", "PreSync"), job("tidy", "PreSync", policy="HookSucceeded,HookFailed")]
    )
    assert {t.key.name: t.delete_policies for t in tasks} == {
        "plain": frozenset({"BeforeHookCreation"}),
        "tidy": frozenset({"HookSucceeded", "HookFailed"}),
    }


# -- Helm hooks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("helm", "phases"),
    [
        ("pre-install", ["PreSync"]),
        ("pre-upgrade", ["PreSync"]),
        ("post-install", ["PostSync"]),
        ("post-upgrade", ["PostSync"]),
        ("pre-install,post-install", ["PreSync", "PostSync"]),
    ],
    ids=["pre-install", "pre-upgrade", "post-install", "post-upgrade", "both"],
)
def test_helm_hooks_run_in_argo_cds_phases(helm: str, phases: list[str]) -> None:
    tasks = plan([annotated(job("migrate"), **{HELM_HOOK: helm}), configmap("a")])
    hooks = [t.phase for t in tasks if t.action == "hook"]
    assert hooks == phases


def test_a_helm_crd_install_hook_is_an_ordinary_resource() -> None:
    crd_install = annotated(configmap("crds"), **{HELM_HOOK: "crd-install"})
    assert steps(plan([crd_install])) == [["apply ConfigMap/crds"]]


def test_argo_cds_hook_annotation_wins_over_helms() -> None:
    both = annotated(job("migrate"), **{HELM_HOOK: "post-install", HOOK: "PreSync"})
    assert [t.phase for t in plan([both])] == ["PreSync"]


def test_helm_delete_policies_map_to_argo_cds() -> None:
    hook = annotated(
        job("migrate"),
        **{HELM_HOOK: "pre-install", "helm.sh/hook-delete-policy": "hook-succeeded"},
    )
    assert plan([hook])[0].delete_policies == frozenset({"HookSucceeded"})


# -- pruning -------------------------------------------------------------------------------


def test_pruning_ends_its_wave_deleting_dependants_first() -> None:
    desired = [configmap("a"), in_wave(configmap("b"), 1)]
    live = [
        configmap("a"),
        deployment("old-web"),
        configmap("old-config"),
        in_wave(service("old"), 1),
    ]
    assert steps(plan(desired, live, prune=True)) == [
        ["apply ConfigMap/a", "prune Deployment/old-web", "prune ConfigMap/old-config"],
        ["apply ConfigMap/b", "prune Service/old"],
    ]


def test_prune_last_prunes_after_every_wave() -> None:
    desired = [configmap("a"), in_wave(configmap("b"), 3)]
    live = [
        configmap("gone"),
        annotated(configmap("also-gone"), **{SYNC_OPTIONS: "PruneLast=true"}),
    ]
    assert steps(plan(desired, live, prune=True)) == [
        ["apply ConfigMap/a", "prune ConfigMap/gone"],
        ["apply ConfigMap/b"],
        ["prune ConfigMap/also-gone"],
    ]
    assert steps(plan(desired, live, prune=True, prune_last=True))[-1] == [
        "prune ConfigMap/also-gone",
        "prune ConfigMap/gone",
    ]


def test_objects_that_may_not_be_pruned_are_listed_with_the_reason() -> None:
    live = [configmap("gone"), annotated(configmap("kept"), **{SYNC_OPTIONS: "Prune=false"})]
    reasons = {t.key.name: t.skip_reason for t in plan([], live, prune=True)}
    assert reasons == {"gone": None, "kept": "ignored (no prune: Prune=false)"}
    reasons = {t.key.name: t.skip_reason for t in plan([], live, prune=False)}
    assert reasons == {
        "gone": "ignored (requires pruning)",
        "kept": "ignored (requires pruning)",
    }


# -- which objects ----------------------------------------------------------------------------


def test_apply_out_of_sync_only_skips_what_is_already_synced() -> None:
    desired = [configmap("same"), configmap("drifted"), configmap("new"), job("m", "PreSync")]
    live = [configmap("same"), configmap("drifted", {"k": "old"})]
    tasks = plan(desired, live, {key("ConfigMap", "drifted")}, apply_out_of_sync_only=True)
    assert steps(tasks) == [["hook Job/m"], ["apply ConfigMap/drifted", "apply ConfigMap/new"]]
    assert len(plan(desired, live, {key("ConfigMap", "drifted")})) == 4


def test_a_selective_sync_touches_only_the_selected_resources_and_runs_no_hooks() -> None:
    desired = [configmap("a"), configmap("b"), job("m", "PreSync"), job("s", "PostSync")]
    live = [configmap("gone"), configmap("also-gone")]
    selected = frozenset({key("ConfigMap", "b"), key("ConfigMap", "gone")})
    tasks = plan(desired, live, prune=True, selected=selected)
    assert steps(tasks) == [["apply ConfigMap/b", "prune ConfigMap/gone"]]


def test_objects_without_a_namespace_go_to_the_destination_namespace() -> None:
    bare = configmap("bare")
    del bare["metadata"]["namespace"]
    [task] = plan([bare])
    assert task.key == ObjectKey("", "ConfigMap", NAMESPACE, "bare")
