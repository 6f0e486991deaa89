"""``spec.syncPolicy``: when an Application syncs, with which options, and how it retries.

Sync options are Argo CD's ``Key=value`` strings; each key Conveyor knows is one commented
constant in ``SyncOption``. Unknown keys are kept and reported, never rejected, so that an
Application using an option from a newer Argo CD still loads.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import Field, field_validator

from conveyor.backoff import exponential_delay
from conveyor.model.durations import Duration, parse_duration
from conveyor.model.manifest import ArgoModel

# Argo CD's retry defaults (used when spec.syncPolicy.retry.backoff leaves a field out).
DEFAULT_BACKOFF_DURATION = "5s"
DEFAULT_BACKOFF_FACTOR = 2
DEFAULT_BACKOFF_MAX_DURATION = "3m"


class SyncOption(StrEnum):
    """The ``spec.syncPolicy.syncOptions`` keys Conveyor understands (``Key=value`` strings)."""

    CREATE_NAMESPACE = "CreateNamespace"  # create the destination namespace if missing
    PRUNE_LAST = "PruneLast"  # prune after every other resource is synced and healthy
    APPLY_OUT_OF_SYNC_ONLY = "ApplyOutOfSyncOnly"  # apply only resources that differ
    VALIDATE = "Validate"  # validate manifests before applying (default true)
    PRUNE_PROPAGATION_POLICY = "PrunePropagationPolicy"  # foreground | background | orphan
    REPLACE = "Replace"  # replace instead of apply
    SERVER_SIDE_APPLY = "ServerSideApply"  # server-side apply on Kubernetes targets
    FAIL_ON_SHARED_RESOURCE = "FailOnSharedResource"  # fail if another app owns a resource
    RESPECT_IGNORE_DIFFERENCES = "RespectIgnoreDifferences"  # keep ignored fields on sync
    SKIP_DRY_RUN_ON_MISSING_RESOURCE = "SkipDryRunOnMissingResource"  # CRDs created in sync


# Options whose value is a boolean, and their value when the option is not given.
BOOLEAN_DEFAULTS: dict[str, bool] = {
    option.value: option is SyncOption.VALIDATE
    for option in SyncOption
    if option is not SyncOption.PRUNE_PROPAGATION_POLICY
}
PROPAGATION_POLICIES = ("foreground", "background", "orphan")


class Automated(ArgoModel):
    """``spec.syncPolicy.automated``: sync on every change to Git."""

    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False


class Backoff(ArgoModel):
    """``spec.syncPolicy.retry.backoff``: how long to wait between sync retries."""

    duration: Duration | None = None
    factor: int | None = Field(default=None, ge=1)
    max_duration: Duration | None = None

    def delay(self, retry: int) -> timedelta:
        """Wait before retry number ``retry`` (0-based): duration * factor^retry, capped."""
        base = parse_duration(
            self.duration if self.duration is not None else DEFAULT_BACKOFF_DURATION
        )
        cap = parse_duration(
            self.max_duration if self.max_duration is not None else DEFAULT_BACKOFF_MAX_DURATION
        )
        factor = self.factor if self.factor is not None else DEFAULT_BACKOFF_FACTOR
        seconds = exponential_delay(retry, base.total_seconds(), cap.total_seconds(), factor)
        return timedelta(seconds=min(seconds, 1e9))


class Retry(ArgoModel):
    """``spec.syncPolicy.retry``: retry a failed sync, with backoff."""

    limit: int = 0
    backoff: Backoff | None = None

    def delay(self, retry: int) -> timedelta:
        """Wait before retry number ``retry`` (0-based), with Argo CD's defaults."""
        return (self.backoff or Backoff()).delay(retry)


class SyncPolicy(ArgoModel):
    """``spec.syncPolicy``: automation, sync options and retries."""

    unsupported_fields = {"managedNamespaceMetadata": "namespace metadata is not applied yet"}

    automated: Automated | None = None
    sync_options: list[str] | None = None
    retry: Retry | None = None

    @field_validator("sync_options")
    @classmethod
    def _check_options(cls, value: list[str] | None) -> list[str] | None:
        problems = []
        for i, option in enumerate(value or []):
            key, sep, val = option.partition("=")
            if not sep or not key:
                problems.append(
                    f"[{i}] '{option}' is not Key=value: write e.g. {key or 'Key'}=true"
                )
            elif key in BOOLEAN_DEFAULTS and val not in ("true", "false"):
                problems.append(f"[{i}] '{option}': {key} takes true or false")
            elif key == SyncOption.PRUNE_PROPAGATION_POLICY and val not in PROPAGATION_POLICIES:
                problems.append(f"[{i}] '{option}': use one of {', '.join(PROPAGATION_POLICIES)}")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    def semantic_warnings(self) -> list[tuple[str, str]]:
        known = {option.value for option in SyncOption}
        return [
            (
                f"syncOptions[{i}]",
                f"sync option '{option.partition('=')[0]}' is not known to Conveyor, kept as is",
            )
            for i, option in enumerate(self.sync_options or [])
            if option.partition("=")[0] not in known
        ]

    def option_value(self, key: str) -> str | None:
        """The value of ``key`` in syncOptions (the last one wins), or None."""
        found = None
        for option in self.sync_options or []:
            name, _, value = option.partition("=")
            if name == key:
                found = value
        return found
