"""Carrying out the workload controllers' plans in the local runtime: Deployments, ReplicaSets
and Jobs, and the ReplicaSet changes a Rollout's plan shares with a Deployment's.

The controllers (``controllers``) only decide; the runtime's worker calls these steps with a
key, and they read the children the plan needs from the store and write what it says: new
objects, scales, annotations, deletions (through ``LocalRuntime.delete``, so dependants go as
Kubernetes' garbage collector would), the status, and when to look again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local import controllers
from conveyor.targets.local.kinds import POD, REPLICASET, identity

if TYPE_CHECKING:
    from conveyor.targets.local.runtime import LocalRuntime


def reconcile_deployment(runtime: LocalRuntime, key: ObjectKey, deployment: Object) -> None:
    """Plan the Deployment over its ReplicaSets and their Pods, then carry the plan out."""
    store = runtime.store
    replicasets = [
        o
        for o in store.children(deployment["metadata"]["uid"])
        if identity(ObjectKey.of(o)) == REPLICASET
    ]
    pods = [
        p
        for rs in replicasets
        for p in store.children(rs["metadata"]["uid"])
        if identity(ObjectKey.of(p)) == POD
    ]
    plan = controllers.plan_deployment(deployment, replicasets, pods, runtime.clock.now())
    apply_replicasets(
        runtime,
        key.namespace,
        create=plan.create,
        scale=plan.scale,
        annotate=plan.annotate,
        delete=plan.delete,
    )
    store.update_status(key, plan.status)
    if plan.requeue_after is not None:
        runtime.enqueue_after(key, plan.requeue_after)


def reconcile_owner_of_pods(
    runtime: LocalRuntime, key: ObjectKey, owner: Object, planner: Callable[..., Any]
) -> None:
    """A ReplicaSet or a Job: plan over its Pods (``planner``), create and delete Pods."""
    pods = [
        p
        for p in runtime.store.children(owner["metadata"]["uid"])
        if identity(ObjectKey.of(p)) == POD
    ]
    plan = planner(owner, pods, runtime.clock.now(), runtime.new_name)
    for pod in plan.create:
        runtime.store.create(pod)
    for name in plan.delete:
        runtime.delete(ObjectKey("", "Pod", key.namespace, name))
    runtime.store.update_status(key, plan.status)
    if plan.requeue_after is not None:
        runtime.enqueue_after(key, plan.requeue_after)


def apply_replicasets(
    runtime: LocalRuntime,
    namespace: str,
    *,
    create: tuple[Object, ...],
    scale: Mapping[str, int],
    annotate: Mapping[str, dict[str, str]],
    unannotate: Mapping[str, tuple[str, ...]] | None = None,
    delete: tuple[str, ...],
) -> None:
    """A plan's ReplicaSet changes, in order: create, scale, (un)annotate, delete."""
    store = runtime.store

    def rs(name: str) -> ObjectKey:
        return ObjectKey("apps", "ReplicaSet", namespace, name)

    unannotate = unannotate or {}
    for obj in create:
        store.create(obj)
    for name, replicas in scale.items():
        store.update(rs(name), _set_replicas(replicas))
    for name in [*annotate, *(n for n in unannotate if n not in annotate)]:
        store.update(rs(name), set_annotations(annotate.get(name, {}), unannotate.get(name, ())))
    for name in delete:
        runtime.delete(rs(name))


def _set_replicas(replicas: int) -> Callable[[Object], None]:
    def mutate(obj: Object) -> None:
        obj["spec"]["replicas"] = replicas

    return mutate


def set_annotations(notes: dict[str, str], removed: tuple[str, ...]) -> Callable[[Object], None]:
    """A store update that sets ``notes`` and removes ``removed`` from the annotations."""

    def mutate(obj: Object) -> None:
        annotations = obj["metadata"].setdefault("annotations", {})
        annotations.update(notes)
        for name in removed:
            annotations.pop(name, None)

    return mutate
