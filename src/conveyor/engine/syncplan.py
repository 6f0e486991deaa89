"""Which objects a sync touches, and in what order: Argo CD's phases, waves and kinds.

Pure: from the desired objects (rendered from Git) and the live ones, the sync options and the
per-resource annotations, ``plan_sync`` lists the tasks, and ``groups`` cuts them into the
steps that run one after the other. Order is phase (PreSync, Sync, PostSync), then sync wave
(``argocd.argoproj.io/sync-wave``), then kind in Argo CD's order, then name; pruning comes at
the end of its wave, or after every wave with PruneLast. Each step waits until the one before
is healthy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from conveyor.model import synccommon
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.synccommon import (
    SYNC_PHASES,
    HookDeletePolicy,
    HookType,
    delete_policies,
    hook_types,
    is_hook,
    named_hook,
    runs_in,
)
from conveyor.model.syncoptions import SyncOptions

# The vocabulary's names, kept here for existing callers.
HOOK = synccommon.ANNOTATION_HOOK
HOOK_DELETE_POLICY = synccommon.ANNOTATION_HOOK_DELETE_POLICY
SYNC_WAVE = synccommon.ANNOTATION_SYNC_WAVE
SYNC_OPTIONS = synccommon.ANNOTATION_SYNC_OPTIONS
HELM_HOOK = synccommon.ANNOTATION_HELM_HOOK
PHASES: tuple[str, ...] = tuple(p.value for p in SYNC_PHASES)
annotations_of = synccommon.annotations_of
wave_of = synccommon.wave

__all__ = [
    "KIND_ORDER",
    "PHASES",
    "PlanOptions",
    "SyncTask",
    "delete_policies",
    "groups",
    "hook_types",
    "is_hook",
    "kept_on_app_delete",
    "plan_sync",
    "sync_fail_hooks",
    "wave_of",
]

# gitops-engine's kindOrder: what must exist first (namespaces, then config, then what uses it).
KIND_ORDER = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_KIND_RANK = {kind: n for n, kind in enumerate(KIND_ORDER)}

Action = Literal["apply", "prune", "hook"]


@dataclass(frozen=True)
class SyncTask:
    """One thing a sync does to one object."""

    phase: str
    wave: int
    key: ObjectKey
    action: Action
    desired: Object | None = None
    live: Object | None = None
    skip_reason: str | None = None
    """Set when the task is listed but not carried out (e.g. pruning disabled)."""
    prune_last: bool = False
    hook_type: str | None = None
    delete_policies: frozenset[HookDeletePolicy] = field(default_factory=frozenset)
    options: SyncOptions = field(default_factory=SyncOptions, compare=False)
    """The sync options for this object: the app's, overridden by its annotation."""

    @property
    def sort_key(self) -> tuple[int, int, int, int, int, str, str]:
        kind_rank = _KIND_RANK.get(self.key.kind, len(KIND_ORDER))
        if self.action == "prune":  # delete dependants first: reverse kind order
            kind_rank = -kind_rank
        return (
            PHASES.index(self.phase) if self.phase in PHASES else len(PHASES),
            1 if self.prune_last else 0,
            self.wave,
            1 if self.action == "prune" else 0,
            kind_rank,
            self.key.namespace,
            self.key.name,
        )


@dataclass(frozen=True)
class PlanOptions:
    """The sync's options that change which tasks there are."""

    prune: bool = False
    """Prune resources no longer in Git (``app sync --prune``, automated prune)."""
    selected: frozenset[ObjectKey] | None = None
    """Only these resources (``app sync --resource``); None for all."""
    sync: SyncOptions = field(default_factory=SyncOptions)
    """The operation's sync options (PruneLast, ApplyOutOfSyncOnly, Prune=false...)."""


def _prune_skip(options: PlanOptions, opts: SyncOptions) -> str | None:
    """Why a prune task is listed but not carried out, or None."""
    if not options.prune:
        return "ignored (requires pruning)"
    if opts.prune == "false":
        return "ignored (no prune: Prune=false)"
    if opts.prune == "confirm":
        return "ignored (Prune=confirm: confirming a prune is not supported; delete it by hand)"
    return None


