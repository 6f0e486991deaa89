"""``/api/v1/deployments``: every deployment, kept for good (DORA figures, notifications, UI).

Unlike an app's history (trimmed to revisionHistoryLimit, gone with the app), the deployment
record keeps each sync that was not a dry run, with who started it and when it began serving
(``servedAt``: the first moment the app was Healthy and Synced at that revision).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import DNS_SUBDOMAIN
from conveyor.errors import ValidationError

router = APIRouter(prefix="/api/v1/deployments", tags=["deployments"], responses=ERROR_RESPONSES)

LIMIT_MAX = 10_000


@router.get("", summary="Deployments, oldest first (the newest `limit` that match)")
async def list_deployments(
    ctx: Ctx,
    app: Annotated[
        str | None,
        Query(
            pattern=DNS_SUBDOMAIN,
            max_length=253,
            description="Only this app's deployments (deleted apps' too).",
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        Query(description="Only those started at or after this RFC 3339 time (UTC if no offset)."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=LIMIT_MAX, description="At most this many, the newest.")
    ] = 1000,
) -> dict[str, Any]:
    if since is not None:
        try:
            since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        except OverflowError as err:
            raise ValidationError(f"since {since.isoformat()} is out of range") from err
    records = await ctx.controller.repo.deployments(app=app, since=since, limit=limit)
    return {"items": [r.to_dict() for r in records]}
