"""The audit trail's and the health events' queries, run inside ``EngineStore``'s transactions.

Kept apart from ``engine_store`` (one job per module); ``EngineStore`` exposes them as the
engine's ``RecordRepository``, so audit rows share the group-committed transactions of the
operations and deployments written at the same moment. Rows are only ever inserted; the
retention deletes the oldest, by age and by count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.engine.records import AuditEntry, AuditQuery, HealthEvent, Retention
from conveyor.store.deployments import as_utc
from conveyor.store.tables import AuditRow, HealthEventRow


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=as_utc(row.at),
        actor=row.actor,
        action=row.action,
        target_kind=row.target_kind,
        target=row.target,
        app=row.app,
        project=row.project,
        source=row.source,
        revision_before=row.revision_before,
        revision_after=row.revision_after,
        outcome=row.outcome,
        detail=row.detail,
    )


async def record(session: AsyncSession, entries: list[AuditEntry]) -> None:
    session.add_all(
        AuditRow(
            at=as_utc(e.at),
            actor=e.actor,
            action=e.action,
            target_kind=e.target_kind,
            target=e.target,
            app=e.app,
            project=e.project,
            source=e.source,
            revision_before=e.revision_before,
            revision_after=e.revision_after,
            outcome=e.outcome,
            detail=e.detail,
        )
        for e in entries
    )
    await session.flush()


async def listing(session: AsyncSession, query: AuditQuery) -> list[AuditEntry]:
    stmt = select(AuditRow)
    if query.actor is not None:
        stmt = stmt.where(AuditRow.actor == query.actor)
    if query.app is not None:
        stmt = stmt.where(AuditRow.app == query.app)
    if query.action is not None:
        stmt = stmt.where(AuditRow.action == query.action)
    if query.since is not None:
        stmt = stmt.where(AuditRow.at >= as_utc(query.since))
    if query.until is not None:
        stmt = stmt.where(AuditRow.at < as_utc(query.until))
    stmt = stmt.order_by(AuditRow.id.desc()).limit(query.limit)
    rows = list(await session.scalars(stmt))
    return [_entry(r) for r in reversed(rows)]


async def prune(session: AsyncSession, retention: Retention, now: datetime) -> int:
    gone = 0
    if retention.max_age is not None:
        result = await session.execute(
            delete(AuditRow).where(AuditRow.at < as_utc(now - retention.max_age))
        )
        gone += int(getattr(result, "rowcount", 0) or 0)
    if retention.max_rows is not None:
        newest = await session.scalar(select(func.max(AuditRow.id)))
        if newest is not None:
            result = await session.execute(
                delete(AuditRow).where(AuditRow.id <= newest - retention.max_rows)
            )
            gone += int(getattr(result, "rowcount", 0) or 0)
    return gone


async def record_health(session: AsyncSession, event: HealthEvent) -> None:
    session.add(
        HealthEventRow(
            app=event.app, health=event.health, revision=event.revision, at=as_utc(event.at)
        )
    )
    await session.flush()


async def health_listing(
    session: AsyncSession, *, app: str | None, since: datetime | None
) -> list[HealthEvent]:
    stmt = select(HealthEventRow)
    if app is not None:
        stmt = stmt.where(HealthEventRow.app == app)
    if since is not None:
        stmt = stmt.where(HealthEventRow.at >= as_utc(since))
    rows = await session.scalars(stmt.order_by(HealthEventRow.at, HealthEventRow.id))
    return [HealthEvent(r.app, r.health, r.revision, as_utc(r.at)) for r in rows]
