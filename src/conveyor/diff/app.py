"""Comparing a whole application: every desired object paired with its live object.

Objects are paired by (group, kind, namespace, name); a namespaced desired object without a
namespace goes to the application's destination namespace. The application is OutOfSync
when any resource is, with these exceptions, as in Argo CD:

- hooks (``argocd.argoproj.io/hook``, ``helm.sh/hook``) run during syncs and are not compared;
- a live object not in Git that is annotated ``compare-options: IgnoreExtraneous`` is
  reported (it would be pruned) but does not make the application OutOfSync;
- a live object controlled by another (a Deployment's ReplicaSets and Pods) is its child,
  not something Git forgot.

When live state could not be read, every resource and the application are Unknown.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from conveyor.diff.annotations import IGNORE_EXTRANEOUS, has_compare_option, is_hook
from conveyor.diff.normalize import Normalizer
from conveyor.diff.resource import ResourceDiff, diff_object
from conveyor.diff.scope import CLUSTER_SCOPED_KINDS, KeyTuple, key_tuple
from conveyor.errors import ValidationError
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.status import SyncStatus
from conveyor.model.synccommon import generate_name

_LISTED = 3  # resources named in the application's reason


@dataclass(frozen=True)
class AppDiff:
    """The comparison of one application: each resource's, and the verdict with its reason."""

    resources: tuple[ResourceDiff, ...]  # sorted by key; hooks left out
    status: SyncStatus
    reason: str
    hooks: tuple[ObjectKey, ...] = ()  # hook objects (desired or live), not compared
    warnings: tuple[str, ...] = ()  # e.g. the same resource twice in Git

    @property
    def out_of_sync(self) -> tuple[ResourceDiff, ...]:
        """The resources that make the application OutOfSync."""
        return tuple(r for r in self.resources if not r.synced and r.affects_app_status)


def diff_app(
    desired: Iterable[Object],
    live: Iterable[Object],
    *,
    namespace: str,
    ignore_rules: Sequence[Normalizer] = (),
    live_error: str | None = None,
    cluster_scoped: Collection[str] = CLUSTER_SCOPED_KINDS,
) -> AppDiff:
    """Compare an application's rendered objects with what its target reports.

    ``namespace`` is the destination namespace; ``live_error`` says why live state could not
    be read (then everything is Unknown). Raises ValidationError for a desired object that
    has no kind or name.
    """
    wanted, hooks, warnings = _index_desired(desired, namespace, cluster_scoped)
    if live_error is not None:
        return _unknown(wanted, hooks, warnings, live_error)
    found: dict[KeyTuple, Object] = {}
    for obj in live:
        key = key_tuple(obj, namespace, cluster_scoped)
        if key not in wanted and is_hook(obj):
            hooks.append(ObjectKey(*key))
        elif key in wanted or not _is_child(obj):
            found[key] = obj
    results = []
    for key, obj in wanted.items():
        live_obj = found.pop(key, None)
        results.append(diff_object(obj, live_obj, key=ObjectKey(*key), ignore_rules=ignore_rules))
    for key, obj in found.items():
        result = diff_object(None, obj, key=ObjectKey(*key))
        if has_compare_option(obj, IGNORE_EXTRANEOUS):
            result = replace(
                result,
                affects_app_status=False,
                reason=f"{result.reason} (IgnoreExtraneous: does not affect the app's status)",
            )
        results.append(result)
    results.sort(key=lambda r: (r.key.group, r.key.kind, r.key.namespace, r.key.name))
    status, reason = _verdict(results)
    return AppDiff(tuple(results), status, reason, tuple(sorted(set(hooks))), tuple(warnings))


def _index_desired(
    desired: Iterable[Object], namespace: str, cluster_scoped: Collection[str]
) -> tuple[dict[KeyTuple, Object], list[ObjectKey], list[str]]:
    wanted: dict[KeyTuple, Object] = {}
    hooks: list[ObjectKey] = []
    warnings: list[str] = []
    for index, obj in enumerate(desired):
        if is_hook(obj) and generate_name(obj) is not None:
            continue  # named per sync (``synccommon.named_hook``); hooks are not compared
        try:
            key = key_tuple(obj, namespace, cluster_scoped)
        except ValidationError as err:
            raise ValidationError(f"desired object #{index + 1}: {err}") from None
        if is_hook(obj):
            hooks.append(ObjectKey(*key))
            continue
        if key in wanted:
            name = ObjectKey(*key)
            warnings.append(f"{name} appears more than once in Git; the last one is used")
        wanted[key] = obj
    return wanted, hooks, warnings


def _unknown(
    wanted: dict[KeyTuple, Object], hooks: list[ObjectKey], warnings: list[str], error: str
) -> AppDiff:
    reason = f"live state could not be read: {error}"
    results = tuple(
        ResourceDiff(
            ObjectKey(*key), SyncStatus.UNKNOWN, reason, api_version=str(obj.get("apiVersion", ""))
        )
        for key, obj in sorted(wanted.items())
    )
    return AppDiff(results, SyncStatus.UNKNOWN, reason, tuple(sorted(set(hooks))), tuple(warnings))


def _verdict(results: list[ResourceDiff]) -> tuple[SyncStatus, str]:
    bad = [r for r in results if not r.synced and r.affects_app_status]
    if not bad:
        count = sum(1 for r in results if r.synced)
        noun = "resource matches" if count == 1 else "resources match"
        return SyncStatus.SYNCED, f"{count} {noun} Git"
    named = "; ".join(f"{r.key}: {r.reason}" for r in bad[:_LISTED])
    more = f"; and {len(bad) - _LISTED} more" if len(bad) > _LISTED else ""
    return SyncStatus.OUT_OF_SYNC, f"{len(bad)} of {len(results)} out of sync: {named}{more}"


def _is_child(obj: Object) -> bool:
    """Whether another object controls ``obj`` (its ownerReferences name a controller)."""
    meta = obj.get("metadata")
    refs = meta.get("ownerReferences") if isinstance(meta, dict) else None
    return isinstance(refs, list) and any(
        isinstance(ref, dict) and ref.get("controller") for ref in refs
    )
