"""ReplicaSet bookkeeping shared by the controllers that own ReplicaSets (Deployment, Rollout).

Kubernetes' Deployment controller and Argo Rollouts' Rollout controller keep their ReplicaSets
the same way, with different keys: one ReplicaSet per pod template, named after a hash of the
template and labelled with it (``pod-template-hash`` or ``rollouts-pod-template-hash``), a
revision annotation (max of the old ones + 1, with the history of a template that came back),
a controller owner reference, old ones deleted beyond ``revisionHistoryLimit`` once empty,
status counted from the Pods, and a progress deadline on the Progressing condition. Each rule
is a pure function or a small working view here, parameterised by ``Keys``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from conveyor.model.objects import Object
from conveyor.targets.local.controllers import common as c

_MAX_REVISION_HISTORY_CHARS = 2000


@dataclass(frozen=True)
class Keys:
    """The label and annotation keys one kind of owner writes on its ReplicaSets."""

    hash_label: str
    revision: str
    revision_history: str
    desired_replicas: str
    owner_api_version: str
    owner_kind: str


DEPLOYMENT_KEYS = Keys(
    hash_label=c.LABEL_POD_TEMPLATE_HASH,
    revision=c.ANN_REVISION,
    revision_history=c.ANN_REVISION_HISTORY,
    desired_replicas=c.ANN_DESIRED_REPLICAS,
    owner_api_version="apps/v1",
    owner_kind="Deployment",
)
ROLLOUT_KEYS = Keys(
    hash_label="rollouts-pod-template-hash",
    revision="rollout.argoproj.io/revision",
    revision_history="rollout.argoproj.io/revision-history",
    desired_replicas="rollout.argoproj.io/desired-replicas",
    owner_api_version="argoproj.io/v1alpha1",
    owner_kind="Rollout",
)


def pod_template_hash(
    template: dict[str, Any], collision_count: int | None = None, *, label: str
) -> str:
    """Kubernetes-style short hash of a pod template (fnv-1a 32, safe-encoded).

    The hash ``label`` itself is left out, so a ReplicaSet's template hashes like the
    owner's template it came from.
    """
    data = json.dumps(
        without_hash(template, label), sort_keys=True, separators=(",", ":"), default=str
    )
    raw = data.encode()
    if collision_count is not None:
        raw += (collision_count & 0xFFFFFFFF).to_bytes(8, "little")
    return c.safe_encode(str(c.fnv1a_32(raw)))


def without_hash(template: dict[str, Any], label: str) -> dict[str, Any]:
    """A copy of ``template`` without the hash ``label``."""
    clean = copy.deepcopy(template or {})
    labels = (clean.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(label, None)
    return clean


def template_of(rs: Object) -> dict[str, Any]:
    """``rs.spec.template`` (empty when missing)."""
    template = (rs.get("spec") or {}).get("template")
    return template if isinstance(template, dict) else {}


def int_or(value: Any, default: int) -> int:
    """``int(value)``, or ``default`` when it is not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass(eq=False)
class RSView:
    """A working view of one ReplicaSet while a plan is made (its scale may change)."""

    obj: Object
    replicas: int
    original: int | None  # spec.replicas as found; None for a ReplicaSet this plan creates
    annotations: dict[str, str]
    revision_key: str
    pods: list[Object] = field(default_factory=list)
    active: list[Object] = field(default_factory=list)
    available_pods: int = 0
    removed: set[str] = field(default_factory=set)  # annotations this plan takes away

    @property
    def name(self) -> str:
        return c.name_of(self.obj)

    @property
    def revision(self) -> int:
        return int_or(self.annotations.get(self.revision_key), 0)

    @property
    def available(self) -> int:
        """Available Pods this ReplicaSet keeps once it has converged on spec.replicas."""
        return min(self.replicas, self.available_pods)

    @property
    def ready_pods(self) -> int:
        return sum(1 for p in self.active if c.is_pod_ready(p))

    def label(self, key: str) -> str:
        return str((c.metadata(self.obj).get("labels") or {}).get(key) or "")

    def age_key(self) -> tuple[float, int, str]:
        created = c.creation_time(self.obj)
        return (created.timestamp() if created else 0.0, self.revision, self.name)


