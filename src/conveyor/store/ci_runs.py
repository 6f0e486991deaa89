"""CI runs as the store keeps them: a row per run, the run itself as JSON.

The store sits below ``conveyor.ci`` and cannot import it, so a run arrives as the JSON
``CiRun.to_dict`` makes; the columns the listing filters and sorts on are copied out of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from conveyor.store.db import Database
from conveyor.store.tables import CiRunRow


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CiRunStore:
    """Save (insert or replace) and read CI runs."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(self, run: dict[str, Any]) -> None:
        """Write ``run`` (``CiRun.to_dict()``), replacing the earlier state of the same id."""
        started = _moment(run.get("startedAt")) or datetime.now(UTC)
        async with self._db.sessions() as session, session.begin():
            row = await session.get(CiRunRow, str(run["id"]))
            if row is None:
                row = CiRunRow(id=str(run["id"]), started_at=started)
                session.add(row)
            row.name = str(run.get("name", ""))
            row.repo = str(run.get("repo", ""))
            row.commit = str(run.get("commit", ""))
            row.status = str(run.get("status", ""))
            row.artifact = run.get("artifact") or None
            row.finished_at = _moment(run.get("finishedAt"))
            row.body = dict(run)

    async def get(self, run_id: str) -> dict[str, Any] | None:
        async with self._db.sessions() as session:
            row = await session.get(CiRunRow, run_id)
            return dict(row.body) if row is not None else None

    async def list(self, *, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` runs (of app ``name``), newest first."""
        query = select(CiRunRow)
        if name is not None:
            query = query.where(CiRunRow.name == name)
        query = query.order_by(CiRunRow.started_at.desc(), CiRunRow.id).limit(limit)
        async with self._db.sessions() as session:
            return [dict(row.body) for row in await session.scalars(query)]
