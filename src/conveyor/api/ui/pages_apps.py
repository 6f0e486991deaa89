"""The applications page: a tile per app with its sync and health status, filters, and the
live stream that redraws a tile whenever its app changes.

The page is whole when it arrives; ``/ui/stream/applications`` (server-sent events, through
htmx's SSE extension) then sends the grid once more (nothing is missed between the page and
the stream), and afterwards one ``tile-<name>`` event per changed app, or the grid again when
an app appears, goes, or enters or leaves the filter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from conveyor.api.access import app_object, visible
from conveyor.api.context import ApiContext, Ctx
from conveyor.api.masking import mask_document
from conveyor.api.ui import templating
from conveyor.api.ui.guard import PageCaller
from conveyor.api.ui.sse import changes, event, stream
from conveyor.api.ui.summary import HEALTH_STATUSES, SYNC_STATUSES, Filters, Summary, summarize
from conveyor.store import TokenInfo

router = APIRouter(include_in_schema=False)

Filter = Annotated[str, Query(max_length=253)]


def _filters(q: str, sync: str, health: str, project: str) -> Filters:
    return Filters(q=q.strip(), sync=sync, health=health, project=project)


def _visible_apps(ctx: ApiContext, caller: TokenInfo) -> list[dict[str, Any]]:
    return [
        mask_document(a)
        for a in ctx.controller.applications()
        if visible(caller, "applications", app_object(a))
    ]


def _tiles(apps: list[dict[str, Any]], filters: Filters) -> list[Summary]:
    return sorted((s for s in map(summarize, apps) if filters.keeps(s)), key=lambda s: s.name)


def _grid(tiles: list[Summary], filters: Filters) -> str:
    return templating.render("apps_grid.html", tiles=tiles, filters=filters)


@router.get("/ui/applications")
async def applications(
    ctx: Ctx,
    caller: PageCaller,
    request: Request,
    q: Filter = "",
    sync: Filter = "",
    health: Filter = "",
    project: Filter = "",
) -> Response:
    filters = _filters(q, sync, health, project)
    apps = _visible_apps(ctx, caller)
    return templating.page(
        request,
        "applications.html",
        caller,
        tiles=_tiles(apps, filters),
        total=len(apps),
        filters=filters,
        projects=sorted({summarize(a).project for a in apps}),
        sync_statuses=SYNC_STATUSES,
        health_statuses=HEALTH_STATUSES,
    )


async def _tile_events(ctx: ApiContext, caller: TokenInfo, filters: Filters) -> AsyncIterator[str]:
    with ctx.events.subscribe() as queue:
        shown = _tiles(_visible_apps(ctx, caller), filters)
        names = {s.name for s in shown}
        yield event("tiles", _grid(shown, filters))
        while not ctx.stopping.is_set():
            burst = await changes(queue)
            if burst is None:
                return
            if not burst:
                yield ": keepalive\n\n"
                continue
            regrid = False
            for change in burst:
                app = change.application
                if not visible(caller, "applications", app_object(app)):
                    continue
                summary = summarize(mask_document(app))
                kept = change.type != "DELETED" and filters.keeps(summary)
                if kept and summary.name in names:
                    html = templating.render("tile.html", tile=summary)
                    yield event(f"tile-{summary.name}", html)
                elif kept or summary.name in names:  # appears, goes, or leaves the filter
                    regrid = True
            if regrid:
                gone = {c.application["metadata"]["name"] for c in burst if c.type == "DELETED"}
                shown = [
                    s for s in _tiles(_visible_apps(ctx, caller), filters) if s.name not in gone
                ]
                names = {s.name for s in shown}
                yield event("tiles", _grid(shown, filters))


@router.get("/ui/stream/applications")
async def stream_applications(
    ctx: Ctx,
    caller: PageCaller,
    q: Filter = "",
    sync: Filter = "",
    health: Filter = "",
    project: Filter = "",
) -> StreamingResponse:
    return stream(_tile_events(ctx, caller, _filters(q, sync, health, project)))
