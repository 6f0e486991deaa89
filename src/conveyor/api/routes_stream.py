"""``GET /api/v1/stream/applications``: application changes as server-sent events.

Each event is one ``data:`` line holding Argo CD's watch event,
``{"result": {"type": "ADDED|MODIFIED|DELETED", "application": {...}}}``; the stream opens
with ADDED for every current app (so a client needs no separate list), then sends changes
as they happen, and a comment line every 15 s keeps proxies from closing an idle stream.
It ends when the client goes away, falls too far behind, or the server stops.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from conveyor.api.access import app_object, visible
from conveyor.api.auth import Caller
from conveyor.api.context import ApiContext, Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.events import CLOSED, AppEvent
from conveyor.api.masking import mask_document
from conveyor.api.schemas import DNS_SUBDOMAIN
from conveyor.store import TokenInfo

router = APIRouter(prefix="/api/v1/stream", tags=["stream"], responses=ERROR_RESPONSES)

KEEPALIVE = 15.0


def _frame(event: AppEvent) -> str:
    doc = mask_document(event.to_dict())
    return f"data: {json.dumps(doc, default=str, separators=(',', ':'))}\n\n"


def _wanted(
    event: AppEvent, names: set[str], projects: set[str], caller: TokenInfo | None = None
) -> bool:
    app: dict[str, Any] = event.application
    if caller is not None and not visible(caller, "applications", app_object(app)):
        return False
    name = (app.get("metadata") or {}).get("name")
    project = (app.get("spec") or {}).get("project") or "default"
    return (not names or name in names) and (not projects or project in projects)


async def _events(
    ctx: ApiContext, names: set[str], projects: set[str], caller: TokenInfo
) -> AsyncIterator[str]:
    with ctx.events.subscribe() as queue:
        for app in ctx.controller.applications():
            event = AppEvent("ADDED", app)
            if _wanted(event, names, projects, caller):
                yield _frame(event)
        while not ctx.stopping.is_set():
            try:
                async with asyncio.timeout(KEEPALIVE):
                    event = await queue.get()
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if event is CLOSED:  # dropped, or the server is stopping
                return
            if _wanted(event, names, projects, caller):
                yield _frame(event)


@router.get(
    "/applications",
    summary="Application changes as server-sent events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream_applications(
    ctx: Ctx,
    caller: Caller,
    name: Annotated[
        list[Annotated[str, Query(max_length=253, pattern=DNS_SUBDOMAIN)]] | None,
        Query(description="Only these apps."),
    ] = None,
    projects: Annotated[
        list[Annotated[str, Query(max_length=253, pattern=DNS_SUBDOMAIN)]] | None,
        Query(description="Only apps of these projects."),
    ] = None,
) -> StreamingResponse:
    return StreamingResponse(
        _events(ctx, set(name or ()), set(projects or ()), caller),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