def plan_sync(
    desired: Sequence[Object],
    live: dict[ObjectKey, Object],
    out_of_sync: set[ObjectKey],
    options: PlanOptions,
    *,
    namespace: str,
    naming: tuple[str, int] = ("", 0),
) -> list[SyncTask]:
    """Every task of a sync, sorted in the order they run (SyncFail hooks excluded).

    ``live`` holds the app's live objects by key; ``out_of_sync`` the keys the comparison found
    different; ``namespace`` is the destination namespace for objects that name none. Hooks
    run in the phases they name; Skip hooks and Helm hooks without a phase (``test``...) are
    never applied. A hook named by ``generateName`` gets its name for this sync from
    ``naming``, the sync's (revision, start in Unix seconds): see ``synccommon.named_hook``.
    """
    tasks: list[SyncTask] = []
    desired_keys: set[ObjectKey] = set()
    for obj in desired:
        opts = options.sync.for_resource(obj)
        if is_hook(obj) and options.selected is not None:
            continue  # a selective sync runs no hooks (Argo CD: "Hooks are not run")
        if is_hook(obj):
            for hook in sorted(runs_in(obj) - {HookType.SYNC_FAIL}):
                named = named_hook(obj, hook.value, *naming)
                key = ObjectKey.of(named, namespace)
                tasks.append(
                    SyncTask(
                        phase=hook.value,
                        wave=wave_of(obj),
                        key=key,
                        action="hook",
                        desired=named,
                        live=live.get(key),
                        hook_type=hook.value,
                        delete_policies=delete_policies(obj),
                        options=opts,
                    )
                )
            continue
        key = ObjectKey.of(obj, namespace)
        desired_keys.add(key)
        if options.selected is not None and key not in options.selected:
            continue
        if opts.apply_out_of_sync_only and key not in out_of_sync and key in live:
            continue
        tasks.append(
            SyncTask(phase="Sync", wave=wave_of(obj), key=key, action="apply", desired=obj,
                     live=live.get(key), options=opts)
        )  # fmt: skip
    for key, obj in live.items():
        if key in desired_keys or is_hook(obj):
            continue
        if options.selected is not None and key not in options.selected:
            continue
        opts = options.sync.for_resource(obj)
        tasks.append(
            SyncTask(phase="Sync", wave=wave_of(obj), key=key, action="prune", live=obj,
                     skip_reason=_prune_skip(options, opts), prune_last=opts.prune_last,
                     options=opts)
        )  # fmt: skip
    return sorted(tasks, key=lambda t: t.sort_key)


def sync_fail_hooks(
    desired: Iterable[Object],
    namespace: str,
    options: SyncOptions | None = None,
    naming: tuple[str, int] = ("", 0),
) -> list[SyncTask]:
    """The SyncFail hooks: run only when the sync fails."""
    out = []
    for raw in desired:
        if is_hook(raw) and HookType.SYNC_FAIL in hook_types(raw):
            obj = named_hook(raw, HookType.SYNC_FAIL.value, *naming)
            out.append(
                SyncTask(phase="SyncFail", wave=wave_of(obj), key=ObjectKey.of(obj, namespace),
                         action="hook", desired=obj, hook_type="SyncFail",
                         delete_policies=delete_policies(obj),
                         options=(options or SyncOptions()).for_resource(obj))
            )  # fmt: skip
    return sorted(out, key=lambda t: (t.wave, t.key.kind, t.key.name))


def kept_on_app_delete(obj: Object, options: SyncOptions) -> bool:
    """Whether deleting the app leaves ``obj`` in place (``Delete=false``; ``Delete=confirm``,
    since confirming is not supported, also keeps it)."""
    return options.for_resource(obj).delete != "true"


def groups(tasks: Sequence[SyncTask]) -> list[list[SyncTask]]:
    """Cut sorted tasks into steps: one per (phase, PruneLast, wave)."""
    out: list[list[SyncTask]] = []
    current: tuple[int, int, int] | None = None
    for task in tasks:
        step = task.sort_key[:3]
        if step != current:
            out.append([])
            current = step
        out[-1].append(task)
    return out
