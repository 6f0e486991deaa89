"""What the controller remembers about one application between reconciles.

The typed, frozen ``Application`` (as validated at the edge), its manifest as the API shows
it, the status (a frozen ``ApplicationStatus``, replaced, never edited), the revision last
resolved, the last comparison, the running operation, the self-heal counters, and the waits of
whoever asked to hear about the next reconcile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from conveyor.engine.compare import Comparison
from conveyor.engine.events import Destination, Initiator
from conveyor.model.application import Application
from conveyor.model.status import ApplicationStatus, Condition


@dataclass
class RunningOperation:
    """A sync operation in flight: its task, its id in the store, and who started it."""

    task: asyncio.Task[None]
    id: int
    initiator: Initiator
    username: str
    terminate_requested: bool = False


@dataclass
class AppState:
    """One application, as the controller holds it."""

    app: Application
    warnings: list[str] = field(default_factory=list)
    status: ApplicationStatus = field(default_factory=ApplicationStatus)
    revision: str | None = None
    resolved_at: float = float("-inf")
    refresh: bool = True
    """Look the revision up again at the next reconcile (a fetch happens only if the mirror
    may be behind: older than the poll period, or invalidated by a refresh or webhook)."""
    hard_refresh: bool = False
    comparison: Comparison | None = None
    operation: RunningOperation | None = None
    self_heal_attempts: int = 0
    next_self_heal: float = float("-inf")
    deleting: bool = False
    """Its deletion has begun: it is not reconciled any more."""
    failures: list[Condition] = field(default_factory=list)
    """What went wrong outside a reconcile (a sync that could not start, a failed task):
    shown as conditions until the next operation starts."""
    reconciles_started: int = 0
    waiters: list[tuple[int, asyncio.Future[bool]]] = field(default_factory=list)
    """(reconciles started when the wait began, future) of ``Controller.wait_reconciled``."""
    change_waiters: list[asyncio.Future[bool]] = field(default_factory=list)
    """Futures of ``Controller.wait_changed``: done at the next status change."""
    manifest: dict[str, Any] = field(init=False)
    """The manifest as given (unknown fields kept): what the API shows and the store keeps."""
    compared_to: dict[str, Any] = field(init=False)
    """``status.sync.comparedTo``: spec.source and spec.destination as given."""
    _json: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.replace(self.app, self.warnings)

    def replace(self, app: Application, warnings: list[str]) -> None:
        """A new spec for the same app (its status and operation are kept)."""
        self.app, self.warnings = app, warnings
        self.manifest = app.to_manifest()
        spec = self.manifest.get("spec") or {}
        self.compared_to = {
            "source": spec.get("source") or {},
            "destination": spec.get("destination") or {},
        }
        self._json = None

    @property
    def name(self) -> str:
        return self.app.name

    @property
    def project(self) -> str:
        return self.app.project

    @property
    def destination(self) -> Destination:
        dest = self.app.spec.destination
        return Destination(server=dest.server or "", name=dest.name or "", namespace=dest.namespace)

    @property
    def running(self) -> bool:
        """An operation is in flight."""
        return self.operation is not None and not self.operation.task.done()

    def set_status(self, status: ApplicationStatus) -> None:
        self.status = status
        self._json = None

    def wait_reconciled(self, timeout: float) -> Coroutine[Any, Any, bool]:
        """Begin waiting now for a reconcile that starts after this call to end."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiters.append((self.reconciles_started, future))
        return _wait(future, timeout)

    def wait_changed(self, timeout: float) -> Coroutine[Any, Any, bool]:
        """Begin waiting now for the next status change."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.change_waiters.append(future)
        return _wait(future, timeout)

    def changed(self) -> None:
        """Wake the waits for the next status change."""
        for future in self.change_waiters:
            if not future.done():
                future.set_result(True)
        self.change_waiters.clear()

    def gone(self) -> None:
        """The app was deleted: every wait ends, unsatisfied."""
        for future in [f for _, f in self.waiters] + self.change_waiters:
            if not future.done():
                future.set_result(False)

    def to_dict(self) -> dict[str, Any]:
        """The Application in Argo CD's shape, status included (serialized once per status)."""
        if self._json is None:
            # Not reconciled yet (nothing set): {} as before, not an "Unknown" guess.
            status = self.status.to_dict() if self.status.model_fields_set else {}
            self._json = {**self.manifest, "status": status}
        return dict(self._json)

    def status_dict(self) -> dict[str, Any]:
        """The status in Argo CD's JSON, as the store keeps it."""
        status: dict[str, Any] = self.to_dict()["status"]
        return status

    def reconcile_started(self) -> int:
        """Count a reconcile that starts now; returns its number."""
        self.reconciles_started += 1
        return self.reconciles_started

    def reconcile_ended(self, number: int) -> None:
        """Wake the waits that began before reconcile ``number`` started."""
        keep = []
        for since, future in self.waiters:
            if future.done():
                continue
            if since < number:
                future.set_result(True)
            else:
                keep.append((since, future))
        self.waiters = keep


async def _wait(future: asyncio.Future[bool], timeout: float) -> bool:
    """The future's answer, or False after ``timeout`` seconds."""
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        return False
