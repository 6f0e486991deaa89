"""The sync vocabulary, in one place: annotation keys, hook types, phases, result codes,
delete policies and the wave rule, as gitops-engine's ``sync/common`` and ``sync/hook`` have it.

diff (what is compared), health (how a Pod is judged), the sync plan (what runs when) and the
local runtime all read an object's annotations through this module, so they agree on what a
hook is. Helm hooks count as gitops-engine counts them: any ``helm.sh/hook`` makes an object a
hook except ``crd-install`` (Helm uses it to mark CRDs, which are ordinary resources);
``pre-install``/``pre-upgrade`` run in PreSync and ``post-install``/``post-upgrade`` in PostSync;
every other Helm hook (``test``, ``pre-delete``, ``post-rollback``...) has no Argo CD phase and
is never applied by a sync. An Argo CD hook annotation wins over Helm's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from conveyor.errors import ValidationError
from conveyor.model.objects import Object

# -- annotation keys ------------------------------------------------------------------------

# The hook type(s) of a resource, comma-separated: PreSync, Sync, PostSync, SyncFail, Skip.
ANNOTATION_HOOK = "argocd.argoproj.io/hook"
# When a hook is deleted, comma-separated: HookSucceeded, HookFailed, BeforeHookCreation.
ANNOTATION_HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
# The sync wave of a resource or hook (an integer, lower first; 0 when unset).
ANNOTATION_SYNC_WAVE = "argocd.argoproj.io/sync-wave"
# Per-resource sync options, comma-separated ``Key=value`` (Prune=false,Replace=true...).
ANNOTATION_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
# Per-resource compare options, comma-separated (IgnoreExtraneous).
ANNOTATION_COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"
# Judge a Running Pod by readiness whatever its restartPolicy (ignored on hook Pods).
ANNOTATION_IGNORE_RESTART_POLICY = "argocd.argoproj.io/ignore-restart-policy"
# Helm's hook annotation: pre-install, post-upgrade, test, crd-install...
ANNOTATION_HELM_HOOK = "helm.sh/hook"
# Helm's hook order; the wave of an object that has no argocd.argoproj.io/sync-wave.
ANNOTATION_HELM_HOOK_WEIGHT = "helm.sh/hook-weight"
# Helm's delete policies: before-hook-creation, hook-succeeded, hook-failed.
ANNOTATION_HELM_HOOK_DELETE_POLICY = "helm.sh/hook-delete-policy"

# The finalizer that holds a finished hook while the sync reads its result (not an annotation).
HOOK_FINALIZER = "argocd.argoproj.io/hook-finalizer"

# -- compare options --------------------------------------------------------------------------

# A live object not in Git that carries this compare option does not make the app OutOfSync.
COMPARE_OPTION_IGNORE_EXTRANEOUS = "IgnoreExtraneous"

# -- enumerations ----------------------------------------------------------------------------


class HookType(StrEnum):
    """The ``argocd.argoproj.io/hook`` annotation values: when a hook resource runs."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"  # only when the sync failed
    SKIP = "Skip"  # never applied


class SyncPhase(StrEnum):
    """The phases of a sync operation, in order (SyncFail only when a phase failed)."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"


# The phases a successful sync goes through, in order.
SYNC_PHASES: tuple[SyncPhase, ...] = (SyncPhase.PRE_SYNC, SyncPhase.SYNC, SyncPhase.POST_SYNC)


class ResultCode(StrEnum):
    """What a sync did to one resource."""

    SYNCED = "Synced"
    SYNC_FAILED = "SyncFailed"
    PRUNED = "Pruned"
    PRUNE_SKIPPED = "PruneSkipped"  # would be pruned, but pruning is off or deferred


class HookDeletePolicy(StrEnum):
    """When a hook object is deleted (``argocd.argoproj.io/hook-delete-policy``)."""

    HOOK_SUCCEEDED = "HookSucceeded"  # after it succeeded
    HOOK_FAILED = "HookFailed"  # after it failed
    BEFORE_HOOK_CREATION = "BeforeHookCreation"  # before the next sync creates it again (default)


class HelmHook(StrEnum):
    """``helm.sh/hook`` values that mean something to a sync."""

    PRE_INSTALL = "pre-install"
    PRE_UPGRADE = "pre-upgrade"
    POST_INSTALL = "post-install"
    POST_UPGRADE = "post-upgrade"
    CRD_INSTALL = "crd-install"  # marks a CRD: an ordinary resource, not a hook
    TEST = "test"  # ``helm test``: never applied by a sync
    TEST_SUCCESS = "test-success"  # Helm 2's name for test
    TEST_FAILURE = "test-failure"  # Helm 2: a test expected to fail


# Helm hooks that run in an Argo CD phase; any other Helm hook is never applied by a sync.
HELM_HOOK_PHASES: dict[str, HookType] = {
    HelmHook.PRE_INSTALL: HookType.PRE_SYNC,
    HelmHook.PRE_UPGRADE: HookType.PRE_SYNC,
    HelmHook.POST_INSTALL: HookType.POST_SYNC,
    HelmHook.POST_UPGRADE: HookType.POST_SYNC,
}
_HOOK_TYPE_NAMES = frozenset(t.value for t in HookType)
_DELETE_POLICY_NAMES = frozenset(p.value for p in HookDeletePolicy)
HELM_TEST_HOOKS = frozenset({HelmHook.TEST, HelmHook.TEST_SUCCESS, HelmHook.TEST_FAILURE})
_HELM_DELETE_POLICIES: dict[str, HookDeletePolicy] = {
    "before-hook-creation": HookDeletePolicy.BEFORE_HOOK_CREATION,
    "hook-succeeded": HookDeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": HookDeletePolicy.HOOK_FAILED,
}

# -- reading annotations ---------------------------------------------------------------------


def _raw_annotations(obj: Object | None) -> dict[str, Any]:
    if obj is None:
        return {}
    meta = obj.get("metadata")
    found = meta.get("annotations") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def annotations_of(obj: Object | None) -> dict[str, str]:
    """An object's annotations whose values are strings ({} when it has none)."""
    return {k: v for k, v in _raw_annotations(obj).items() if isinstance(v, str)}


