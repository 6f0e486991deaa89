"""The engine's events: what happened to an application, as typed values.

The controller emits one of these to every listener when something a person (or a tool acting
for one) would want to know happens: an app appears or goes, an operation starts or ends, its
sync or health status changes. The API's stream, /metrics, the deployment record, and later
notifications and DORA figures are all fed from this one stream, so that none of them re-derives
what happened from status dicts. Listeners are plain callables: they run on the event loop and
must not block (hand slow work to a task or a queue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from conveyor.model.trailers import AppCommit


class Initiator(StrEnum):
    """Who started an operation: what DORA figures and notifications tell apart."""

    USER = "user"
    AUTOMATED = "automated"
    ROLLBACK = "rollback"
    SELF_HEAL = "self-heal"


@dataclass(frozen=True)
class Destination:
    """Where an app deploys (Argo CD's destination: server or name, and a namespace)."""

    server: str
    name: str
    namespace: str


@dataclass(frozen=True)
class AppCreated:
    app: str
    project: str
    at: datetime


@dataclass(frozen=True)
class AppDeleted:
    app: str
    project: str
    at: datetime


@dataclass(frozen=True)
class OperationStarted:
    app: str
    project: str
    destination: Destination
    operation_id: int
    revision: str
    """The revision asked for ("" when the app's targetRevision is to be resolved)."""
    initiator: Initiator
    username: str
    """Who asked, for user-initiated and rollback operations ("" when automated)."""
    dry_run: bool
    at: datetime


@dataclass(frozen=True)
class OperationFinished:
    app: str
    project: str
    destination: Destination
    operation_id: int
    phase: str
    """Argo CD's OperationPhase: Succeeded, Failed or Error."""
    message: str
    revision: str
    """The commit SHA the operation synced to ("" when it failed before resolving one)."""
    initiator: Initiator
    username: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime
    app_commit: AppCommit = field(default_factory=AppCommit)
    """The app commit ``revision`` names in its trailers (CI write-back), if any."""
    revision_before: str | None = None
    """The revision of the app's last history entry before this operation ("" when it had
    none; None when not known), read from the stored history: right after a restart too."""
    pruned: tuple[str, ...] = ()
    """``Kind namespace/name`` of each resource the operation pruned."""


@dataclass(frozen=True)
class SyncStatusChanged:
    app: str
    old: str
    new: str
    revision: str
    at: datetime


@dataclass(frozen=True)
class HealthStatusChanged:
    app: str
    old: str
    new: str
    revision: str
    at: datetime


@dataclass(frozen=True)
class AppUpdated:
    """Anything in the app's status changed (a reconcile's result, an operation's progress):
    what the API's stream sends as MODIFIED. The app is read from the controller."""

    app: str
    at: datetime


EngineEvent = (
    AppCreated
    | AppDeleted
    | AppUpdated
    | OperationStarted
    | OperationFinished
    | SyncStatusChanged
    | HealthStatusChanged
)


class EngineListener(Protocol):
    """Receives every event, in the order they happened, on the event loop."""

    def __call__(self, event: EngineEvent) -> None: ...
