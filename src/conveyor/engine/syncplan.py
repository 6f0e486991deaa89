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

from conveyor.errors import ValidationError
from conveyor.model.objects import Object, ObjectKey

HOOK = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
HELM_HOOK = "helm.sh/hook"

PHASES = ("PreSync", "Sync", "PostSync")
HOOK_TYPES = frozenset({"PreSync", "Sync", "PostSync", "SyncFail", "Skip"})
_HELM_HOOKS = {
    "pre-install": "PreSync",
    "pre-upgrade": "PreSync",
    "post-install": "PostSync",
    "post-upgrade": "PostSync",
}

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


def annotations_of(obj: Object | None) -> dict[str, str]:
    """An object's annotations ({} when it has none)."""
    if obj is None:
        return {}
    found = (obj.get("metadata") or {}).get("annotations") or {}
    return found if isinstance(found, dict) else {}


def resource_sync_options(obj: Object | None) -> dict[str, str]:
    """``argocd.argoproj.io/sync-options: Prune=false,PruneLast=true`` as a dict."""
    raw = annotations_of(obj).get(SYNC_OPTIONS, "")
    out: dict[str, str] = {}
    for item in raw.split(","):
        key, sep, value = item.strip().partition("=")
        if sep and key:
            out[key.strip()] = value.strip()
    return out


def hook_types(obj: Object) -> frozenset[str]:
    """The hook phases an object is for (empty for ordinary resources)."""
    notes = annotations_of(obj)
    raw = notes.get(HOOK)
    if raw is not None and not isinstance(raw, str):
        raise ValidationError(f"annotation {HOOK} must be a string, not {raw!r}")
    if raw is not None:
        return frozenset(p.strip() for p in raw.split(",") if p.strip())
    helm = notes.get(HELM_HOOK)
    if helm is not None:
        return frozenset(
            _HELM_HOOKS[p.strip()] for p in helm.split(",") if p.strip() in _HELM_HOOKS
        )
    return frozenset()


def is_hook(obj: Object) -> bool:
    """Hooks are run by a sync, not kept in sync (and Skip means: never applied)."""
    return bool(hook_types(obj))


def wave_of(obj: Object | None) -> int:
    """The sync wave, 0 when unset; a malformed one is 0 as well (reported by validation)."""
    raw = annotations_of(obj).get(SYNC_WAVE, "0")
    try:
        return int(str(raw).strip())
    except ValueError:
        return 0


def delete_policies(obj: Object) -> frozenset[str]:
    """A hook's delete policies; BeforeHookCreation when none is given, as Argo CD does."""
    raw = annotations_of(obj).get(HOOK_DELETE_POLICY) or annotations_of(obj).get(
        "helm.sh/hook-delete-policy"
    )
    if not raw:
        return frozenset({"BeforeHookCreation"})
    mapping = {
        "hook-succeeded": "HookSucceeded",
        "hook-failed": "HookFailed",
        "before-hook-creation": "BeforeHookCreation",
    }
    return frozenset(mapping.get(p.strip(), p.strip()) for p in raw.split(",") if p.strip())


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
    delete_policies: frozenset[str] = field(default_factory=frozenset)

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
    prune_last: bool = False
    apply_out_of_sync_only: bool = False
    selected: frozenset[ObjectKey] | None = None
    """Only these resources (``app sync --resource``); None for all."""


def plan_sync(
    desired: Sequence[Object],
    live: dict[ObjectKey, Object],
    out_of_sync: set[ObjectKey],
    options: PlanOptions,
    *,
    namespace: str,
) -> list[SyncTask]:
    """Every task of a sync, sorted in the order they run (SyncFail hooks excluded).

    ``live`` holds the app's live objects by key; ``out_of_sync`` the keys the comparison found
    different; ``namespace`` is the destination namespace for objects that name none.
    """
    tasks: list[SyncTask] = []
    desired_keys: set[ObjectKey] = set()
    for obj in desired:
        key = ObjectKey.of(obj, namespace)
        hooks = hook_types(obj)
        if hooks and options.selected is not None:
            continue  # a selective sync runs no hooks (Argo CD: "Hooks are not run")
        if hooks:
            for hook in sorted(hooks & {"PreSync", "Sync", "PostSync"}):
                tasks.append(
                    SyncTask(
                        phase=hook,
                        wave=wave_of(obj),
                        key=key,
                        action="hook",
                        desired=obj,
                        live=live.get(key),
                        hook_type=hook,
                        delete_policies=delete_policies(obj),
                    )
                )
            continue
        desired_keys.add(key)
        if options.selected is not None and key not in options.selected:
            continue
        if options.apply_out_of_sync_only and key not in out_of_sync and key in live:
            continue
        tasks.append(
            SyncTask(phase="Sync", wave=wave_of(obj), key=key, action="apply", desired=obj,
                     live=live.get(key))
        )  # fmt: skip
    for key, obj in live.items():
        if key in desired_keys or is_hook(obj):
            continue
        if options.selected is not None and key not in options.selected:
            continue
        opts = resource_sync_options(obj)
        skip = None
        if not options.prune:
            skip = "ignored (requires pruning)"
        elif opts.get("Prune", "").lower() == "false":
            skip = "ignored (no prune: Prune=false)"
        prune_last = options.prune_last or opts.get("PruneLast", "").lower() == "true"
        tasks.append(
            SyncTask(phase="Sync", wave=wave_of(obj), key=key, action="prune", live=obj,
                     skip_reason=skip, prune_last=prune_last)
        )  # fmt: skip
    return sorted(tasks, key=lambda t: t.sort_key)


def sync_fail_hooks(desired: Iterable[Object], namespace: str) -> list[SyncTask]:
    """The SyncFail hooks: run only when the sync fails."""
    out = []
    for obj in desired:
        if "SyncFail" in hook_types(obj):
            out.append(
                SyncTask(phase="SyncFail", wave=wave_of(obj), key=ObjectKey.of(obj, namespace),
                         action="hook", desired=obj, hook_type="SyncFail",
                         delete_policies=delete_policies(obj))
            )  # fmt: skip
    return sorted(out, key=lambda t: (t.wave, t.key.kind, t.key.name))


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