def annotation(obj: Object | None, key: str) -> str | None:
    """The value of annotation ``key`` on ``obj``, or None."""
    return annotations_of(obj).get(key)


def csv(value: str | None) -> list[str]:
    """A comma-separated annotation value as trimmed, non-empty items."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def has_compare_option(obj: Object | None, option: str) -> bool:
    """Whether ``obj``'s compare-options annotation lists ``option``."""
    return option in csv(annotation(obj, ANNOTATION_COMPARE_OPTIONS))


# -- hooks -----------------------------------------------------------------------------------


def helm_hooks(obj: Object | None) -> list[str]:
    """The ``helm.sh/hook`` values of ``obj`` (empty when it has none)."""
    return csv(annotation(obj, ANNOTATION_HELM_HOOK))


def hook_types(obj: Object | None) -> frozenset[HookType]:
    """The hook types of ``obj``: Argo CD's annotation, else its Helm hooks mapped to phases.

    Unknown names are left out (``invalid_hook_types`` lists them for a warning). A Helm
    hook without an Argo CD phase (``test``, ``pre-delete``) gives no type: such an object is
    a hook that no sync applies.
    """
    argo = _raw_annotations(obj).get(ANNOTATION_HOOK)
    if argo is not None and not isinstance(argo, str):
        raise ValidationError(f"annotation {ANNOTATION_HOOK} must be a string, not {argo!r}")
    found = frozenset(HookType(t) for t in csv(argo) if t in _HOOK_TYPE_NAMES)
    if found:
        return found
    return frozenset(HELM_HOOK_PHASES[h] for h in helm_hooks(obj) if h in HELM_HOOK_PHASES)


def invalid_hook_types(obj: Object | None) -> list[str]:
    """Names in ``argocd.argoproj.io/hook`` that are not hook types (to report, not apply)."""
    return [t for t in csv(annotation(obj, ANNOTATION_HOOK)) if t not in _HOOK_TYPE_NAMES]


def is_hook(obj: Object | None) -> bool:
    """Whether a sync runs ``obj`` as a hook (or skips it) instead of keeping it in sync.

    True for any ``argocd.argoproj.io/hook`` annotation (Skip included: never applied, never
    compared) and for any ``helm.sh/hook`` but ``crd-install``. Hooks are not compared, do not
    count for the app's health and are never pruned.
    """
    notes = _raw_annotations(obj)
    if ANNOTATION_HOOK in notes:
        return True
    helm = notes.get(ANNOTATION_HELM_HOOK)
    return helm is not None and str(helm).strip() != HelmHook.CRD_INSTALL.value


def is_helm_test(obj: Object | None) -> bool:
    """A ``helm test`` hook: a sync never applies it."""
    return any(h in HELM_TEST_HOOKS for h in helm_hooks(obj))


def runs_in(obj: Object | None) -> frozenset[HookType]:
    """The phases a sync runs hook ``obj`` in (empty for a Skip or phase-less Helm hook)."""
    return hook_types(obj) - {HookType.SKIP}


def delete_policies(obj: Object | None) -> frozenset[HookDeletePolicy]:
    """A hook's delete policies (Argo CD's and Helm's); BeforeHookCreation when none is given."""
    found: set[HookDeletePolicy] = set()
    for name in csv(annotation(obj, ANNOTATION_HOOK_DELETE_POLICY)):
        if name in _DELETE_POLICY_NAMES:
            found.add(HookDeletePolicy(name))
    for name in csv(annotation(obj, ANNOTATION_HELM_HOOK_DELETE_POLICY)):
        if name in _HELM_DELETE_POLICIES:
            found.add(_HELM_DELETE_POLICIES[name])
    return frozenset(found) or frozenset({HookDeletePolicy.BEFORE_HOOK_CREATION})


# -- waves -----------------------------------------------------------------------------------


def wave(obj: Object | None) -> int:
    """The sync wave: ``argocd.argoproj.io/sync-wave``, else ``helm.sh/hook-weight``, else 0.

    A value that is not a whole number counts as unset, as in gitops-engine.
    """
    notes = annotations_of(obj)
    for key in (ANNOTATION_SYNC_WAVE, ANNOTATION_HELM_HOOK_WEIGHT):
        raw = notes.get(key)
        if raw is None:
            continue
        try:
            return int(raw.strip())
        except ValueError:
            continue
    return 0


def generate_name(obj: Object | None) -> str | None:
    """``metadata.generateName`` of an object that has no ``metadata.name``, else None."""
    meta = (obj or {}).get("metadata")
    if not isinstance(meta, dict) or meta.get("name"):
        return None
    prefix = meta.get("generateName")
    return prefix if isinstance(prefix, str) and prefix else None


def named_hook(obj: Object, phase: str, revision: str, started: int) -> Object:
    """A hook named by ``generateName``, given its name for one sync, as gitops-engine names
    it: the prefix, then the revision's first 7 characters, the phase and the sync's start
    (Unix seconds), lowercased (``migrate-1a2b3c4-presync-1733360000``). Other objects are
    returned as they are."""
    prefix = generate_name(obj)
    if prefix is None:
        return obj
    meta = dict(obj["metadata"])
    meta["name"] = f"{prefix}{revision[:7]}-{phase}-{started}".lower()
    return {**obj, "metadata": meta}