def views(
    owner: Object,
    replicasets: Iterable[Object],
    pods: list[Object],
    *,
    min_ready: int,
    now: datetime,
    revision_key: str,
) -> list[RSView]:
    """Views of the ReplicaSets ``owner`` controls (by uid), oldest first, with their Pods."""
    uid = c.uid_of(owner)
    out: list[RSView] = []
    for obj in replicasets:
        if not c.is_controlled_by(obj, uid):
            continue
        replicas = c.spec_int(obj.get("spec") or {}, "replicas", 1)
        annotations = dict(c.metadata(obj).get("annotations") or {})
        rs = RSView(obj, replicas, replicas, annotations, revision_key)
        rs.pods = [p for p in pods if c.is_controlled_by(p, c.uid_of(obj))]
        rs.active = [p for p in rs.pods if c.is_active(p)]
        rs.available_pods = sum(1 for p in rs.active if c.is_pod_available(p, min_ready, now))
        out.append(rs)
    out.sort(key=RSView.age_key)
    return out


def replica_counts(all_rs: Iterable[RSView], new: RSView | None) -> dict[str, int]:
    """The owner's status counts, from the Pods: replicas (active), updatedReplicas (active
    Pods of the new template), readyReplicas and availableReplicas."""
    all_rs = list(all_rs)
    return {
        "replicas": sum(len(rs.active) for rs in all_rs),
        "updatedReplicas": len(new.active) if new is not None else 0,
        "readyReplicas": sum(rs.ready_pods for rs in all_rs),
        "availableReplicas": sum(rs.available_pods for rs in all_rs),
    }


def find_new(all_rs: list[RSView], template: dict[str, Any], label: str) -> RSView | None:
    """FindNewReplicaSet: the oldest ReplicaSet whose template is ``template``."""
    wanted = without_hash(template, label)
    return next((rs for rs in all_rs if without_hash(template_of(rs.obj), label) == wanted), None)


def max_revision(replicasets: Iterable[RSView]) -> int:
    return max((rs.revision for rs in replicasets), default=0)


def new_replicaset(
    owner: Object,
    template: dict[str, Any],
    taken: set[str],
    collision_count: int | None,
    *,
    keys: Keys,
    min_ready: int,
) -> tuple[RSView, int | None]:
    """A ReplicaSet for ``template`` (at 0 replicas) and the collision count it needed.

    A name already taken by another template is a hash collision: the count goes up until
    the name is free, as Kubernetes does.
    """
    name = c.name_of(owner)
    pod_hash = pod_template_hash(template, collision_count, label=keys.hash_label)
    while f"{name}-{pod_hash}" in taken:
        collision_count = (collision_count or 0) + 1
        pod_hash = pod_template_hash(template, collision_count, label=keys.hash_label)
    rs_template = copy.deepcopy(template)
    rs_template.setdefault("metadata", {}).setdefault("labels", {})[keys.hash_label] = pod_hash
    selector = copy.deepcopy((owner.get("spec") or {}).get("selector") or {})
    selector.setdefault("matchLabels", {})[keys.hash_label] = pod_hash
    meta: dict[str, Any] = {
        "name": f"{name}-{pod_hash}",
        "labels": copy.deepcopy(rs_template["metadata"]["labels"]),
        "ownerReferences": [
            c.controller_reference(owner, api_version=keys.owner_api_version, kind=keys.owner_kind)
        ],
    }
    if c.metadata(owner).get("namespace"):
        meta["namespace"] = c.metadata(owner)["namespace"]
    spec = {
        "replicas": 0,
        "minReadySeconds": min_ready,
        "selector": selector,
        "template": rs_template,
    }
    obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta, "spec": spec}
    return RSView(obj, 0, None, {}, keys.revision), collision_count


