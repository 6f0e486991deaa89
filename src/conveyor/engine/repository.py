"""What the engine keeps, and the protocol of whoever keeps it.

The engine sits below the store in the layering: it says what it needs persisted (the
Application and AppProject manifests, each app's last computed status, sync operations and
the history of deployments) and ``conveyor.store`` implements it on SQLAlchemy. Operations are
written before they start and finished, together with their history entry, in one
transaction: that is what lets a restarted controller resume a sync without losing or
doubling a history entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


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


class Repository(Protocol):
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
