"""The parts of an Application the engine acts on, read once from its validated manifest.

``conveyor.model`` validates the manifest (and keeps unknown fields, with warnings); the
engine then works from this flat, frozen view, in seconds and booleans, so that the reconcile
loop never re-parses durations or walks optional sub-objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conveyor.backoff import exponential_delay
from conveyor.model.application import parse_duration

DEFAULT_PROJECT = "default"


def _options(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in raw or []:
        key, _, value = str(item).partition("=")
        out[key.strip()] = value.strip()
    return out


def _seconds(raw: Any, default: float) -> float:
    if raw is None or raw == "":
        return default
    return parse_duration(str(raw)).total_seconds()


@dataclass(frozen=True)
class RetryPolicy:
    """``spec.syncPolicy.retry``: how often a failed sync is tried again, and when."""

    limit: int = 0
    duration: float = 5.0
    factor: float = 2.0
    max_duration: float = 180.0

    def delay(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1-based)."""
        return exponential_delay(attempt - 1, self.duration, self.max_duration, self.factor)


@dataclass(frozen=True)
class AppSpec:
    """What the engine needs to know about one Application."""

    name: str
    project: str
    source: dict[str, Any]
    """``spec.source`` as given (recorded in history, used by rollback)."""
    repo_url: str
    target_revision: str
    path: str
    dest_server: str | None
    dest_name: str | None
    namespace: str
    automated: bool
    prune: bool
    self_heal: bool
    allow_empty: bool
    sync_options: dict[str, str] = field(default_factory=dict)
    retry: RetryPolicy = RetryPolicy()
    ignore_differences: tuple[dict[str, Any], ...] = ()
    history_limit: int = 10

    def option(self, name: str) -> bool:
        """A boolean sync option, e.g. ``option("CreateNamespace")``."""
        return self.sync_options.get(name, "").lower() == "true"

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> AppSpec:
        """Read a manifest that ``conveyor.model`` has already validated."""
        spec = manifest.get("spec") or {}
        source = dict(spec.get("source") or {})
        dest = spec.get("destination") or {}
        policy = spec.get("syncPolicy") or {}
        automated = policy.get("automated")
        retry = policy.get("retry") or {}
        backoff = retry.get("backoff") or {}
        limit = spec.get("revisionHistoryLimit")
        return cls(
            name=str(manifest["metadata"]["name"]),
            project=str(spec.get("project") or DEFAULT_PROJECT),
            source=source,
            repo_url=str(source.get("repoURL", "")),
            target_revision=str(source.get("targetRevision") or "HEAD"),
            path=str(source.get("path") or "."),
            dest_server=dest.get("server"),
            dest_name=dest.get("name"),
            namespace=str(dest.get("namespace") or "default"),
            automated=automated is not None,
            prune=bool((automated or {}).get("prune", False)),
            self_heal=bool((automated or {}).get("selfHeal", False)),
            allow_empty=bool((automated or {}).get("allowEmpty", False)),
            sync_options=_options(policy.get("syncOptions")),
            retry=RetryPolicy(
                limit=int(retry.get("limit") or 0),
                duration=_seconds(backoff.get("duration"), 5.0),
                factor=float(backoff.get("factor") or 2),
                max_duration=_seconds(backoff.get("maxDuration"), 180.0),
            ),
            ignore_differences=tuple(spec.get("ignoreDifferences") or ()),
            history_limit=10 if limit is None else int(limit),
        )
