"""What an app's sync options and annotations say that a person must see: warning conditions.

Nothing is accepted and ignored. Every sync option Argo CD documents is honoured by the sync
(``engine.sync``, ``engine.syncplan``) except those listed here as unsupported, which give a
``SyncOptionWarning`` condition naming the option and what happens instead. A malformed or
unknown per-resource option, and a hook annotation naming no hook type, are reported the same
way. A resource that another app already tracks gives Argo CD's ``SharedResourceWarning`` (and
fails the sync under ``FailOnSharedResource=true``, with Argo CD's message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from conveyor.model.objects import Object, ObjectKey
from conveyor.model.status import ConditionType
from conveyor.model.synccommon import (
    ANNOTATION_HOOK,
    ANNOTATION_HOOK_DELETE_POLICY,
    annotation,
    csv,
    invalid_hook_types,
    is_hook,
)
from conveyor.model.syncoptions import SyncOption, SyncOptions
from conveyor.targets.protocol import TRACKING_LABEL

Lookup = Callable[[ObjectKey], Object | None]
"""The live object under a key, whichever app tracks it (``LiveState.get``)."""

_NO_CONFIRMATION: dict[tuple[str, str], str] = {
    (SyncOption.PRUNE, "confirm"): (
        "Prune=confirm is not supported (there is no confirmation step): resources that "
        "would be pruned are left in place; delete them by hand or use Prune=true"
    ),
    (SyncOption.DELETE, "confirm"): (
        "Delete=confirm is not supported (there is no confirmation step): deleting the "
        "application leaves these resources in place, as Delete=false does"
    ),
}

# Options the target cannot honour, with what happens instead (value given -> message).
_UNSUPPORTED: dict[tuple[str, str], str] = {
    (SyncOption.SERVER_SIDE_APPLY, "true"): (
        "ServerSideApply=true is not supported on the local runtime: resources are applied "
        "client-side (three-way merge with the last-applied configuration)"
    ),
    (SyncOption.CLIENT_SIDE_APPLY_MIGRATION, "false"): (
        "ClientSideApplyMigration=false has no effect: the local runtime does not do "
        "server-side apply, so there are no fields to migrate"
    ),
    **_NO_CONFIRMATION,
}

# On a target that applies server-side (a Kubernetes cluster) instead.
_UNSUPPORTED_SERVER_SIDE: dict[tuple[str, str], str] = {
    (SyncOption.SERVER_SIDE_APPLY, "false"): (
        "ServerSideApply=false has no effect on a Kubernetes cluster: Conveyor always applies "
        "server-side there (field manager conveyor)"
    ),
    **_NO_CONFIRMATION,
}
_DELETE_POLICIES = frozenset({"HookSucceeded", "HookFailed", "BeforeHookCreation"})


def _condition(kind: ConditionType, message: str) -> dict[str, Any]:
    return {"type": kind.value, "message": message}


def _name(obj: Object) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', '')}/{meta.get('name', '') if isinstance(meta, dict) else ''}"


def option_conditions(
    options: SyncOptions, desired: Iterable[Object], *, server_side_apply: bool = False
) -> list[dict[str, Any]]:
    """Warnings for the app's options and its resources' sync-options and hook annotations;
    ``server_side_apply`` when the target applies server-side (a Kubernetes cluster)."""
    unsupported = _UNSUPPORTED_SERVER_SIDE if server_side_apply else _UNSUPPORTED
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(kind: ConditionType, message: str) -> None:
        if message not in seen:
            seen.add(message)
            out.append(_condition(kind, message))

    for key, value in options.given:
        if (key, value) in unsupported:
            add(ConditionType.SYNC_OPTION_WARNING, unsupported[(key, value)])
    # The app's own malformed options are refused when it is loaded, and its unknown ones
    # come back as UnknownField warnings then: only the resources' are reported here.
    for obj in desired:
        own = options.for_resource(obj)
        for key, value in own.given[len(options.given) :]:
            if (key, value) in unsupported:
                add(ConditionType.SYNC_OPTION_WARNING, f"{_name(obj)}: {unsupported[(key, value)]}")
        for problem in own.problems[len(options.problems) :]:
            add(ConditionType.SYNC_OPTION_WARNING, f"{_name(obj)}: {problem}")
        if not is_hook(obj):
            continue
        for bad in invalid_hook_types(obj):
            add(
                ConditionType.HOOK_ANNOTATION_WARNING,
                f"{_name(obj)}: {ANNOTATION_HOOK} '{bad}' is not a hook type (use PreSync, Sync, "
                "PostSync, SyncFail or Skip); it is ignored",
            )
        for bad in csv(annotation(obj, ANNOTATION_HOOK_DELETE_POLICY)):
            if bad not in _DELETE_POLICIES:
                add(
                    ConditionType.HOOK_ANNOTATION_WARNING,
                    f"{_name(obj)}: {ANNOTATION_HOOK_DELETE_POLICY} '{bad}' is not a delete "
                    "policy (use HookSucceeded, HookFailed or BeforeHookCreation); it is ignored",
                )
    return out


def tracked_by(obj: Object) -> str | None:
    """The application whose tracking label ``obj`` carries, or None."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(TRACKING_LABEL) if isinstance(labels, dict) else None
    return value if isinstance(value, str) and value else None


def shared_resources(app: str, desired: Iterable[Object], lookup: Lookup) -> list[str]:
    """Argo CD's messages for this app's resources that another app tracks on the target:
    ``ConfigMap/settings is part of applications web and api``."""
    messages = []
    for obj in desired:
        if is_hook(obj):
            continue
        live = lookup(ObjectKey.of(obj))
        other = tracked_by(live) if live is not None else None
        if other is not None and other != app:
            messages.append(f"{_name(obj)} is part of applications {app} and {other}")
    return messages


def shared_resource_conditions(
    app: str, desired: Iterable[Object], lookup: Lookup
) -> list[dict[str, Any]]:
    """One SharedResourceWarning per resource another app tracks."""
    return [
        _condition(ConditionType.SHARED_RESOURCE_WARNING, message)
        for message in shared_resources(app, desired, lookup)
    ]


def shared_resource_failure(app: str, desired: Iterable[Object], lookup: Lookup) -> str | None:
    """Argo CD's failure under FailOnSharedResource=true, or None when nothing is shared."""
    messages = shared_resources(app, desired, lookup)
    return f"Shared resource found: {messages[0]}" if messages else None
