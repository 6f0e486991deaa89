"""The audit trail's and the health record's values, and the protocol of who keeps them.

The engine sits below the store: it says what an audit entry and a health event are, and
``conveyor.store`` keeps them (``EngineStore``, in the same group-committed transactions as
operations and deployments). The API writes an entry per mutating request, the engine's
``engine.activity.ActivityRecorder`` one per operation of the controller's own, and the health
events feed DORA's change failure rate and time to restore (``engine.dora``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

CONTROLLER = "system:controller"
"""The actor of what the controller does on its own (auto-sync, self-heal, rollback)."""


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AuditEntry:
    """One audited action. Never a request body, query string or Secret value."""

    at: datetime
    actor: str
    action: str
    """``applications.sync``, ``projects.delete``, ``operation.auto-sync``..."""
    target_kind: str
    target: str
    outcome: str
    """An HTTP status code for a request; an operation's phase for an operation."""
    app: str = ""
    project: str = ""
    source: str = ""
    """The client address of a request; ``controller`` for the controller's own acts."""
    revision_before: str = ""
    revision_after: str = ""
    detail: str = ""
    id: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The API's shape (camelCase, RFC 3339 time)."""
        return {
            "id": self.id,
            "at": iso(self.at),
            "user": self.actor,
            "action": self.action,
            "targetKind": self.target_kind,
            "target": self.target,
            "app": self.app,
            "project": self.project,
            "source": self.source,
            "revisionBefore": self.revision_before,
            "revisionAfter": self.revision_after,
            "outcome": self.outcome,
            "detail": self.detail,
        }


AUDIT_FIELDS = tuple(AuditEntry(datetime.min, "", "", "", "", "").to_dict())
"""The column order of the CSV export."""


@dataclass(frozen=True)
class AuditQuery:
    """Filters of ``GET /api/v1/audit``; None matches everything."""

    actor: str | None = None
    app: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 1000


@dataclass(frozen=True)
class Retention:
    """How long audit rows are kept: the oldest go past either bound."""

    max_age: timedelta | None = timedelta(days=365)
    max_rows: int | None = 1_000_000


@dataclass(frozen=True)
class HealthEvent:
    """The moment an app's health became ``health`` (Degraded) at ``revision``."""

    app: str
    health: str
    revision: str
    at: datetime


class RecordRepository(Protocol):
    """Keeps the audit trail and the health events; ``conveyor.store.EngineStore`` does."""

    async def record_audit(self, entries: list[AuditEntry]) -> None:
        """Append ``entries`` (one transaction, shared with whatever else arrives)."""
        ...

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        """The newest ``query.limit`` matching entries, oldest first."""
        ...

    async def prune_audit(self, retention: Retention, now: datetime) -> int:
        """Delete what ``retention`` no longer keeps; how many rows went."""
        ...

    async def record_health(self, event: HealthEvent) -> None: ...

    async def health_events(
        self, *, app: str | None = None, since: datetime | None = None
    ) -> list[HealthEvent]:
        """Oldest first."""
        ...
