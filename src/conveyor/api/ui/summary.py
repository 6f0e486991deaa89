"""What a person reads about an application at a glance, and which ones a filter keeps.

Pure functions from the Application (Argo CD's JSON, as the API answers it) to the values the
tiles and the application page show, so that the page, its live updates and the tests read the
same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

SYNC_STATUSES = ("Synced", "OutOfSync", "Unknown")
HEALTH_STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")


@dataclass(frozen=True)
class Summary:
    name: str
    project: str
    sync: str
    health: str
    health_message: str
    revision: str
    repo: str
    path: str
    target_revision: str
    destination: str
    namespace: str
    operation: str
    """The phase of the last or running operation ('' when none)."""
    operation_message: str
    deployed: str
    """The revision the last operation synced to (after a rollback, not the target's)."""
    automated: bool
    conditions: tuple[str, ...]
    has_rollout: bool


def summarize(app: dict[str, Any]) -> Summary:
    meta, spec, status = app.get("metadata") or {}, app.get("spec") or {}, app.get("status") or {}
    source: dict[str, Any] = spec.get("source") or next(iter(spec.get("sources") or []), {}) or {}
    dest = spec.get("destination") or {}
    operation = status.get("operationState") or {}
    resources = status.get("resources") or []
    return Summary(
        name=str(meta.get("name", "")),
        project=str(spec.get("project") or "default"),
        sync=str((status.get("sync") or {}).get("status") or "Unknown"),
        health=str((status.get("health") or {}).get("status") or "Unknown"),
        health_message=str((status.get("health") or {}).get("message") or ""),
        revision=str((status.get("sync") or {}).get("revision") or ""),
        repo=str(source.get("repoURL", "")),
        path=str(source.get("path") or source.get("chart") or ""),
        target_revision=str(source.get("targetRevision") or "HEAD"),
        destination=str(dest.get("server") or dest.get("name") or ""),
        namespace=str(dest.get("namespace") or ""),
        operation=str(operation.get("phase") or ""),
        operation_message=str(operation.get("message") or ""),
        deployed=str((operation.get("syncResult") or {}).get("revision") or ""),
        automated=(spec.get("syncPolicy") or {}).get("automated") is not None,
        conditions=tuple(
            f"{c.get('type', '')}: {c.get('message', '')}" for c in status.get("conditions") or []
        ),
        has_rollout=any(
            r.get("kind") == "Rollout" and r.get("group") == "argoproj.io" for r in resources
        ),
    )


@dataclass(frozen=True)
class Filters:
    """The applications page's filters; empty fields keep everything."""

    q: str = ""
    sync: str = ""
    health: str = ""
    project: str = ""

    def keeps(self, summary: Summary) -> bool:
        return (
            (not self.q or self.q.lower() in summary.name.lower())
            and (not self.sync or summary.sync == self.sync)
            and (not self.health or summary.health == self.health)
            and (not self.project or summary.project == self.project)
        )

    def query(self) -> str:
        """The filters as a query string (for the live stream's URL)."""
        return urlencode({k: v for k, v in vars(self).items() if v})
