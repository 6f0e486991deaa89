"""The engine's Repository on SQLAlchemy: apps, projects, operations, history and records.

Each method is one short unit of work; units that arrive together share one transaction
(``store.groupcommit``), and each caller hears back only once its unit is committed.
``save_statuses`` writes many apps' statuses in one statement. ``finish_operation`` ends the
operation and appends its history entry together, and the history table is unique per
operation: a sync resumed after a crash that reaches the end again cannot record the
deployment twice, and one that crashed after finishing finds its entry already there.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.clock import Clock, SystemClock
from conveyor.engine.records import AuditEntry, AuditQuery, HealthEvent, Retention
from conveyor.engine.repository import (
    DeploymentInput,
    DeploymentRecord,
    HistoryInput,
    HistoryRecord,
    OperationRecord,
    StoredApp,
    StoredProject,
)
from conveyor.store import audit, deployments
from conveyor.store.db import Database
from conveyor.store.groupcommit import GroupCommit
from conveyor.store.leases import Fence
from conveyor.store.tables import ApplicationRow, HistoryRow, OperationRow, ProjectRow

_UNFINISHED = ("Running", "Terminating")


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything the engine sees is UTC-aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _app(row: ApplicationRow) -> StoredApp:
    return StoredApp(
        name=row.name, manifest=row.manifest, status=row.status, created_at=_utc(row.created_at)
    )


def _operation(row: OperationRow) -> OperationRecord:
    return OperationRecord(
        id=row.id,
        app=row.app,
        phase=row.phase,
        message=row.message,
        operation=row.operation,
        state=row.state,
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at) if row.finished_at is not None else None,
    )


def _history(row: HistoryRow) -> HistoryRecord:
    return HistoryRecord(
        id=row.seq,
        app=row.app,
        revision=row.revision,
        deployed_at=_utc(row.deployed_at),
        deploy_started_at=_utc(row.deploy_started_at),
        initiated_by=row.initiated_by,
        source=row.source,
        operation_id=row.operation_id,
    )


class EngineStore:
    """``conveyor.engine.Repository`` on an open Database."""

    @property
    def transactions(self) -> int:
        """Transactions run so far (several calls share one when they arrive together)."""
        return self._commit.transactions

    def __init__(
        self, database: Database, *, clock: Clock | None = None, fence: Fence | None = None
    ) -> None:
        """``fence``: the lease this process writes under (several servers, one database)."""
        self._db = database
        self._clock = clock or SystemClock()
        # One transaction at a time from this process, in arrival order, shared by the
        # calls that arrive together: SQLite has one writer; hundreds of syncs finishing
        # together would otherwise all wait in its busy handler, where the slowest time out.
        self._commit = GroupCommit(database, fence=fence)

    # -- applications -----------------------------------------------------------------------

    async def list_apps(self) -> list[StoredApp]:
        async def work(session: AsyncSession) -> list[StoredApp]:
            rows = await session.scalars(select(ApplicationRow).order_by(ApplicationRow.name))
            return [_app(r) for r in rows]

        return await self._commit.run(work)

    async def get_app(self, name: str) -> StoredApp | None:
        async def work(session: AsyncSession) -> StoredApp | None:
            row = await session.get(ApplicationRow, name)
            return _app(row) if row is not None else None

        return await self._commit.run(work)

    async def save_app(self, name: str, manifest: dict[str, Any]) -> StoredApp:
        now = self._clock.now()

        async def work(session: AsyncSession) -> StoredApp:
            row = await session.get(ApplicationRow, name)
            if row is None:
                row = ApplicationRow(
                    name=name, manifest=manifest, status={}, created_at=now, updated_at=now
                )
                session.add(row)
            else:
                row.manifest = manifest
                row.updated_at = now
            await session.flush()
            return _app(row)

        return await self._commit.run(work)

    async def delete_app(self, name: str) -> bool:
        async def work(session: AsyncSession) -> bool:
            await session.execute(delete(HistoryRow).where(HistoryRow.app == name))
            await session.execute(delete(OperationRow).where(OperationRow.app == name))
            result = await session.execute(
                delete(ApplicationRow).where(ApplicationRow.name == name)
            )
            return bool(getattr(result, "rowcount", 0))

        return await self._commit.run(work)

    async def save_status(self, name: str, status: dict[str, Any]) -> None:
        async def work(session: AsyncSession) -> None:
            await session.execute(
                update(ApplicationRow)
                .where(ApplicationRow.name == name)
                .values(status=status, updated_at=self._clock.now())
            )

        await self._commit.run(work)

    async def save_statuses(self, statuses: Mapping[str, dict[str, Any]]) -> None:
        """Many apps' statuses in one statement (an app deleted meanwhile is skipped)."""
        if not statuses:
            return
        now = self._clock.now()
        rows = [{"name": n, "status": s, "updated_at": now} for n, s in statuses.items()]

        async def work(session: AsyncSession) -> None:
            known: set[str] = set()
            names = list(statuses)
            for start in range(0, len(names), 500):  # far below any bound-parameter limit
                chunk = names[start : start + 500]
                known.update(
                    await session.scalars(
                        select(ApplicationRow.name).where(ApplicationRow.name.in_(chunk))
                    )
                )
            present = [r for r in rows if r["name"] in known]
            if present:
                await session.execute(update(ApplicationRow), present)

        await self._commit.run(work)

    # -- projects ---------------------------------------------------------------------------

    async def list_projects(self) -> list[StoredProject]:
        async def work(session: AsyncSession) -> list[StoredProject]:
            rows = await session.scalars(select(ProjectRow).order_by(ProjectRow.name))
            return [StoredProject(r.name, r.manifest) for r in rows]

        return await self._commit.run(work)

    async def get_project(self, name: str) -> StoredProject | None:
        async def work(session: AsyncSession) -> StoredProject | None:
            row = await session.get(ProjectRow, name)
            return StoredProject(row.name, row.manifest) if row is not None else None

        return await self._commit.run(work)

    async def save_project(self, name: str, manifest: dict[str, Any]) -> StoredProject:
        async def work(session: AsyncSession) -> None:
            row = await session.get(ProjectRow, name)
            if row is None:
                session.add(ProjectRow(name=name, manifest=manifest, updated_at=self._clock.now()))
            else:
                row.manifest = manifest
                row.updated_at = self._clock.now()

        await self._commit.run(work)
        return StoredProject(name, manifest)

    async def delete_project(self, name: str) -> bool:
        async def work(session: AsyncSession) -> bool:
            result = await session.execute(delete(ProjectRow).where(ProjectRow.name == name))
            return bool(getattr(result, "rowcount", 0))

        return await self._commit.run(work)

    # -- operations -------------------------------------------------------------------------

    async def create_operation(
        self, app: str, operation: dict[str, Any], started_at: datetime
    ) -> OperationRecord:
        async def work(session: AsyncSession) -> OperationRecord:
            row = OperationRow(
                app=app,
                phase="Running",
                message="",
                operation=operation,
                state={},
                started_at=started_at,
            )
            session.add(row)
            await session.flush()
            return _operation(row)

        return await self._commit.run(work)

    async def update_operation(
        self, op_id: int, *, phase: str, message: str, state: dict[str, Any]
    ) -> None:
        async def work(session: AsyncSession) -> None:
            await session.execute(
                update(OperationRow)
                .where(OperationRow.id == op_id)
                .values(phase=phase, message=message, state=state)
            )

        await self._commit.run(work)

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
        async def work(session: AsyncSession) -> HistoryRecord | None:
            op = await session.get(OperationRow, op_id)
            if op is None:
                return None
            op.phase, op.message, op.state, op.finished_at = phase, message, state, finished_at
            if history is None:
                return None
            # One read of the app's history (revisionHistoryLimit rows) answers all three:
            # is this operation's entry there already, the next number, what to trim.
            rows = list(
                await session.scalars(
                    select(HistoryRow)
                    .where(HistoryRow.app == op.app)
                    .order_by(HistoryRow.seq.desc())
                )
            )
            existing = next((r for r in rows if r.operation_id == op_id), None)
            if existing is not None:
                return _history(existing)
            row = HistoryRow(
                app=op.app,
                seq=rows[0].seq + 1 if rows else 0,
                operation_id=op_id,
                revision=history.revision,
                deployed_at=history.deployed_at,
                deploy_started_at=history.deploy_started_at,
                initiated_by=history.initiated_by,
                source=history.source,
            )
            session.add(row)
            # Keep the newest ``history_limit`` entries (at least one: this deployment).
            drop = [r.id for r in rows][max(history_limit, 1) - 1 :]
            if drop:
                await session.execute(delete(HistoryRow).where(HistoryRow.id.in_(drop)))
            return _history(row)

        return await self._commit.run(work)

    async def running_operations(self) -> list[OperationRecord]:
        async def work(session: AsyncSession) -> list[OperationRecord]:
            rows = await session.scalars(
                select(OperationRow)
                .where(OperationRow.phase.in_(_UNFINISHED))
                .order_by(OperationRow.id)
            )
            return [_operation(r) for r in rows]

        return await self._commit.run(work)

    async def last_operation(self, app: str) -> OperationRecord | None:
        async def work(session: AsyncSession) -> OperationRecord | None:
            row = await session.scalar(
                select(OperationRow)
                .where(OperationRow.app == app)
                .order_by(OperationRow.id.desc())
                .limit(1)
            )
            return _operation(row) if row is not None else None

        return await self._commit.run(work)

    async def history(self, app: str) -> list[HistoryRecord]:
        async def work(session: AsyncSession) -> list[HistoryRecord]:
            rows = await session.scalars(
                select(HistoryRow).where(HistoryRow.app == app).order_by(HistoryRow.seq)
            )
            return [_history(r) for r in rows]

        return await self._commit.run(work)

    # -- deployments (never trimmed, kept after the app) ------------------------------------

    async def record_deployment(self, deployment: DeploymentInput) -> DeploymentRecord:
        async def work(session: AsyncSession) -> DeploymentRecord:
            return await deployments.record(session, deployment)

        return await self._commit.run(work)

    async def mark_deployment_served(
        self, app: str, revision: str, at: datetime
    ) -> DeploymentRecord | None:
        async def work(session: AsyncSession) -> DeploymentRecord | None:
            return await deployments.mark_served(session, app, revision, at)

        return await self._commit.run(work)

    async def deployments(
        self, *, app: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[DeploymentRecord]:
        async def work(session: AsyncSession) -> list[DeploymentRecord]:
            return await deployments.listing(session, app=app, since=since, limit=limit)

        return await self._commit.run(work)

    # -- the audit trail and health events (``engine.records``) -----------------------------

    async def record_audit(self, entries: list[AuditEntry]) -> None:
        async def work(session: AsyncSession) -> None:
            await audit.record(session, entries)

        await self._commit.run(work)

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        async def work(session: AsyncSession) -> list[AuditEntry]:
            return await audit.listing(session, query)

        return await self._commit.run(work)

    async def prune_audit(self, retention: Retention, now: datetime) -> int:
        async def work(session: AsyncSession) -> int:
            return await audit.prune(session, retention, now)

        return await self._commit.run(work)

    async def record_health(self, event: HealthEvent) -> None:
        async def work(session: AsyncSession) -> None:
            await audit.record_health(session, event)

        await self._commit.run(work)

    async def health_events(
        self, *, app: str | None = None, since: datetime | None = None
    ) -> list[HealthEvent]:
        async def work(session: AsyncSession) -> list[HealthEvent]:
            return await audit.health_listing(session, app=app, since=since)

        return await self._commit.run(work)
