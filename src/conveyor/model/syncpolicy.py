"""``spec.syncPolicy``: when an Application syncs, with which options, and how it retries.

Sync options are Argo CD's ``Key=value`` strings, parsed by ``conveyor.model.syncoptions``.
Unknown keys are kept and reported, never rejected, so that an Application using an option
from a newer Argo CD still loads.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from conveyor.backoff import exponential_delay
from conveyor.model.durations import Duration, parse_duration
from conveyor.model.manifest import ArgoModel
from conveyor.model.syncoptions import (
    BOOLEAN_DEFAULTS,
    PROPAGATION_POLICIES,
    PropagationPolicy,
    SyncOption,
    SyncOptions,
    option_problem,
)

__all__ = [
    "BOOLEAN_DEFAULTS",
    "PROPAGATION_POLICIES",
    "Automated",
    "Backoff",
    "PropagationPolicy",
    "Retry",
    "SyncOption",
    "SyncOptions",
    "SyncPolicy",
    "option_problem",
]

# Argo CD's retry defaults (used when spec.syncPolicy.retry.backoff leaves a field out).
DEFAULT_BACKOFF_DURATION = "5s"
DEFAULT_BACKOFF_FACTOR = 2
DEFAULT_BACKOFF_MAX_DURATION = "3m"


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
            elif (problem := option_problem(key, val)) is not None:
                problems.append(f"[{i}] '{option}': {problem}")
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

    def options(self) -> SyncOptions:
        """The sync options, parsed."""
        return SyncOptions.parse(self.sync_options or [])

    def option_value(self, key: str) -> str | None:
        """The value of ``key`` in syncOptions (the last one wins), or None."""
        found = None
        for option in self.sync_options or []:
            name, _, value = option.partition("=")
            if name == key:
                found = value
        return found
