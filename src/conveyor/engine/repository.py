"""What the engine keeps, and the protocol of whoever keeps it.

The engine sits below the store in the layering: it says what it needs persisted (the
Application and AppProject manifests, each app's last computed status, sync operations and
the history of deployments) and ``conveyor.store`` implements it on SQLAlchemy. Operations are
written before they start and finished, together with their history entry, in one
transaction: that is what lets a restarted controller resume a sync without losing or
doubling a history entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from conveyor.engine.events import Destination, Initiator
from conveyor.engine.records import RecordRepository


@dataclass(frozen=True)
class StoredApp:
    """An Application as registered: its manifest, and the status last computed for it."""

    name: str
    manifest: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class StoredProject:
    """An AppProject manifest."""

    name: str
    manifest: dict[str, Any]


@dataclass(frozen=True)
class OperationRecord:
    """A sync operation: what was asked, and how far it got (Argo CD's operationState)."""

    id: int
    app: str
    phase: str
    message: str
    operation: dict[str, Any]
    """What was asked: ``{"sync": {...}, "initiatedBy": {...}, "retry": {...}}``."""
    state: dict[str, Any]
    """``syncResult`` (revision, resources, source), ``retryCount``."""
    started_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True)
class HistoryRecord:
    """One deployment in an app's history (Argo CD's RevisionHistory)."""

    id: int
    """Per-app sequence number, what ``app rollback NAME ID`` names."""
    app: str
    revision: str
    deployed_at: datetime
    deploy_started_at: datetime
    initiated_by: dict[str, Any]
    source: dict[str, Any]
    operation_id: int

    def to_dict(self) -> dict[str, Any]:
        """Argo CD's ``status.history[]`` item."""
        return {
            "id": self.id,
            "revision": self.revision,
            "deployedAt": _iso(self.deployed_at),
            "deployStartedAt": _iso(self.deploy_started_at),
            "initiatedBy": self.initiated_by,
            "source": self.source,
        }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DeploymentInput:
    """What an operation's events say about one deployment (its start, or its end)."""

    operation_id: int
    app: str
    project: str
    destination: Destination
    revision: str
    initiator: Initiator
    username: str
    started_at: datetime
    phase: str = "Running"
    message: str = ""
    finished_at: datetime | None = None
    """None while it runs."""
    app_commit: str = ""
    """The app commit the synced commit names (known at the end; "" when none)."""
    app_commit_at: datetime | None = None


@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment as kept for good (never trimmed, kept after its app is deleted)."""

    id: int
    operation_id: int
    app: str
    project: str
    destination: Destination
    revision: str
    """The config commit synced to ("" when the operation failed before resolving one)."""
    app_commit: str | None
    """The application commit behind ``revision`` (its ``Conveyor-App-Commit`` trailer, which
    CI write-back writes); None when the commit names none."""
    initiator: Initiator
    username: str
    phase: str
    message: str
    started_at: datetime
    finished_at: datetime | None
    served_at: datetime | None
    """The first moment the app was Healthy and Synced at ``revision`` after the operation."""
    app_commit_at: datetime | None = None
    """The app commit's time (``Conveyor-App-Commit-Date``)."""

    @property
    def lead_time(self) -> float | None:
        """Seconds from the app commit to serving (DORA's lead time for changes), if known."""
        if self.served_at is None or self.app_commit_at is None:
            return None
        return (self.served_at - self.app_commit_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """The API's shape (camelCase, RFC 3339 times, null when not known)."""
        return {
            "id": self.id,
            "operationId": self.operation_id,
            "app": self.app,
            "project": self.project,
            "destination": {
                "server": self.destination.server,
                "name": self.destination.name,
                "namespace": self.destination.namespace,
            },
            "revision": self.revision,
            "appCommit": self.app_commit,
            "appCommitAt": _iso(self.app_commit_at) if self.app_commit_at else None,
            "initiator": str(self.initiator),
            "username": self.username,
            "phase": self.phase,
            "message": self.message,
            "startedAt": _iso(self.started_at),
            "finishedAt": _iso(self.finished_at) if self.finished_at else None,
            "servedAt": _iso(self.served_at) if self.served_at else None,
            "leadTimeSeconds": self.lead_time,
        }


class DeploymentRepository(Protocol):
    """The durable deployment record (``engine.deployments.DeploymentRecorder`` writes it)."""

    async def record_deployment(self, deployment: DeploymentInput) -> DeploymentRecord:
        """Record a start (``finished_at`` None) or an end; idempotent.

        A start of an operation whose record is still open is a repeat and changes nothing.
        An end closes the open record of its operation, or, when its start was never
        recorded, writes the whole record; the same end twice writes once.
        """
        ...

    async def mark_deployment_served(
        self, app: str, revision: str, at: datetime
    ) -> DeploymentRecord | None:
        """Set ``served_at`` on the app's latest Succeeded deployment when it deployed
        ``revision`` and has not served yet; None when nothing was marked."""
        ...

    async def deployments(
        self, *, app: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[DeploymentRecord]:
        """Deployments oldest first (started at or after ``since``): the newest ``limit``."""
        ...


class Repository(DeploymentRepository, RecordRepository, Protocol):
    """Persistence the engine needs; ``conveyor.store.EngineStore`` implements it."""

    async def list_apps(self) -> list[StoredApp]: ...

    async def get_app(self, name: str) -> StoredApp | None: ...

    async def save_app(self, name: str, manifest: dict[str, Any]) -> StoredApp:
        """Create or replace an app's manifest; its status is kept."""
        ...

    async def delete_app(self, name: str) -> bool:
        """Forget an app, its operations and its history. False when absent."""
        ...

    async def save_status(self, name: str, status: dict[str, Any]) -> None: ...

    async def save_statuses(self, statuses: Mapping[str, dict[str, Any]]) -> None:
        """Several apps' statuses at once (apps no longer registered are skipped)."""
        ...

    async def list_projects(self) -> list[StoredProject]: ...

    async def get_project(self, name: str) -> StoredProject | None: ...

    async def save_project(self, name: str, manifest: dict[str, Any]) -> StoredProject: ...

    async def delete_project(self, name: str) -> bool: ...

    async def create_operation(
        self, app: str, operation: dict[str, Any], started_at: datetime
    ) -> OperationRecord:
        """Record a Running operation before it starts."""
        ...

    async def update_operation(
        self, op_id: int, *, phase: str, message: str, state: dict[str, Any]
    ) -> None: ...

    async def finish_operation(
        self,
        op_id: int,
        *,
        phase: str,
        message: str,
        state: dict[str, Any],
        finished_at: datetime,
        history: HistoryInput | None,
        history_limit: int,
    ) -> HistoryRecord | None:
        """End an operation and, in the same transaction, append its history entry (at
        most once per operation), trimming the history to ``history_limit`` entries."""
        ...

    async def running_operations(self) -> list[OperationRecord]:
        """Operations that were Running or Terminating when the last process stopped."""
        ...

    async def last_operation(self, app: str) -> OperationRecord | None: ...

    async def history(self, app: str) -> list[HistoryRecord]:
        """Oldest first, as Argo CD lists it."""
        ...


@dataclass(frozen=True)
class HistoryInput:
    """The parts of a history entry that the operation knows."""

    revision: str
    deploy_started_at: datetime
    deployed_at: datetime
    initiated_by: dict[str, Any]
    source: dict[str, Any]
