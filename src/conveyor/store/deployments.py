"""The deployment record's queries, run inside ``EngineStore``'s transactions.

Kept apart from ``engine_store`` so that each module has one job; ``EngineStore`` exposes
them as the engine's ``DeploymentRepository`` and serializes them with its other writes. A
record is keyed by its app and operation id together: operation ids of a deleted app can be
given out again, so the newest record of a pair is the one an event speaks about.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from conveyor.engine.events import Destination, Initiator
from conveyor.engine.repository import DeploymentInput, DeploymentRecord
from conveyor.store.tables import DeploymentRow

SUCCEEDED = "Succeeded"


def as_utc(moment: datetime) -> datetime:
    """UTC-aware: what is written and compared (so SQLite's text timestamps order right),
    and what is read back (SQLite hands back naive datetimes, stored as UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def to_record(row: DeploymentRow) -> DeploymentRecord:
    return DeploymentRecord(
        id=row.id,
        operation_id=row.operation_id,
        app=row.app,
        project=row.project,
        destination=Destination(row.dest_server, row.dest_name, row.dest_namespace),
        revision=row.revision,
        app_commit=row.app_commit,
        initiator=Initiator(row.initiator),
        username=row.username,
        phase=row.phase,
        message=row.message,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at) if row.finished_at is not None else None,
        served_at=as_utc(row.served_at) if row.served_at is not None else None,
        app_commit_at=as_utc(row.app_commit_at) if row.app_commit_at is not None else None,
    )


def _newest(app: str, operation_id: int) -> Select[DeploymentRow]:
    return (
        select(DeploymentRow)
        .where(DeploymentRow.app == app, DeploymentRow.operation_id == operation_id)
        .order_by(DeploymentRow.id.desc())
        .limit(1)
    )


async def record(session: AsyncSession, given: DeploymentInput) -> DeploymentRecord:
    """``DeploymentRepository.record_deployment`` in one transaction."""
    given = dataclasses.replace(
        given,
        started_at=as_utc(given.started_at),
        finished_at=as_utc(given.finished_at) if given.finished_at is not None else None,
    )
    row = await session.scalar(_newest(given.app, given.operation_id))
    if row is not None and row.finished_at is None:
        if given.finished_at is None:
            return to_record(row)  # the same start again (a resumed operation)
        row.phase, row.message, row.finished_at = given.phase, given.message, given.finished_at
        row.revision = given.revision or row.revision
        row.app_commit = given.app_commit or row.app_commit
        if given.app_commit_at is not None:
            row.app_commit_at = as_utc(given.app_commit_at)
        await session.flush()
        return to_record(row)
    if (
        row is not None
        and row.finished_at is not None
        and given.finished_at is not None
        and as_utc(row.finished_at) == given.finished_at
    ):
        return to_record(row)  # the same end again
    row = DeploymentRow(
        operation_id=given.operation_id,
        app=given.app,
        project=given.project,
        dest_server=given.destination.server,
        dest_name=given.destination.name,
        dest_namespace=given.destination.namespace,
        revision=given.revision,
        app_commit=given.app_commit or None,
        app_commit_at=as_utc(given.app_commit_at) if given.app_commit_at is not None else None,
        initiator=str(given.initiator),
        username=given.username,
        phase=given.phase,
        message=given.message,
        started_at=given.started_at,
        finished_at=given.finished_at,
        served_at=None,
    )
    session.add(row)
    await session.flush()
    return to_record(row)


async def mark_served(
    session: AsyncSession, app: str, revision: str, at: datetime
) -> DeploymentRecord | None:
    """``DeploymentRepository.mark_deployment_served`` in one transaction."""
    latest = await session.scalar(
        select(DeploymentRow)
        .where(DeploymentRow.app == app, DeploymentRow.phase == SUCCEEDED)
        .order_by(DeploymentRow.id.desc())
        .limit(1)
    )
    if latest is None or latest.served_at is not None or latest.revision != revision:
        return None
    latest.served_at = as_utc(at)
    await session.flush()
    return to_record(latest)


async def listing(
    session: AsyncSession, *, app: str | None, since: datetime | None, limit: int | None
) -> list[DeploymentRecord]:
    """``DeploymentRepository.deployments``: the newest ``limit`` matches, oldest first."""
    query = select(DeploymentRow)
    if app is not None:
        query = query.where(DeploymentRow.app == app)
    if since is not None:
        query = query.where(DeploymentRow.started_at >= as_utc(since))
    query = query.order_by(DeploymentRow.started_at.desc(), DeploymentRow.id.desc())
    if limit is not None:
        query = query.limit(limit)
    rows = list(await session.scalars(query))
    return [to_record(r) for r in reversed(rows)]
