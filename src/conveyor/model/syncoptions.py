"""Sync options parsed once: ``spec.syncPolicy.syncOptions`` and the per-resource annotation.

Argo CD's options are ``Key=value`` strings, given for the whole app (or one sync operation)
and overridden per resource by ``argocd.argoproj.io/sync-options: Prune=false,Replace=true``.
``SyncOptions.parse`` reads the app's list into one frozen value with Argo CD's defaults;
``for_resource`` lays a resource's annotation over it. Every key is one commented constant in
``SyncOption``; what a key cannot do on a target is for the engine to report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from conveyor.model.objects import Object
from conveyor.model.synccommon import ANNOTATION_SYNC_OPTIONS, annotation, csv


class SyncOption(StrEnum):
    """Every sync option key Argo CD documents (``Key=value`` strings).

    Given in ``spec.syncPolicy.syncOptions`` (or an operation's), or per resource in the
    ``argocd.argoproj.io/sync-options`` annotation, which overrides the app's value.
    """

    PRUNE = "Prune"  # false: never prune this resource; confirm: only once confirmed
    DELETE = "Delete"  # false: keep the resource when the app is deleted; confirm
    VALIDATE = "Validate"  # false: skip schema (unknown field) validation (default true)
    SKIP_DRY_RUN_ON_MISSING_RESOURCE = "SkipDryRunOnMissingResource"  # CRD made elsewhere
    CREATE_NAMESPACE = "CreateNamespace"  # create the destination namespace if missing
    PRUNE_LAST = "PruneLast"  # prune after every other resource is synced and healthy
    APPLY_OUT_OF_SYNC_ONLY = "ApplyOutOfSyncOnly"  # apply only resources that differ
    PRUNE_PROPAGATION_POLICY = "PrunePropagationPolicy"  # foreground | background | orphan
    REPLACE = "Replace"  # replace (or create) instead of a three-way merge apply
    FORCE = "Force"  # delete and create again
    SERVER_SIDE_APPLY = "ServerSideApply"  # server-side apply on Kubernetes targets
    CLIENT_SIDE_APPLY_MIGRATION = "ClientSideApplyMigration"  # with ServerSideApply only
    FAIL_ON_SHARED_RESOURCE = "FailOnSharedResource"  # fail if another app tracks a resource
    RESPECT_IGNORE_DIFFERENCES = "RespectIgnoreDifferences"  # keep ignored fields on sync


class PropagationPolicy(StrEnum):
    """How a pruned object's dependants (a Deployment's ReplicaSets) go (Kubernetes' GC)."""

    FOREGROUND = "foreground"  # dependants first, then the object (Argo CD's prune default)
    BACKGROUND = "background"  # the object, then its dependants
    ORPHAN = "orphan"  # the object only: dependants stay, without the owner reference


# Options whose value is true or false, and their value when not given.
BOOLEAN_DEFAULTS: dict[str, bool] = {
    option.value: option in (SyncOption.VALIDATE, SyncOption.CLIENT_SIDE_APPLY_MIGRATION)
    for option in SyncOption
    if option not in (SyncOption.PRUNE, SyncOption.DELETE, SyncOption.PRUNE_PROPAGATION_POLICY)
}
# Prune and Delete: true, false or confirm.
CONFIRMABLE_VALUES = ("true", "false", "confirm")
PROPAGATION_POLICIES = tuple(p.value for p in PropagationPolicy)


def option_problem(key: str, value: str) -> str | None:
    """Why ``Key=value`` is malformed, or None (unknown keys are not a problem here)."""
    if key in BOOLEAN_DEFAULTS and value not in ("true", "false"):
        return f"{key} takes true or false"
    if key in (SyncOption.PRUNE, SyncOption.DELETE) and value not in CONFIRMABLE_VALUES:
        return f"{key} takes {', '.join(CONFIRMABLE_VALUES)}"
    if key == SyncOption.PRUNE_PROPAGATION_POLICY and value not in PROPAGATION_POLICIES:
        return f"use one of {', '.join(PROPAGATION_POLICIES)}"
    return None


# Options that only mean something for the whole app; on a resource they are reported.
APP_LEVEL_ONLY = frozenset(
    {
        SyncOption.CREATE_NAMESPACE,
        SyncOption.APPLY_OUT_OF_SYNC_ONLY,
        SyncOption.PRUNE_PROPAGATION_POLICY,
        SyncOption.FAIL_ON_SHARED_RESOURCE,
        SyncOption.CLIENT_SIDE_APPLY_MIGRATION,
    }
)
_FIELDS = {
    SyncOption.VALIDATE: "validate",
    SyncOption.SKIP_DRY_RUN_ON_MISSING_RESOURCE: "skip_dry_run_on_missing_resource",
    SyncOption.CREATE_NAMESPACE: "create_namespace",
    SyncOption.PRUNE_LAST: "prune_last",
    SyncOption.APPLY_OUT_OF_SYNC_ONLY: "apply_out_of_sync_only",
    SyncOption.REPLACE: "replace",
    SyncOption.FORCE: "force",
    SyncOption.SERVER_SIDE_APPLY: "server_side_apply",
    SyncOption.CLIENT_SIDE_APPLY_MIGRATION: "client_side_apply_migration",
    SyncOption.FAIL_ON_SHARED_RESOURCE: "fail_on_shared_resource",
    SyncOption.RESPECT_IGNORE_DIFFERENCES: "respect_ignore_differences",
}
_KNOWN = frozenset(o.value for o in SyncOption)


def split_options(items: Iterable[str]) -> list[tuple[str, str]]:
    """``["Prune=false", " Replace = true"]`` as trimmed (key, value) pairs, in order."""
    out = []
    for item in items:
        key, _, value = str(item).partition("=")
        if key.strip():
            out.append((key.strip(), value.strip()))
    return out


@dataclass(frozen=True)
class SyncOptions:
    """The sync options in force, with Argo CD's defaults for those not given."""

    prune: str = "true"
    """``false``: never prune; ``confirm``: prune only once confirmed."""
    delete: str = "true"
    """``false``: keep the resource when its app is deleted; ``confirm``: only once confirmed."""
    validate: bool = True
    """Refuse manifests with fields the kind does not have (``kubectl --validate``)."""
    skip_dry_run_on_missing_resource: bool = False
    """Do not dry-run an object whose kind the target does not know yet."""
    create_namespace: bool = False
    """Create the destination namespace when it is missing."""
    prune_last: bool = False
    """Prune in a final wave, after everything else is synced and healthy."""
    apply_out_of_sync_only: bool = False
    """Apply only the resources the comparison found different."""
    prune_propagation_policy: PropagationPolicy = PropagationPolicy.FOREGROUND
    """What happens to a pruned object's dependants."""
    replace: bool = False
    """Replace the live object by the manifest instead of merging into it."""
    force: bool = False
    """Delete the live object and create it again."""
    server_side_apply: bool = False
    """Server-side apply (a Kubernetes feature)."""
    client_side_apply_migration: bool = True
    """Move client-side-applied fields to the server-side manager (with ServerSideApply)."""
    fail_on_shared_resource: bool = False
    """Fail the sync when another app already tracks one of this app's resources."""
    respect_ignore_differences: bool = False
    """Keep the live value of ignoreDifferences fields when applying."""
    given: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    """Every ``Key=value`` as written, app's first, then the resource's (for reporting)."""
    problems: tuple[str, ...] = field(default=(), compare=False)
    """Options that were not understood (unknown key, malformed value), as messages."""

    @classmethod
    def parse(cls, items: Iterable[str]) -> SyncOptions:
        """Options from ``Key=value`` strings (the last of a key wins)."""
        return cls()._with(split_options(items), where="syncOptions", resource=False)

    def for_resource(self, obj: Object | None) -> SyncOptions:
        """These options overridden by ``obj``'s ``argocd.argoproj.io/sync-options``."""
        raw = annotation(obj, ANNOTATION_SYNC_OPTIONS)
        if not raw:
            return self
        return self._with(split_options(csv(raw)), where=ANNOTATION_SYNC_OPTIONS, resource=True)

    def value(self, key: str) -> str | None:
        """The value last given for ``key``, or None."""
        found = None
        for name, value in self.given:
            if name == key:
                found = value
        return found

    def to_list(self) -> list[str]:
        """The options as given, ``Key=value`` strings."""
        return [f"{k}={v}" for k, v in self.given]

    def _with(self, pairs: list[tuple[str, str]], *, where: str, resource: bool) -> SyncOptions:
        changes: dict[str, object] = {}
        problems = list(self.problems)
        for key, value in pairs:
            if key not in _KNOWN:
                problems.append(f"{where}: sync option '{key}' is not known; it has no effect")
                continue
            problem = option_problem(key, value)
            if problem is not None:
                problems.append(f"{where}: '{key}={value}' ignored: {problem}")
                continue
            if resource and key in APP_LEVEL_ONLY:
                problems.append(
                    f"{where}: {key} applies to a whole application; set it in "
                    "spec.syncPolicy.syncOptions (it has no effect on one resource)"
                )
                continue
            if key == SyncOption.PRUNE:
                changes["prune"] = value
            elif key == SyncOption.DELETE:
                changes["delete"] = value
            elif key == SyncOption.PRUNE_PROPAGATION_POLICY:
                changes["prune_propagation_policy"] = PropagationPolicy(value)
            else:
                changes[_FIELDS[SyncOption(key)]] = value == "true"
        return replace(self, **changes, given=self.given + tuple(pairs), problems=tuple(problems))  # type: ignore[arg-type]