def sync_revision(
    rs: RSView, owner: Object, new_revision: int, *, keys: Keys, not_copied: frozenset[str]
) -> None:
    """SetNewReplicaSetAnnotations: the owner's annotations, the revision and its history."""
    for key, value in (c.metadata(owner).get("annotations") or {}).items():
        if key not in not_copied:
            rs.annotations[key] = value
    old = rs.annotations.get(keys.revision)
    old_revision = int_or(old, -1 if old else 0)
    if 0 <= old_revision < new_revision:
        rs.annotations[keys.revision] = str(new_revision)
        if old is not None:  # a template came back: remember the revisions it had
            history = [r for r in rs.annotations.get(keys.revision_history, "").split(",") if r]
            history.append(old)
            while len(",".join(history)) > _MAX_REVISION_HISTORY_CHARS and len(history) > 1:
                history.pop(0)
            rs.annotations[keys.revision_history] = ",".join(history)


def history_to_delete(olds: Iterable[RSView], limit: int | None) -> list[str]:
    """Old ReplicaSets beyond ``limit`` that can go: oldest revision first, and only those at
    0 replicas, without Pods, whose status has caught up (None keeps all)."""
    if limit is None:
        return []
    cleanable = [rs for rs in olds if not c.is_terminating(rs.obj)]
    excess = len(cleanable) - limit
    if excess <= 0:
        return []
    out = []
    for rs in sorted(cleanable, key=lambda r: (r.revision, *r.age_key()))[:excess]:
        status = rs.obj.get("status") or {}
        generation = c.metadata(rs.obj).get("generation") or 0
        lagging = int(generation) > int(status.get("observedGeneration", generation))
        if (
            rs.replicas == 0
            and rs.original == 0
            and not rs.pods
            and not status.get("replicas")
            and not lagging
        ):
            out.append(rs.name)
    return out


@dataclass(frozen=True)
class Changes:
    """What a plan does to existing ReplicaSets, and the complete new ones."""

    create: tuple[Object, ...]
    scale: dict[str, int]
    annotate: dict[str, dict[str, str]]
    unannotate: dict[str, tuple[str, ...]]


def changes(all_rs: Iterable[RSView], created: Iterable[RSView]) -> Changes:
    """The difference between the views and the ReplicaSets as they were found."""
    scale: dict[str, int] = {}
    annotate: dict[str, dict[str, str]] = {}
    unannotate: dict[str, tuple[str, ...]] = {}
    for rs in all_rs:
        if rs.original is None:
            rs.obj["spec"]["replicas"] = rs.replicas
            rs.obj["metadata"]["annotations"] = dict(rs.annotations)
            continue
        if rs.replicas != rs.original:
            scale[rs.name] = rs.replicas
        before = c.metadata(rs.obj).get("annotations") or {}
        changed = {k: v for k, v in rs.annotations.items() if before.get(k) != v}
        if changed:
            annotate[rs.name] = changed
        gone = tuple(sorted(k for k in rs.removed if k in before and k not in rs.annotations))
        if gone:
            unannotate[rs.name] = gone
    return Changes(tuple(rs.obj for rs in created), scale, annotate, unannotate)


def ready_waits(all_rs: Iterable[RSView], min_ready: int, now: datetime) -> list[float | None]:
    """For every Ready Pod not yet available: seconds until it is (minReadySeconds)."""
    return [c.seconds_until_available(p, min_ready, now) for rs in all_rs for p in rs.active]


def timed_out(cond: dict[str, Any] | None, deadline: int | None, now: datetime) -> bool:
    """The Progressing condition was last updated longer than ``deadline`` seconds ago."""
    if cond is None or deadline is None:
        return False
    since = c.parse_time(cond.get("lastUpdateTime"))
    return since is not None and since + timedelta(seconds=deadline) < now


def seconds_until_deadline(
    cond: dict[str, Any] | None, deadline: int | None, now: datetime
) -> float | None:
    """When to look again for a progress deadline (one second past it), or None."""
    if cond is None or deadline is None:
        return None
    since = c.parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return None
    return max((since + timedelta(seconds=deadline) - now).total_seconds(), 0.0) + 1.0
