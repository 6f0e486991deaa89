"""Promotions as the store keeps them: one row per ``conveyor promote``, promoted or refused.

The store sits below ``conveyor.ci`` and cannot import it, so a promotion arrives as the JSON
``PromotionRecord.to_dict`` makes (the API's shape) and is handed back in the same shape,
with the row's ``id`` and ``recordedBy`` added.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select

from conveyor.store.db import Database
from conveyor.store.deployments import as_utc
from conveyor.store.tables import PromotionRow


def _moment(text: Any) -> datetime:
    if isinstance(text, datetime):
        return as_utc(text)
    if isinstance(text, str) and text:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    return datetime.now(UTC)


def _to_dict(row: PromotionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "pipeline": row.pipeline,
        "app": row.app,
        "from": row.from_env,
        "to": row.to_env,
        "image": f"{row.image}:{row.tag}" if row.tag else row.image,
        "tag": row.tag,
        "promotedBy": row.promoted_by,
        "recordedBy": row.recorded_by,
        "promotedAt": as_utc(row.promoted_at).isoformat(),
        "outcome": row.outcome,
        "failedGates": [g for g in row.failed_gates.split(",") if g],
        "message": row.message,
        "gates": [dict(g) for g in row.gates],
        "commit": row.commit,
        "branch": row.branch,
        "appCommit": row.app_commit,
    }


class PromotionStore:
    """Add and list promotions (never changed once written: a record, not a state)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, promotion: dict[str, Any], *, recorded_by: str = "") -> dict[str, Any]:
        """Keep ``promotion`` (``PromotionRecord.to_dict()``); the stored record."""
        image = str(promotion.get("image", ""))
        tag = str(promotion.get("tag", ""))
        if tag and image.endswith(f":{tag}"):
            image = image[: -len(tag) - 1]
        gates = [
            {"name": str(g["name"]), "held": bool(g["held"]), "detail": str(g.get("detail", ""))}
            for g in promotion.get("gates") or []
        ]
        row = PromotionRow(
            pipeline=str(promotion.get("pipeline", "")),
            app=str(promotion.get("app", "")),
            from_env=str(promotion.get("from", "")),
            to_env=str(promotion.get("to", "")),
            image=image,
            tag=tag,
            promoted_by=str(promotion.get("promotedBy", "")),
            recorded_by=recorded_by,
            promoted_at=_moment(promotion.get("promotedAt")),
            outcome=str(promotion.get("outcome", "promoted")),
            failed_gates=",".join(str(g) for g in promotion.get("failedGates") or []),
            message=str(promotion.get("message", "")),
            gates=gates,
            commit=str(promotion.get("commit", "")),
            branch=str(promotion.get("branch", "")),
            app_commit=str(promotion.get("appCommit", "")),
        )
        async with self._db.sessions() as session, session.begin():
            session.add(row)
            await session.flush()
            return _to_dict(row)

    async def list(
        self, *, app: str | None = None, env: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` promotions, oldest first; ``app`` matches the target
        Application or the pipeline, ``env`` the environment promoted into."""
        query = select(PromotionRow)
        if app is not None:
            query = query.where(or_(PromotionRow.app == app, PromotionRow.pipeline == app))
        if env is not None:
            query = query.where(PromotionRow.to_env == env)
        query = query.order_by(PromotionRow.promoted_at.desc(), PromotionRow.id.desc())
        async with self._db.sessions() as session:
            rows = list(await session.scalars(query.limit(limit)))
            return [_to_dict(r) for r in reversed(rows)]
