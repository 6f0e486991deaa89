"""``/api/v1/artifacts``: what the artifact store holds (``conveyor artifact build`` fills it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/artifacts", tags=["artifacts"], responses=ERROR_RESPONSES)


@router.get("", summary="List artifacts, by name and then by age")
async def list_artifacts(
    ctx: Ctx,
    name: Annotated[str | None, Query(max_length=128, description="Only this name.")] = None,
) -> dict[str, Any]:
    items = [a.to_dict() for a in ctx.artifacts.list() if name is None or a.name == name]
    return {"items": items}
